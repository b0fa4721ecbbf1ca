"""`chronik schemas ...`: a client of the Confluent Schema Registry REST API.

Works against Chronik's built-in registry and against Confluent's own
(`--registry URL`, env CHRONIK_REGISTRY, default http://127.0.0.1:8081):

    chronik schemas list [--prefix P] [--deleted]
    chronik schemas get SUBJECT [-v VERSION] | --id N
    chronik schemas register SUBJECT FILE [--type T] [--ref NAME=SUBJECT:VERSION]
    chronik schemas check SUBJECT FILE [-v VERSION] [--type T]    exit 1 when incompatible
    chronik schemas delete SUBJECT [-v VERSION] [--permanent]
    chronik schemas config [SUBJECT] [--set LEVEL | --delete]
    chronik schemas mode [SUBJECT] [--set MODE | --delete]

It also holds the registry framing used by `chronik consume --key-format/
--value-format` (decode to JSON) and `chronik produce --value-schema/
--value-schema-id` (encode JSON lines): magic byte 0, the schema id as a
big-endian int32, for Protobuf the message indexes, then the payload.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from chronik.cli import app
from chronik.cli.state import CliError, UsageError

DEFAULT_REGISTRY = "http://127.0.0.1:8081"
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
FORMATS = ("avro", "json-schema", "protobuf")
_EXT_TYPES = {".avsc": "AVRO", ".avro": "AVRO", ".json": "JSON", ".proto": "PROTOBUF"}

schemas_app = typer.Typer(help="Schema registry: subjects, versions, compatibility, configs, modes.",
                          no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")

RegistryOpt = Annotated[str, typer.Option("--registry", envvar="CHRONIK_REGISTRY",
                                          help="Schema registry URL.")]


# -- the HTTP client ---------------------------------------------------------------------------------------
class RegistryClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._cache: dict[tuple, Any] = {}

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        q = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items() if v is not None}
        url = self.url + path + ("?" + urllib.parse.urlencode(q) if q else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)
                msg = f"{err.get('message')} (error {err.get('error_code')})"
            except ValueError:
                msg = raw.decode(errors="replace")[:200] or exc.reason
            raise CliError(f"registry: HTTP {exc.code}: {msg}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"registry {self.url} unreachable: {getattr(exc, 'reason', exc)}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def cached(self, *key: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = self.request("GET", *key)
        return self._cache[key]

    def by_id(self, sid: int, fmt: str | None = None) -> dict:
        path = f"/schemas/ids/{sid}" + (f"?format={fmt}" if fmt else "")
        return self.cached(path)

    def version(self, subject: str, version: int | str, fmt: str | None = None) -> dict:
        q = f"?format={fmt}" if fmt else ""
        return self.cached(f"/subjects/{urllib.parse.quote(subject, safe='')}/versions/{version}{q}")


def _s(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _print(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2 if sys.stdout.isatty() else None))


def schema_body(file: Path, schema_type: str | None, refs: list[str] | None) -> dict:
    try:
        text = file.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None
    st = (schema_type or _EXT_TYPES.get(file.suffix.lower()) or "AVRO").upper()
    body: dict[str, Any] = {"schema": text}
    if st != "AVRO":
        body["schemaType"] = st
    if refs:
        out = []
        for r in refs:
            name, _, rest = r.partition("=")
            subject, _, version = rest.rpartition(":")
            if not (name and subject and version.isdigit()):
                raise UsageError(f"bad --ref {r!r}: expected NAME=SUBJECT:VERSION")
            out.append({"name": name, "subject": subject, "version": int(version)})
        body["references"] = out
    return body


# -- the commands ---------------------------------------------------------------------------------------------
@schemas_app.command("list")
def list_subjects(
    registry: RegistryOpt = DEFAULT_REGISTRY,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only subjects starting with PREFIX.")] = None,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include soft-deleted subjects.")] = False,
) -> None:
    """List subjects, one per line."""
    for s in RegistryClient(registry).request("GET", "/subjects", subjectPrefix=prefix, deleted=deleted or None):
        typer.echo(s)


@schemas_app.command("get")
def get(
    subject: Annotated[str | None, typer.Argument(help="Subject.")] = None,
    version: Annotated[str, typer.Option("-v", "--version", help="Version number or latest.")] = "latest",
    schema_id: Annotated[int | None, typer.Option("--id", help="Get the schema with this id instead.")] = None,
    registry: RegistryOpt = DEFAULT_REGISTRY,
    deleted: Annotated[bool, typer.Option("--deleted", help="Soft-deleted versions too.")] = False,
) -> None:
    """Print a subject's version (or a schema by --id) as JSON."""
    client = RegistryClient(registry)
    if schema_id is not None:
        _print(client.request("GET", f"/schemas/ids/{schema_id}"))
    elif subject:
        _print(client.request("GET", f"/subjects/{_s(subject)}/versions/{version}", deleted=deleted or None))
    else:
        raise UsageError("give a SUBJECT or --id")


