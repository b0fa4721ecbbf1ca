"""The three schema types: parse, check and canonicalise with real parsers.

AVRO      fastavro.parse_schema (named types of references first)
JSON      the JSON Schema draft named by `$schema` (draft-07 when absent), via jsonschema's meta-schemas
PROTOBUF  `.proto` text compiled in-process by grpcio-tools' protoc into a FileDescriptorProto; or a
          base64 FileDescriptorProto (what confluent-kafka's ProtobufSerializer registers), checked by
          loading it into a protobuf DescriptorPool with its references

A parsed schema keeps the string the registry stores and serves (`text`,
compact JSON for Avro and JSON Schema; for Protobuf, as Confluent, the
descriptor rendered back to canonical `.proto` text — chronik.registry.
proto_text — so a schema registered as text and as a base64 descriptor gets
one id) and the parsed object the compatibility checks walk (`obj`).

protoc writes into a private temporary directory (on the loop, a few ms per
new schema; parses are cached by content).
"""

from __future__ import annotations

import base64
import binascii
import copy
import importlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from chronik.registry.errors import RegistryError, invalid_schema

AVRO, JSON, PROTOBUF = "AVRO", "JSON", "PROTOBUF"
SCHEMA_TYPES = (JSON, PROTOBUF, AVRO)  # the order Confluent's /schemas/types lists them


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


@dataclass(slots=True)
class ParsedSchema:
    schema_type: str
    text: str
    obj: Any
    references: tuple[Reference, ...] = ()
    # Avro: every named type visible to this schema (its references' too), full name -> schema.
    named: dict[str, Any] = field(default_factory=dict)
    # Protobuf: the FileDescriptorProtos of the dependencies (references and well-known types).
    deps: tuple[Any, ...] = ()

    @property
    def identity(self) -> tuple:
        """Two registrations of the same identity get the same id (type, text, references)."""
        return (self.schema_type, self.text, self.references)


def parse(schema_type: str | None, text: Any, refs: list[tuple[Reference, ParsedSchema]] = ()) -> ParsedSchema:
    """Parse `text` as `schema_type` (AVRO when None); RegistryError 42201 when it is not valid."""
    if schema_type is not None and not isinstance(schema_type, str):
        raise RegistryError(422, 42201, f"Invalid schema: unknown schema type {schema_type!r}")
    st = (schema_type or AVRO).upper()
    if not isinstance(text, str):
        raise invalid_schema("schema must be a string")
    for ref, p in refs:
        if p.schema_type != st:
            raise invalid_schema(f"details: reference {ref.name!r} ({ref.subject} version {ref.version}) is "
                                 f"a {p.schema_type} schema, not {st}")
    if st == AVRO:
        return _parse_avro(text, refs)
    if st == JSON:
        return _parse_json(text, refs)
    if st == PROTOBUF:
        return _parse_protobuf(text, refs)
    raise RegistryError(422, 42201, f"Invalid schema: unknown schema type {schema_type!r}")


# -- Avro ----------------------------------------------------------------------------------------------
def _parse_avro(text: str, refs) -> ParsedSchema:
    import fastavro
    from fastavro.schema import SchemaParseException, UnknownType

    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise invalid_schema(f"{text[:200]}, details: Invalid JSON: {exc}") from None
    named: dict[str, Any] = {}
    for _, ref in refs:
        named.update(ref.named)
    try:
        parsed = fastavro.parse_schema(copy.deepcopy(raw), named_schemas=named, _write_hint=False)
    except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise invalid_schema(f"{text[:200]}, details: {exc}") from None
    return ParsedSchema(AVRO, json.dumps(raw, separators=(",", ":")), parsed,
                        tuple(r for r, _ in refs), named)


# -- JSON Schema ---------------------------------------------------------------------------------------
def _parse_json(text: str, refs) -> ParsedSchema:
    from jsonschema import exceptions, validators

    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise invalid_schema(f"{text[:200]}, details: Invalid JSON: {exc}") from None
    if not isinstance(raw, dict | bool):
        raise invalid_schema(f"{text[:200]}, details: a JSON schema is an object or a boolean")
    cls = validators.validator_for(raw, default=validators.Draft7Validator) if isinstance(raw, dict) else \
        validators.Draft7Validator
    try:
        cls.check_schema(raw)
    except exceptions.SchemaError as exc:
        raise invalid_schema(f"{text[:200]}, details: {exc.message}") from None
    named = {r.name: p.obj for r, p in refs}
    return ParsedSchema(JSON, json.dumps(raw, separators=(",", ":")), raw, tuple(r for r, _ in refs), named)


# -- Protobuf ------------------------------------------------------------------------------------------
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n\r")


