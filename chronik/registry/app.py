"""Confluent Schema Registry's REST API v1 as a framework-free application object.

    status, headers, body = RegistryApp(registry).handle(method, path, query, headers, body)

Pure and non-blocking: no sockets, no waits — it runs on the broker's
selectors loop. The only I/O is the `_schemas` append through the core's
pipeline (the same write a produce does) and, for a new `.proto` text,
protoc's temporary files.

How it is mounted (chronik.http.app): the broker's sans-IO HTTP layer (chronik.http, h11 in
the selectors loop) hands every request whose first path segment the
registry owns (`subjects`, `schemas`, `config`, `mode`, `compatibility`) to
`core.registry_app.handle` — on the admin port, and for every path on
`--schema-registry-port` (default 8081). chronik.http's Router matches
exact paths, so it needs a prefix fallback; the handler is then

    def registry(req, respond):
        status, headers, body = core.registry_app.handle(
            req.method, req.path, req.query, dict(req.headers), req.body)
        respond(Response(status, body, headers["Content-Type"]))

`path` is the request path without the query string and without any mount
prefix; `query` is `parse_qs(query_string, keep_blank_values=True)` (what
chronik.http's Request.query holds); `headers` keys are lower-case.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from chronik.registry import errors, schemas
from chronik.registry.errors import RegistryError
from chronik.registry.store import SchemaRegistry, StoredSchema

log = logging.getLogger("chronik.registry")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_BODY = 16 << 20
_ACCEPTED_TYPES = ("application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json",
                   "application/json", "application/octet-stream", "")

Response = tuple[int, dict[str, str], bytes]


def _flag(query: dict[str, list[str]], name: str) -> bool:
    vals = query.get(name)
    return bool(vals) and vals[-1].lower() in ("true", "1", "")


def _one(query: dict[str, list[str]], name: str) -> str | None:
    vals = query.get(name)
    return vals[-1] if vals else None


class RegistryApp:
    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._routes: list[tuple[str, tuple[str, ...], Callable[..., Any]]] = [
            ("GET", (), self.root),
            ("GET", ("schemas", "types"), self.schema_types),
            ("GET", ("schemas",), self.list_schemas),
            ("GET", ("schemas", "ids", "*"), self.schema_by_id),
            ("GET", ("schemas", "ids", "*", "schema"), self.schema_text_by_id),
            ("GET", ("schemas", "ids", "*", "subjects"), self.subjects_by_id),
            ("GET", ("schemas", "ids", "*", "versions"), self.versions_by_id),
            ("GET", ("subjects",), self.list_subjects),
            ("GET", ("subjects", "*", "versions"), self.list_versions),
            ("GET", ("subjects", "*", "versions", "*"), self.get_version),
            ("GET", ("subjects", "*", "versions", "*", "schema"), self.get_version_schema),
            ("GET", ("subjects", "*", "versions", "*", "referencedby"), self.referenced_by),
            ("POST", ("subjects", "*", "versions"), self.register),
            ("POST", ("subjects", "*"), self.lookup),
            ("DELETE", ("subjects", "*"), self.delete_subject),
            ("DELETE", ("subjects", "*", "versions", "*"), self.delete_version),
            ("POST", ("compatibility", "subjects", "*", "versions", "*"), self.compatibility),
            ("POST", ("compatibility", "subjects", "*", "versions"), self.compatibility_all),
            ("GET", ("config",), self.get_config),
            ("PUT", ("config",), self.put_config),
            ("DELETE", ("config",), self.delete_config),
            ("GET", ("config", "*"), self.get_config),
            ("PUT", ("config", "*"), self.put_config),
            ("DELETE", ("config", "*"), self.delete_config),
            ("GET", ("mode",), self.get_mode),
            ("PUT", ("mode",), self.put_mode),
            ("GET", ("mode", "*"), self.get_mode),
            ("PUT", ("mode", "*"), self.put_mode),
            ("DELETE", ("mode", "*"), self.delete_mode),
        ]

    # -- the entry point ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> Response:
        try:
            return self._handle(method.upper(), path, query, headers, body)
        except RegistryError as exc:
            return self._json(exc.status, {"error_code": exc.code, "message": exc.message})
        except Exception:  # our bug: Confluent's 50001-style answer, the loop goes on
            log.exception("schema registry: %s %s failed", method, path)
            return self._json(500, {"error_code": 50001, "message": "Internal Server Error"})

    def _handle(self, method: str, path: str, query, headers, body: bytes) -> Response:
        parts = tuple(unquote(p) for p in path.strip("/").split("/") if p)
        allowed = []
        for m, pattern, fn in self._routes:
            if len(pattern) != len(parts) or any(p != "*" and p != s for p, s in zip(pattern, parts, strict=True)):
                continue
            if m != method:
                allowed.append(m)
                continue
            args = [s for p, s in zip(pattern, parts, strict=True) if p == "*"]
            if method in ("POST", "PUT"):
                payload = self._body(headers, body)
                result = fn(*args, query=query, body=payload)
            else:
                result = fn(*args, query=query)
            if isinstance(result, tuple):
                return result
            return self._json(200, result)
        if allowed:
            return self._json(405, {"error_code": 405, "message": "HTTP 405 Method Not Allowed"})
        return self._json(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

    @staticmethod
    def _body(headers: dict[str, str], body: bytes) -> Any:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in _ACCEPTED_TYPES:
            raise RegistryError(415, 415, "HTTP 415 Unsupported Media Type")
        if len(body) > MAX_BODY:
            raise RegistryError(413, 413, "HTTP 413 Request Entity Too Large")
        if not body:
            return {}
        try:
            return json.loads(body)
        except ValueError as exc:
            raise RegistryError(400, 400, f"Unrecognized field or malformed JSON: {exc}") from None

    @staticmethod
    def _json(status: int, obj: Any) -> Response:
        return status, {"Content-Type": CONTENT_TYPE}, json.dumps(obj, separators=(",", ":")).encode()

    @staticmethod
    def _raw(text: str) -> Response:
        return 200, {"Content-Type": CONTENT_TYPE}, text.encode()

    # -- /schemas -------------------------------------------------------------------------------------
    def root(self, query) -> Any:
        return {}

    def schema_types(self, query) -> Any:
        return list(schemas.SCHEMA_TYPES)

    def _by_id(self, raw_id: str) -> StoredSchema:
        try:
            sid = int(raw_id)
        except ValueError:
            raise RegistryError(404, 40403, "Schema not found") from None
        s = self.registry.by_id.get(sid)
        if s is None:
            raise errors.schema_not_found(f"Schema {sid} not found")
        return s

    def _formatted(self, s: StoredSchema, fmt: str | None) -> str:
        if fmt == "serialized" and s.schema_type == schemas.PROTOBUF:
            return schemas.serialized(self.registry.parsed(s))
        return s.text

    def schema_by_id(self, raw_id: str, query) -> Any:
        s = self._by_id(raw_id)
        subject = _one(query, "subject")
        if subject and not any(v.schema.id == s.id for v in self.registry.versions(subject, True)):
            raise errors.schema_not_found(f"Schema {s.id} not found")
        out = s.to_json()
        out["schema"] = self._formatted(s, _one(query, "format"))
        if _flag(query, "fetchMaxId"):
            out["maxId"] = max(self.registry.by_id, default=0)
        return out

    def schema_text_by_id(self, raw_id: str, query) -> Any:
        s = self._by_id(raw_id)
        return self._raw(self._formatted(s, _one(query, "format")))

    def subjects_by_id(self, raw_id: str, query) -> Any:
        s = self._by_id(raw_id)
        deleted = _flag(query, "deleted")
        return sorted({v.subject for vs in self.registry.subjects.values() for v in vs.values()
                       if v.schema.id == s.id and (deleted or not v.deleted)})

    def versions_by_id(self, raw_id: str, query) -> Any:
        s = self._by_id(raw_id)
        deleted = _flag(query, "deleted")
        return [{"subject": v.subject, "version": v.version}
                for name in sorted(self.registry.subjects) for v in self.registry.versions(name, deleted)
                if v.schema.id == s.id]

    def list_schemas(self, query) -> Any:
        prefix = _one(query, "subjectPrefix") or ""
        deleted = _flag(query, "deleted")
        latest = _flag(query, "latestOnly")
        out = []
        for name in sorted(self.registry.subjects):
            if not name.startswith(prefix):
                continue
            vs = self.registry.versions(name, deleted)
            out += [v.to_json() for v in (vs[-1:] if latest else vs)]
        return out

    # -- /subjects ----------------------------------------------------------------------------------
    def list_subjects(self, query) -> Any:
        prefix = _one(query, "subjectPrefix") or ""
        deleted = _flag(query, "deleted")
        deleted_only = _flag(query, "deletedOnly")
        reg = self.registry
        out = []
        for name in sorted(reg.subjects):
            if not name.startswith(prefix):
                continue
            live = reg.subject_exists(name)
            if deleted_only:
                if not live:
                    out.append(name)
            elif live or deleted:
                out.append(name)
        return out

    def list_versions(self, subject: str, query) -> Any:
        deleted = _flag(query, "deleted") or _flag(query, "deletedOnly")
        vs = self.registry.versions(subject, deleted)
        if _flag(query, "deletedOnly"):
            vs = [v for v in vs if v.deleted]
        if not vs and not self.registry.subject_exists(subject, deleted=True):
            raise errors.subject_not_found(subject)
        if not vs and not deleted:
            raise errors.subject_not_found(subject)
        return [v.version for v in vs]

    def get_version(self, subject: str, version: str, query) -> Any:
        v = self.registry.get_version(subject, version, _flag(query, "deleted"))
        out = v.to_json()
        out["schema"] = self._formatted(v.schema, _one(query, "format"))
        return out

    def get_version_schema(self, subject: str, version: str, query) -> Any:
        v = self.registry.get_version(subject, version, _flag(query, "deleted"))
        return self._raw(self._formatted(v.schema, _one(query, "format")))

    def referenced_by(self, subject: str, version: str, query) -> Any:
        v = self.registry.get_version(subject, version, True)
        return self.registry.referenced_by(subject, v.version)

    def register(self, subject: str, query, body) -> Any:
        s = self.registry.register(subject, body)
        return {"id": s.id}

    def lookup(self, subject: str, query, body) -> Any:
        v = self.registry.lookup(subject, body, _flag(query, "deleted"))
        return v.to_json()

    def delete_subject(self, subject: str, query) -> Any:
        return self.registry.delete_subject(subject, _flag(query, "permanent"))

    def delete_version(self, subject: str, version: str, query) -> Any:
        return self.registry.delete_version(subject, version, _flag(query, "permanent"))

    # -- /compatibility --------------------------------------------------------------------------------
    def _compat_answer(self, messages: list[str], query) -> Any:
        out: dict[str, Any] = {"is_compatible": not messages}
        if _flag(query, "verbose"):
            out["messages"] = messages
        return out

    def compatibility(self, subject: str, version: str, query, body) -> Any:
        return self._compat_answer(self.registry.check_compatibility(subject, version, body), query)

    def compatibility_all(self, subject: str, query, body) -> Any:
        return self._compat_answer(self.registry.check_compatibility(subject, None, body), query)

    # -- /config and /mode ----------------------------------------------------------------------------
    def get_config(self, subject: str | None = None, *, query) -> Any:
        reg = self.registry
        if subject is not None and subject not in reg.configs and not _flag(query, "defaultToGlobal"):
            raise errors.subject_config_not_found(subject)
        return {"compatibilityLevel": reg.level(subject)}

    def put_config(self, subject: str | None = None, *, query, body) -> Any:
        if not isinstance(body, dict):
            raise errors.invalid_compatibility_level(body)
        return {"compatibility": self.registry.set_config(subject, body.get("compatibility"))}

    def delete_config(self, subject: str | None = None, *, query) -> Any:
        return {"compatibilityLevel": self.registry.delete_config(subject)}

    def get_mode(self, subject: str | None = None, *, query) -> Any:
        reg = self.registry
        if subject is not None and subject not in reg.modes and not _flag(query, "defaultToGlobal"):
            raise errors.subject_mode_not_found(subject)
        return {"mode": reg.mode(subject)}

    def put_mode(self, subject: str | None = None, *, query, body) -> Any:
        if not isinstance(body, dict):
            raise errors.invalid_mode(body)
        return {"mode": self.registry.set_mode(subject, body.get("mode"), _flag(query, "force"))}

    def delete_mode(self, subject: str, query) -> Any:
        return {"mode": self.registry.delete_mode(subject)}
