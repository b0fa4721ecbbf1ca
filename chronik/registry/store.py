"""The registry's state, kept in memory and written to the compacted `_schemas` topic.

Every change is one record in Confluent's own `_schemas` formats, written
first and then applied to memory by the same `apply()` that replays the log
at start-up — so what a restart (or a SIGKILL) rebuilds is exactly what
was acknowledged:

    key {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}
        value {"subject":S,"version":V,"id":ID,"schemaType":T,"references":[...],"schema":TEXT,"deleted":B}
        (no schemaType for AVRO; a tombstone for a permanently deleted version)
    key {"keytype":"CONFIG","subject":S|null,"magic":0}   value {"compatibilityLevel":L} | tombstone
    key {"keytype":"MODE","subject":S|null,"magic":0}     value {"mode":M} | tombstone
    key {"keytype":"DELETE_SUBJECT","subject":S,"magic":0} value {"subject":S,"version":LATEST}
    key {"keytype":"CLEAR_SUBJECT","subject":S,"magic":0}  value {"subject":S}

Ids are global: the same (type, schema, references) gets the same id in
every subject, and a new one is max(every id seen in the log) + 1. Schemas
are parsed lazily (on first compatibility check or lookup), so replaying
thousands of Protobuf schemas costs no protoc runs at start-up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from chronik.registry import compat, errors
from chronik.registry.errors import RegistryError
from chronik.registry.schemas import AVRO, ParsedSchema, Reference, parse

log = logging.getLogger("chronik.registry")

MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
DEFAULT_MODE = "READWRITE"
MAX_VERSION = 2**31 - 1


class SchemaLog(Protocol):
    """Where the registry's records go: `_schemas` partition 0 (chronik.registry.log.CoreSchemaLog)."""

    def append(self, key: bytes, value: bytes | None) -> None: ...  # raises RegistryError (50001)

    def replay(self) -> Iterator[tuple[bytes | None, bytes | None]]: ...