def _parse_protobuf(text: str, refs) -> ParsedSchema:
    deps: dict[str, Any] = {}
    for ref, p in refs:
        for d in p.deps:
            deps.setdefault(d.name, d)
        main = copy.deepcopy(p.obj)
        main.name = ref.name
        deps[ref.name] = main
    stripped = text.strip()
    deps_key = tuple(sorted((n, d.SerializeToString()) for n, d in deps.items()))
    if stripped and set(stripped.encode()) <= _B64:
        fdp = _from_serialized(stripped, deps)
        stored = stripped
    else:
        fdp = _compile(text, deps_key)
        stored = text
    for name in fdp.dependency:
        if name not in deps:
            deps[name] = _well_known(name)
    # Confluent's canonical form: the descriptor rendered as .proto text (one id for text and base64 forms)
    canonical = _canonical(fdp.SerializeToString(), deps_key)
    return ParsedSchema(PROTOBUF, canonical or stored, fdp, tuple(r for r, _ in refs), {}, tuple(deps.values()))


@lru_cache(maxsize=512)
def _canonical(fdp_bytes: bytes, deps_key: tuple[tuple[str, bytes], ...]) -> str | None:
    """The rendered .proto text, if protoc compiles it back to the same descriptor; else None."""
    from google.protobuf import descriptor_pb2

    from chronik.registry.proto_text import Unrenderable, render, same_descriptor

    fdp = descriptor_pb2.FileDescriptorProto.FromString(fdp_bytes)
    try:
        text = render(fdp)
        again = _compile(text, deps_key)
    except (Unrenderable, RegistryError, KeyError, ValueError):
        return None
    return text if same_descriptor(fdp, again) else None


def _well_known(name: str):
    """The FileDescriptorProto of a google/protobuf/*.proto import (never needs a reference)."""
    from google.protobuf import descriptor_pb2

    if not name.startswith("google/protobuf/"):
        raise invalid_schema(f"import {name!r} has no schema reference")
    try:
        mod = importlib.import_module("google.protobuf." + name[len("google/protobuf/"):-len(".proto")] + "_pb2")
    except ImportError:
        raise invalid_schema(f"import {name!r} has no schema reference") from None
    out = descriptor_pb2.FileDescriptorProto()
    mod.DESCRIPTOR.CopyToProto(out)
    return out


def _from_serialized(text: str, deps: dict[str, Any]):
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf.message import DecodeError

    try:
        fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(text, validate=False))
    except (binascii.Error, DecodeError, ValueError) as exc:
        raise invalid_schema(f"{text[:200]}, details: not a serialized FileDescriptorProto: {exc}") from None
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(f) -> None:
        if f.name in added:
            return
        for d in f.dependency:
            add(deps[d] if d in deps else _well_known(d))
        pool.Add(f)
        added.add(f.name)

    try:
        for d in fdp.dependency:
            add(deps[d] if d in deps else _well_known(d))
        pool.Add(fdp)
        pool.FindFileByName(fdp.name)
    except RegistryError:
        raise
    except Exception as exc:  # the pool's TypeError/KeyError/ValueError name the problem
        raise invalid_schema(f"details: {exc}") from None
    return fdp


def _compile(text: str, deps: tuple[tuple[str, bytes], ...]):
    """Compile .proto text with protoc (in-process); the main file's FileDescriptorProto (a fresh copy)."""
    from google.protobuf import descriptor_pb2

    return descriptor_pb2.FileDescriptorProto.FromString(_compile_cached(text, deps))


@lru_cache(maxsize=512)
def _compile_cached(text: str, deps: tuple[tuple[str, bytes], ...]) -> bytes:
    import grpc_tools
    from google.protobuf import descriptor_pb2
    from grpc_tools import _protoc_compiler as protoc

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    with tempfile.TemporaryDirectory(prefix="chronik-proto-") as tmp:
        src = os.path.join(tmp, "src")
        os.mkdir(src)
        main = "schema.proto"
        while main in dict(deps):
            main = "_" + main
        with open(os.path.join(src, main), "w", encoding="utf-8") as f:
            f.write(text)
        args = [b"protoc", b"-I" + src.encode(), b"-I" + include.encode()]
        if deps:
            fds = descriptor_pb2.FileDescriptorSet()
            for _, d in deps:
                fds.file.add().MergeFromString(d)
            with open(os.path.join(tmp, "deps.pb"), "wb") as f:
                f.write(fds.SerializeToString())
            args.append(b"--descriptor_set_in=" + os.path.join(tmp, "deps.pb").encode())
        out = os.path.join(tmp, "out.pb")
        args += [b"--descriptor_set_out=" + out.encode(), main.encode()]
        if protoc.run_main(args) != 0 or not os.path.exists(out):
            # run_main prints its errors on fd 2; get_protos raises them as ProtocErrors (line, column, text).
            detail = "protoc could not compile the schema"
            try:
                protoc.get_protos(main.encode(), [src.encode(), include.encode()])
            except protoc.ProtocErrors as exc:
                detail = "; ".join(f"{e.line}:{e.column}: {e.message.decode(errors='replace')}"
                                   for e in exc.errors())
            except Exception:
                pass
            raise invalid_schema(f"details: {detail}")
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    for fdp in fds.file:
        if fdp.name == main:
            return fdp.SerializeToString()
    raise invalid_schema("details: protoc produced no descriptor")


def serialized(p: ParsedSchema) -> str:
    """A Protobuf schema as base64 FileDescriptorProto (`?format=serialized`)."""
    return base64.b64encode(p.obj.SerializeToString()).decode("ascii")
