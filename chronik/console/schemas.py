"""Schemas: the registry's subjects, their versions (pretty-printed for the side-by-side diff) and levels.

Read straight from the in-process registry (`core.registry`), which keeps
everything in memory. The diff itself is drawn by the page (both texts are
here, already in one canonical layout, so the diff is of meaning, not of
whitespace).
"""

from __future__ import annotations

import json
from typing import Any

from chronik.console.api import ApiError, Call, Route


def pretty(schema_type: str, text: str) -> str:
    if schema_type in ("AVRO", "JSON"):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    return text


class SchemaRoutes:
    def routes(self) -> list[Route]:
        return [
            ("GET", r"/console/api/schemas", self.list, False),
            ("GET", r"/console/api/schemas/(?P<subject>[^/]+)", self.subject, False),
        ]

    def list(self, c: Call) -> Any:
        reg = c.core.registry
        out = []
        for subject in sorted(reg.subjects):
            versions = reg.versions(subject)
            if not versions:
                continue
            latest = versions[-1]
            out.append({"subject": subject, "versions": [v.version for v in versions],
                        "latest_version": latest.version, "latest_id": latest.schema.id,
                        "type": latest.schema.schema_type, "compatibility": reg.level(subject)})
        return {"compatibility": reg.level(None), "mode": reg.mode(None), "subjects": out}

    def subject(self, c: Call) -> Any:
        reg = c.core.registry
        subject = c.params["subject"]
        versions = reg.versions(subject)
        if not versions:
            raise ApiError(404, f"subject {subject!r} does not exist", "SUBJECT_NOT_FOUND")
        return {
            "subject": subject,
            "compatibility": reg.level(subject),
            "compatibility_is_default": subject not in reg.configs,
            "versions": [{"version": v.version, "id": v.schema.id, "type": v.schema.schema_type,
                          "schema": pretty(v.schema.schema_type, v.schema.text),
                          "references": [r.to_json() for r in v.schema.references]} for v in versions],
        }