class MemoryLog:
    """A SchemaLog in a list (unit tests, benches)."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, key: bytes, value: bytes | None) -> None:
        self.records.append((key, value))

    def replay(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        return iter(list(self.records))


@dataclass(frozen=True, slots=True)
class StoredSchema:
    """One schema by id: what `/schemas/ids/{id}` serves."""

    id: int
    schema_type: str
    text: str
    references: tuple[Reference, ...]

    @property
    def identity(self) -> tuple:
        return (self.schema_type, self.text, self.references)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.schema_type != AVRO:
            out["schemaType"] = self.schema_type
        if self.references:
            out["references"] = [r.to_json() for r in self.references]
        out["schema"] = self.text
        return out


@dataclass(slots=True)
class Version:
    subject: str
    version: int
    schema: StoredSchema
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "version": self.version, "id": self.schema.id, **self.schema.to_json()}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def schema_key(subject: str, version: int) -> bytes:
    return _dumps({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})


class SchemaRegistry:
    """Subjects, versions, ids, configs and modes; every mutation goes through the log."""

    def __init__(self, log_: SchemaLog) -> None:
        self.log = log_
        self.subjects: dict[str, dict[int, Version]] = {}
        self.by_id: dict[int, StoredSchema] = {}
        self.id_by_identity: dict[tuple, int] = {}
        self.next_id = 1
        self.configs: dict[str | None, str] = {}
        self.modes: dict[str | None, str] = {}
        self._parsed: dict[int, ParsedSchema] = {}
        # subject -> ids registered under it (live versions): broker-side validation asks this.
        self.live_ids: dict[str, set[int]] = {}
        self.recovered = False

    # -- recovery and the record formats --------------------------------------------------------
    def recover(self) -> None:
        n = 0
        for key, value in self.log.replay():
            n += 1
            try:
                self.apply(json.loads(key) if key else None, json.loads(value) if value else None)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("skipping a malformed _schemas record: %s", exc)
        self.recovered = True
        if n:
            log.info("schema registry: %d subjects, %d schemas from %d _schemas records",
                     len(self.subjects), len(self.by_id), n)

    def apply(self, key: dict | None, value: dict | None) -> None:
        if not isinstance(key, dict):
            return
        kind = key.get("keytype")
        subject = key.get("subject")
        if kind == "SCHEMA":
            self._apply_schema(subject, int(key["version"]), value)
        elif kind == "CONFIG":
            if value is None:
                self.configs.pop(subject, None)
            else:
                self.configs[subject] = value["compatibilityLevel"]
        elif kind == "MODE":
            if value is None:
                self.modes.pop(subject, None)
            else:
                self.modes[subject] = value["mode"]
        elif kind == "CLEAR_SUBJECT":
            self.configs.pop(subject, None)
            self.modes.pop(subject, None)
        # DELETE_SUBJECT is history only: the SCHEMA records that follow it carry deleted=true.

    def _apply_schema(self, subject: str, version: int, value: dict | None) -> None:
        versions = self.subjects.setdefault(subject, {})
        old = versions.pop(version, None)
        if value is None:
            if not versions:
                del self.subjects[subject]
            if old is not None:
                self._forget(old.schema)
        else:
            refs = tuple(Reference(r["name"], r["subject"], int(r["version"])) for r in value.get("references") or ())
            sid = int(value["id"])
            stored = self.by_id.get(sid)
            if stored is None:
                stored = StoredSchema(sid, value.get("schemaType") or AVRO, value["schema"], refs)
                self.by_id[sid] = stored
                self.id_by_identity.setdefault(stored.identity, sid)
            self.next_id = max(self.next_id, sid + 1)
            versions[version] = Version(subject, version, stored, bool(value.get("deleted", False)))
            if old is not None and old.schema.id != sid:
                self._forget(old.schema)
        live = {v.schema.id for v in self.subjects.get(subject, {}).values() if not v.deleted}
        if live:
            self.live_ids[subject] = live
        else:
            self.live_ids.pop(subject, None)

    def _forget(self, schema: StoredSchema) -> None:
        """Drop an id no version uses any more (its number is never handed out again)."""
        if any(v.schema.id == schema.id for vs in self.subjects.values() for v in vs.values()):
            return
        self.by_id.pop(schema.id, None)
        self._parsed.pop(schema.id, None)
        if self.id_by_identity.get(schema.identity) == schema.id:
            del self.id_by_identity[schema.identity]

    def _write(self, key: dict, value: dict | None) -> None:
        self.log.append(_dumps(key), None if value is None else _dumps(value))
        self.apply(key, value)

    def _write_version(self, v: Version) -> None:
        s = v.schema
        value: dict[str, Any] = {"subject": v.subject, "version": v.version, "id": s.id}
        if s.schema_type != AVRO:
            value["schemaType"] = s.schema_type
        if s.references:
            value["references"] = [r.to_json() for r in s.references]
        value["schema"] = s.text
        value["deleted"] = v.deleted
        self._write({"keytype": "SCHEMA", "subject": v.subject, "version": v.version, "magic": 1}, value)

    # -- reads ------------------------------------------------------------------------------------
    def parsed(self, schema: StoredSchema) -> ParsedSchema:
        p = self._parsed.get(schema.id)
        if p is None:
            p = parse(schema.schema_type, schema.text, self.resolve_refs(schema.references))
            self._parsed[schema.id] = p
        return p

    def resolve_refs(self, refs: tuple[Reference, ...] | list[Reference]) -> list[tuple[Reference, ParsedSchema]]:
        out = []
        for r in refs:
            v = self.subjects.get(r.subject, {}).get(r.version)
            if v is None:
                raise errors.invalid_schema(f"references not found: {r.subject} version {r.version}")
            out.append((r, self.parsed(v.schema)))
        return out

    def versions(self, subject: str, deleted: bool = False) -> list[Version]:
        return [v for _, v in sorted(self.subjects.get(subject, {}).items()) if deleted or not v.deleted]

    def subject_exists(self, subject: str, deleted: bool = False) -> bool:
        return bool(self.versions(subject, deleted))

    def get_version(self, subject: str, version: str | int, deleted: bool = False) -> Version:
        n = parse_version(version)
        if not self.subject_exists(subject, deleted=True) or (not deleted and not self.subject_exists(subject)):
            raise errors.subject_not_found(subject)
        live = self.versions(subject, deleted)
        if n == -1:
            if not live:
                raise errors.version_not_found(version)
            return live[-1]
        v = self.subjects[subject].get(n)
        if v is None or (v.deleted and not deleted):
            raise errors.version_not_found(n)
        return v

    def level(self, subject: str | None) -> str:
        if subject is not None and subject in self.configs:
            return self.configs[subject]
        return self.configs.get(None, compat.DEFAULT_LEVEL)

    def mode(self, subject: str | None) -> str:
        if subject is not None and subject in self.modes:
            return self.modes[subject]
        return self.modes.get(None, DEFAULT_MODE)

    def referenced_by(self, subject: str, version: int) -> list[int]:
        ids = set()
        for vs in self.subjects.values():
            for v in vs.values():
                if not v.deleted and any(r.subject == subject and r.version == version for r in v.schema.references):
                    ids.add(v.schema.id)
        return sorted(ids)

    # -- writes -------------------------------------------------------------------------------------
    def _check_writable(self, subject: str | None) -> str:
        mode = self.mode(subject)
        if mode in ("READONLY", "READONLY_OVERRIDE"):
            raise errors.operation_not_permitted(f"Subject {subject} is in read-only mode")
        return mode

    def _parse_request(self, body: dict) -> ParsedSchema:
        if not isinstance(body, dict) or "schema" not in body:
            raise errors.unprocessable("Empty schema")
        refs = body.get("references") or []
        try:
            ref_list = [Reference(str(r["name"]), str(r["subject"]), int(r["version"])) for r in refs]
        except (KeyError, TypeError, ValueError):
            raise errors.invalid_schema("references must be objects with name, subject and version") from None
        return parse(body.get("schemaType"), body["schema"], self.resolve_refs(ref_list))

    def register(self, subject: str, body: dict) -> StoredSchema:
        mode = self._check_writable(subject)
        parsed = self._parse_request(body)
        for v in self.versions(subject):
            if v.schema.identity == parsed.identity:
                return v.schema
        want_id = body.get("id")
        want_version = body.get("version")
        if mode != "IMPORT" and want_id not in (None, -1, 0):
            raise errors.operation_not_permitted(f"Subject {subject} is not in import mode")
        if mode != "IMPORT":
            level = self.level(subject)
            previous = [(v.version, self.parsed(v.schema)) for v in self.versions(subject)]
            messages = compat.check(level, parsed, previous)
            if messages:
                raise errors.incompatible(subject, messages)
        if mode == "IMPORT" and want_id not in (None, -1, 0):
            sid = int(want_id)
            existing = self.by_id.get(sid)
            if existing is not None and existing.identity != parsed.identity:
                raise errors.RegistryError(422, 42205, f"Overwrite new schema with id {sid} is not permitted.")
        else:
            sid = self.id_by_identity.get(parsed.identity) or self.next_id
        all_versions = self.subjects.get(subject, {})
        version = int(want_version) if mode == "IMPORT" and want_version not in (None, -1, 0) else \
            max(all_versions, default=0) + 1
        stored = self.by_id.get(sid) or StoredSchema(sid, parsed.schema_type, parsed.text, parsed.references)
        self._parsed.setdefault(sid, parsed)
        self._write_version(Version(subject, version, stored, False))
        return self.by_id[sid]

    def lookup(self, subject: str, body: dict, deleted: bool = False) -> Version:
        if not self.subject_exists(subject, deleted):
            raise errors.subject_not_found(subject)
        parsed = self._parse_request(body)
        for v in reversed(self.versions(subject, deleted)):
            if v.schema.identity == parsed.identity:
                return v
        raise errors.schema_not_found()

    def check_compatibility(self, subject: str, version: str | None, body: dict) -> list[str]:
        parsed = self._parse_request(body)
        level = self.level(subject)
        if version is None:
            previous = [(v.version, self.parsed(v.schema)) for v in self.versions(subject)]
            return compat.check(level, parsed, previous)
        if not self.subject_exists(subject):
            raise errors.subject_not_found(subject)
        v = self.get_version(subject, version)
        # One named version: that version alone, whatever the transitivity.
        return compat.check(level.replace("_TRANSITIVE", ""), parsed, [(v.version, self.parsed(v.schema))])

    def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        self._check_writable(subject)
        every = self.versions(subject, deleted=True)
        if not every:
            raise errors.subject_not_found(subject)
        live = [v for v in every if not v.deleted]
        for v in live if not permanent else every:
            if self.referenced_by(subject, v.version):
                raise errors.reference_exists(f"One or more references exist to the schema "
                                              f"{{subject={subject},version={v.version}}}.")
        if not permanent:
            if not live:
                raise errors.subject_soft_deleted(subject)
            self._write({"keytype": "DELETE_SUBJECT", "subject": subject, "magic": 0},
                        {"subject": subject, "version": live[-1].version})
            for v in live:
                self._write_version(Version(subject, v.version, v.schema, True))
            return [v.version for v in live]
        if live:
            raise errors.subject_not_soft_deleted(subject)
        self._write({"keytype": "CLEAR_SUBJECT", "subject": subject, "magic": 0}, {"subject": subject})
        for v in every:
            self._write({"keytype": "SCHEMA", "subject": subject, "version": v.version, "magic": 1}, None)
        if subject in self.configs:
            self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, None)
        if subject in self.modes:
            self._write({"keytype": "MODE", "subject": subject, "magic": 0}, None)
        return [v.version for v in every]

    def delete_version(self, subject: str, version: str, permanent: bool) -> int:
        self._check_writable(subject)
        n = parse_version(version)
        if not self.subject_exists(subject, deleted=True) or (not permanent and not self.subject_exists(subject)):
            raise errors.subject_not_found(subject)
        v = self.get_version(subject, version, deleted=permanent) if n == -1 else self.subjects[subject].get(n)
        if v is None:
            raise errors.version_not_found(n)
        if self.referenced_by(subject, v.version):
            raise errors.reference_exists(f"One or more references exist to the schema "
                                          f"{{subject={subject},version={v.version}}}.")
        if not permanent:
            if v.deleted:
                raise errors.version_soft_deleted(subject, v.version)
            self._write_version(Version(subject, v.version, v.schema, True))
        else:
            if not v.deleted:
                raise errors.version_not_soft_deleted(subject, v.version)
            self._write({"keytype": "SCHEMA", "subject": subject, "version": v.version, "magic": 1}, None)
        return v.version

    def set_config(self, subject: str | None, level: Any) -> str:
        if not isinstance(level, str) or level.upper() not in compat.LEVELS:
            raise errors.invalid_compatibility_level(level)
        self._check_writable(subject)
        self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, {"compatibilityLevel": level.upper()})
        return level.upper()

    def delete_config(self, subject: str | None) -> str:
        self._check_writable(subject)
        prev = self.level(subject)
        if subject is not None and subject not in self.configs:
            raise errors.subject_not_found(subject) if not self.subject_exists(subject, True) else \
                errors.subject_config_not_found(subject)
        if subject in self.configs:
            self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, None)
        return prev

    def set_mode(self, subject: str | None, mode: Any, force: bool = False) -> str:
        if not isinstance(mode, str) or mode.upper() not in MODES:
            raise errors.invalid_mode(mode)
        mode = mode.upper()
        if mode == "IMPORT" and not force:
            has = self.subject_exists(subject) if subject is not None else any(
                self.subject_exists(s) for s in self.subjects)
            if has:
                raise errors.operation_not_permitted(
                    "Cannot import since found existing subjects" if subject is None
                    else f"Cannot import since found existing subject {subject}")
        self._write({"keytype": "MODE", "subject": subject, "magic": 0}, {"mode": mode})
        return mode

    def delete_mode(self, subject: str) -> str:
        prev = self.mode(subject)
        if subject not in self.modes:
            raise errors.subject_mode_not_found(subject)
        self._write({"keytype": "MODE", "subject": subject, "magic": 0}, None)
        return prev


def parse_version(version: str | int) -> int:
    """A version path segment as a number; "latest" (and -1) as -1; 42202 otherwise."""
    if version == "latest":
        return -1
    try:
        n = int(version)
    except (TypeError, ValueError):
        raise errors.invalid_version(version) from None
    if n == -1:
        return -1
    if not 1 <= n <= MAX_VERSION:
        raise errors.invalid_version(version)
    return n


__all__ = ["MemoryLog", "RegistryError", "SchemaLog", "SchemaRegistry", "StoredSchema", "Version", "schema_key"]