@schemas_app.command("register")
def register(
    subject: Annotated[str, typer.Argument(help="Subject, e.g. TOPIC-value.")],
    file: Annotated[Path, typer.Argument(help="Schema file: .avsc, .json, .proto.")],
    schema_type: Annotated[str | None, typer.Option("--type", help="AVRO|JSON|PROTOBUF (default: by extension).")]
    = None,
    ref: Annotated[list[str] | None, typer.Option("--ref", help="Reference NAME=SUBJECT:VERSION (repeatable).")]
    = None,
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    """Register a schema under SUBJECT; prints its id."""
    out = RegistryClient(registry).request("POST", f"/subjects/{_s(subject)}/versions",
                                           schema_body(file, schema_type, ref))
    typer.echo(out["id"])


@schemas_app.command("check")
def check(
    subject: Annotated[str, typer.Argument(help="Subject.")],
    file: Annotated[Path, typer.Argument(help="Candidate schema file.")],
    version: Annotated[str, typer.Option("-v", "--version", help="Version to check against.")] = "latest",
    schema_type: Annotated[str | None, typer.Option("--type", help="AVRO|JSON|PROTOBUF.")] = None,
    ref: Annotated[list[str] | None, typer.Option("--ref", help="Reference NAME=SUBJECT:VERSION.")] = None,
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    """Is FILE compatible with SUBJECT's version under its compatibility level? Exit 1 if not."""
    out = RegistryClient(registry).request("POST", f"/compatibility/subjects/{_s(subject)}/versions/{version}",
                                           schema_body(file, schema_type, ref), verbose=True)
    if out.get("is_compatible"):
        typer.echo("compatible")
        return
    typer.echo("incompatible", err=False)
    for m in out.get("messages") or ():
        typer.echo(f"  {m}")
    raise typer.Exit(1)


@schemas_app.command("delete")
def delete(
    subject: Annotated[str, typer.Argument(help="Subject.")],
    version: Annotated[str | None, typer.Option("-v", "--version", help="Only this version.")] = None,
    permanent: Annotated[bool, typer.Option("--permanent", help="Hard delete (after a soft one).")] = False,
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    """Soft-delete a subject (or one version); --permanent deletes for good."""
    path = f"/subjects/{_s(subject)}" + (f"/versions/{version}" if version else "")
    out = RegistryClient(registry).request("DELETE", path, permanent=permanent or None)
    typer.echo(json.dumps(out))


@schemas_app.command("config")
def config(
    subject: Annotated[str | None, typer.Argument(help="Subject (default: the global config).")] = None,
    set_level: Annotated[str | None, typer.Option("--set", help="NONE|BACKWARD|...|FULL_TRANSITIVE")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the subject's (or reset the global) level.")]
    = False,
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    """Show or change a compatibility level."""
    client = RegistryClient(registry)
    path = "/config" + (f"/{_s(subject)}" if subject else "")
    if set_level:
        out = client.request("PUT", path, {"compatibility": set_level.upper()})
        typer.echo(out["compatibility"])
    elif delete:
        typer.echo(client.request("DELETE", path)["compatibilityLevel"])
    else:
        typer.echo(client.request("GET", path, defaultToGlobal=True if subject else None)["compatibilityLevel"])


@schemas_app.command("mode")
def mode(
    subject: Annotated[str | None, typer.Argument(help="Subject (default: the global mode).")] = None,
    set_mode: Annotated[str | None, typer.Option("--set", help="READWRITE|READONLY|IMPORT")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the subject's mode.")] = False,
    force: Annotated[bool, typer.Option("--force", help="IMPORT even when subjects exist.")] = False,
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    """Show or change a mode."""
    client = RegistryClient(registry)
    path = "/mode" + (f"/{_s(subject)}" if subject else "")
    if set_mode:
        typer.echo(client.request("PUT", path, {"mode": set_mode.upper()}, force=force or None)["mode"])
    elif delete:
        typer.echo(client.request("DELETE", path)["mode"])
    else:
        typer.echo(client.request("GET", path, defaultToGlobal=True if subject else None)["mode"])


# -- the wire framing: decode for consume, encode for produce -------------------------------------------------
def _varint_zigzag(buf: io.BytesIO) -> int:
    shift = result = 0
    while True:
        b = buf.read(1)
        if not b:
            raise ValueError("truncated message indexes")
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1)


def _zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Codec:
    """Schemas by id from a registry, turned into decoders and encoders (cached)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self._avro: dict[int, Any] = {}
        self._proto: dict[int, Any] = {}

    # avro
    def avro_schema(self, sid: int) -> Any:
        if sid not in self._avro:
            import fastavro

            named: dict[str, Any] = {}
            info = self.client.by_id(sid)
            self._avro_refs(info.get("references") or (), named)
            self._avro[sid] = fastavro.parse_schema(json.loads(info["schema"]), named_schemas=named)
        return self._avro[sid]

    def _avro_refs(self, refs, named: dict) -> None:
        import fastavro

        for r in refs:
            v = self.client.version(r["subject"], r["version"])
            self._avro_refs(v.get("references") or (), named)
            fastavro.parse_schema(json.loads(v["schema"]), named_schemas=named)

    # protobuf
    def proto_file(self, sid: int):
        if sid not in self._proto:
            from google.protobuf import descriptor_pb2, descriptor_pool

            pool = descriptor_pool.DescriptorPool()
            info = self.client.by_id(sid, "serialized")
            self._proto_refs(info.get("references") or (), pool, set())
            fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(info["schema"]))
            self._add_deps(fdp, pool, set())
            self._proto[sid] = pool.Add(fdp) or pool.FindFileByName(fdp.name)
        return self._proto[sid]

    def _proto_refs(self, refs, pool, done: set) -> None:
        from google.protobuf import descriptor_pb2

        for r in refs:
            if r["name"] in done:
                continue
            v = self.client.version(r["subject"], r["version"], "serialized")
            self._proto_refs(v.get("references") or (), pool, done)
            fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(v["schema"]))
            fdp.name = r["name"]
            self._add_deps(fdp, pool, done)
            pool.Add(fdp)
            done.add(r["name"])

    @staticmethod
    def _add_deps(fdp, pool, done: set) -> None:
        import importlib

        from google.protobuf import descriptor_pb2

        for dep in fdp.dependency:
            if dep in done or not dep.startswith("google/protobuf/"):
                continue
            try:
                pool.FindFileByName(dep)
                continue
            except KeyError:
                pass
            mod = importlib.import_module("google.protobuf." + dep[len("google/protobuf/"):-6] + "_pb2")
            out = descriptor_pb2.FileDescriptorProto()
            mod.DESCRIPTOR.CopyToProto(out)
            pool.Add(out)
            done.add(dep)

    def proto_class(self, sid: int, indexes: list[int]):
        from google.protobuf.message_factory import GetMessageClass

        f = self.proto_file(sid)
        desc = f.message_types_by_name[list(f.message_types_by_name)[indexes[0]]]
        for i in indexes[1:]:
            desc = desc.nested_types[i]
        return GetMessageClass(desc)

    # the framing
    def decode(self, data: bytes | None, fmt: str) -> bytes | None:
        if data is None:
            return None
        if len(data) < 5 or data[0] != 0:
            raise ValueError("not in the schema registry wire format")
        sid = struct.unpack_from(">I", data, 1)[0]
        payload = io.BytesIO(data[5:])
        if fmt == "avro":
            import fastavro

            obj = fastavro.schemaless_reader(payload, self.avro_schema(sid), None)
            return json.dumps(obj, default=_json_default, ensure_ascii=False).encode()
        if fmt == "protobuf":
            from google.protobuf import json_format

            n = _varint_zigzag(payload)
            indexes = [0] if n == 0 else [_varint_zigzag(payload) for _ in range(n)]
            msg = self.proto_class(sid, indexes).FromString(payload.read())
            try:
                obj = json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                                always_print_fields_with_no_presence=True)
            except TypeError:  # protobuf < 5.26
                obj = json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                                including_default_value_fields=True)
            return json.dumps(obj).encode()
        return payload.read()  # json-schema: the payload is JSON text

    def encoder(self, sid: int, schema_type: str) -> Callable[[bytes], bytes]:
        head = b"\x00" + struct.pack(">I", sid)
        if schema_type == "AVRO":
            import fastavro

            schema = self.avro_schema(sid)

            def enc_avro(line: bytes) -> bytes:
                buf = io.BytesIO()
                fastavro.schemaless_writer(buf, schema, json.loads(line))
                return head + buf.getvalue()

            return enc_avro
        if schema_type == "PROTOBUF":
            from google.protobuf import json_format

            cls = self.proto_class(sid, [0])

            def enc_proto(line: bytes) -> bytes:
                return head + _zigzag(0)[:1] + json_format.Parse(line, cls()).SerializeToString()

            return enc_proto
        import jsonschema

        validator = jsonschema.validators.validator_for(json.loads(self.client.by_id(sid)["schema"]))(
            json.loads(self.client.by_id(sid)["schema"]))

        def enc_json(line: bytes) -> bytes:
            obj = json.loads(line)
            err = jsonschema.exceptions.best_match(validator.iter_errors(obj))
            if err is not None:
                raise ValueError(f"does not match schema {sid}: {err.message}")
            return head + json.dumps(obj, separators=(",", ":")).encode()

        return enc_json


def _json_default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.decode("latin-1")
    return str(obj)


def check_format(fmt: str | None, what: str) -> str | None:
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"bad {what} {fmt!r}: expected {'|'.join(FORMATS)}")
    return fmt


def decoding_formatter(format_record: Callable[[Any], bytes], key_format: str | None, value_format: str | None,
                       registry: str) -> Callable[[Any], bytes]:
    """Wrap a Record formatter: keys and/or values decoded through the registry into JSON first."""
    codec = Codec(RegistryClient(registry))

    def fmt(rec: Any) -> bytes:
        try:
            key = codec.decode(rec.key, key_format) if key_format else rec.key
            value = codec.decode(rec.value, value_format) if value_format else rec.value
        except (ValueError, KeyError, IndexError, EOFError, struct.error) as exc:
            raise CliError(f"cannot decode {rec.topic}/{rec.partition}@{rec.offset}: {exc}") from None
        return format_record(dataclasses.replace(rec, key=key, value=value))

    return fmt


def make_value_encoder(topic: str, registry: str, schema_file: Path | None, schema_id: int | None,
                       schema_type: str | None = None) -> Callable[[bytes], bytes]:
    """JSON line -> registry-framed value, registering FILE under TOPIC-value (or using --value-schema-id)."""
    client = RegistryClient(registry)
    if schema_file is not None:
        body = schema_body(schema_file, schema_type, None)
        schema_id = client.request("POST", f"/subjects/{_s(topic + '-value')}/versions", body)["id"]
    assert schema_id is not None
    st = client.by_id(schema_id).get("schemaType", "AVRO")
    encode = Codec(client).encoder(schema_id, st)

    def enc(line: bytes) -> bytes:
        try:
            return encode(line)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CliError(f"cannot encode {line[:80]!r} with schema {schema_id}: {exc}") from None

    return enc


def registry_default() -> str:
    return os.environ.get("CHRONIK_REGISTRY", DEFAULT_REGISTRY)
