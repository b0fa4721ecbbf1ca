"""The answer to a request the broker failed to handle: Kafka's getErrorResponse.

When a handler raises (our bug, not the client's), Kafka answers the request
with UNKNOWN_SERVER_ERROR in every error field, mirroring the request's
topics and partitions so the client can match the answer, and keeps the
connection. This builds that response for any API from kafka-python's
schemas: every field takes its default, every `error_code` gets the code,
and an array of the response is filled from the request array it answers
(same name, or the one struct array the request has at that level), copying
the identifying fields (names, indexes, ids) across.
"""

from __future__ import annotations

from typing import Any

# Response field -> request fields that carry the same identity.
_SAME = {
    "name": ("name", "topic"),
    "topic": ("topic", "name"),
    "topic_id": ("topic_id",),
    "index": ("index", "partition_index", "partition"),
    "partition_index": ("partition_index", "partition", "index"),
    "partition": ("partition", "partition_index", "index"),
    "group_id": ("group_id", "group", "key"),
    "transactional_id": ("transactional_id",),
    "resource_type": ("resource_type",),
    "resource_name": ("resource_name",),
    "member_id": ("member_id",),
    "group_instance_id": ("group_instance_id",),
    "key": ("key",),
}
# Response arrays that answer a request array of another name.
_ANSWERS = {
    "responses": ("topic_data", "topics", "resources", "groups"),
    "partition_responses": ("partition_data", "partitions"),
    "results": ("topics", "resources", "transactions", "groups"),
}


def build_error_response(response_cls: Any, request: Any, version: int, code: int,
                         message: str = "Unexpected server error") -> Any:
    resp = response_cls(version=version)
    _fill(resp, request, version, code, message)
    return resp


def _fields(obj: Any, version: int) -> list[tuple[str, Any]]:
    return [(name, f) for name, f in obj._struct.fields.items() if f.for_version_q(version)]


def _fill(obj: Any, src: Any, version: int, code: int, message: str = "Unexpected server error") -> None:
    src_arrays = {}
    if src is not None and getattr(src, "_struct", None) is not None:
        src_arrays = {name: f for name, f in _fields(src, version) if f.is_struct_array()}
    for name, field in _fields(obj, version):
        if name == "error_code":
            setattr(obj, name, code)
        elif name == "error_message":
            setattr(obj, name, message)
        elif field.is_struct_array():
            setattr(obj, name, _mirror(field, _source_array(name, src, src_arrays), version, code, message))
        elif field.is_struct():
            sub = field.data_class(version=version)
            _fill(sub, None, version, code, message)
            setattr(obj, name, sub)
        elif src is not None and name in _SAME:
            for candidate in _SAME[name]:
                value = getattr(src, candidate, None)
                current = getattr(obj, name, None)
                if value is not None and (current is None or type(value) is type(current)):
                    setattr(obj, name, value)
                    break


def _source_array(name: str, src: Any, src_arrays: dict[str, Any]) -> list:
    if src is None:
        return []
    for candidate in (name, *_ANSWERS.get(name, ())):
        if candidate in src_arrays:
            return getattr(src, candidate, None) or []
    if len(src_arrays) == 1:
        return getattr(src, next(iter(src_arrays)), None) or []
    return []


def _mirror(field: Any, items: list, version: int, code: int, message: str) -> list:
    out = []
    for item in items:
        elem = field.data_class(version=version)
        _fill(elem, item, version, code, message)
        out.append(elem)
    return out
