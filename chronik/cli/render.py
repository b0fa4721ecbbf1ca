"""Output of listing commands: rich tables on a terminal, plain text when piped.

A command hands over both the machine-readable document (for json/yaml) and the
tables a person wants to read (for table/wide/text), so each form is natural rather
than one being squeezed out of the other.

    table  rich tables (default on a TTY)
    wide   rich tables with extra columns
    text   tab-separated values, one row per line, no header, no colour
           (default when stdout is not a TTY, as `gh` does: good for grep/cut/awk)
    json   one JSON object per line, so `jq` works (only when asked)
    yaml   one YAML document
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chronik.cli.state import UsageError, state

MODES = ("table", "json", "yaml", "text", "wide")


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[dict[str, Any]]
    title: str | None = None
    wide_columns: Sequence[str] = field(default_factory=tuple)


def output_mode(requested: str | None = None) -> str:
    mode = requested if requested is not None else state.output
    if mode is None:
        return "table" if sys.stdout.isatty() else "text"
    mode = mode.lower()
    if mode not in MODES:
        raise UsageError(f"bad output format {mode!r}: expected one of {'|'.join(MODES)}")
    return mode


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def human_bytes(n: int | None) -> str:
    if n is None or n < 0:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def _tsv_cell(value: Any) -> str:
    # A tab or newline inside a value would break the columns: escape them.
    return _cell(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def render_text(tables: Sequence[Table], wide: bool = False) -> str:
    """Tab-separated rows, no header, no decoration; tables are separated by a blank line."""
    chunks: list[str] = []
    for t in tables:
        cols = list(t.columns) + (list(t.wide_columns) if wide else [])
        chunks.append("".join("\t".join(_tsv_cell(r.get(c)) for c in cols) + "\n" for r in t.rows))
    return "\n".join(c for c in chunks if c)


def _print_rich(tables: Sequence[Table], wide: bool) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    for t in tables:
        cols = list(t.columns) + (list(t.wide_columns) if wide else [])
        rt = RichTable(title=t.title, title_justify="left", header_style="bold")
        for c in cols:
            rt.add_column(c.upper(), overflow="fold")
        for r in t.rows:
            rt.add_row(*(_cell(r.get(c)) for c in cols))
        console.print(rt)


def show(data: Any, tables: Sequence[Table], mode: str | None = None) -> None:
    """Print `data` (json/yaml) or `tables` (table/wide/text) in the chosen output mode.

    A list `data` becomes one JSON object per line in json mode.
    """
    m = output_mode(mode)
    out = sys.stdout
    if m == "json":
        items = data if isinstance(data, list) else [data]
        for item in items:
            out.write(json.dumps(item, default=str, ensure_ascii=False) + "\n")
    elif m == "yaml":
        import yaml

        out.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    elif m == "text":
        out.write(render_text(tables))
    else:
        _print_rich(tables, wide=m == "wide")
    out.flush()
