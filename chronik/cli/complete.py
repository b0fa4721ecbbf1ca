"""Fast Tab completion: answers Typer's completion protocol without Typer.

The shell scripts in completions/ (Typer's) run `chronik` with
_CHRONIK_COMPLETE=complete_bash|complete_zsh|complete_fish and the words typed
so far. We answer from the generated command-tree spec (chronik.cli._spec) and,
for topic and group names, from the broker named by -b / CHRONIK_BROKERS:
one Metadata and one ListGroups request with a 200 ms budget, cached for
CACHE_TTL seconds in ~/.cache/chronik/. A broker that is down or slow gives
the cached names (or none): completion never waits longer or prints errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

BROKER_BUDGET_S = 0.2
CACHE_TTL = 30.0
CONFIG_NAMES = [
    "cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms",
    "flush.messages", "flush.ms", "index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes",
    "message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "retention.bytes",
    "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
]
FIXED = {
    "output": ["table", "wide", "text", "json", "yaml"],
    "codec": ["none", "gzip", "snappy", "lz4", "zstd"],
    "acks": ["all", "-1", "0", "1"],
    "log_level": ["debug", "info", "warning", "error"],
}


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an open quote while typing
        return text.split()


def words_and_incomplete(shell: str) -> tuple[list[str], str]:
    if shell == "bash":
        words = _split(os.environ.get("COMP_WORDS", ""))
        cword = int(os.environ.get("COMP_CWORD", "0") or 0)
        args = words[1:cword]
        incomplete = words[cword] if cword < len(words) else ""
        return args, incomplete
    text = os.environ.get("_TYPER_COMPLETE_ARGS", "")
    words = _split(text)[1:]
    if words and not text.endswith(" "):
        return words[:-1], words[-1]
    return words, ""


def _brokers(args: list[str]) -> str:
    for i, a in enumerate(args):
        if a in ("-b", "--brokers") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--brokers="):
            return a.split("=", 1)[1]
        if a.startswith("-b") and len(a) > 2:
            return a[2:]
    return os.environ.get("CHRONIK_BROKERS", "localhost:9092")


def _cache_path(brokers: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chronik"
    return base / f"names-{hashlib.sha1(brokers.encode()).hexdigest()[:12]}.json"


def broker_names(brokers: str, what: str) -> list[str]:
    """Topic or group names: fresh from the cache, else from the broker (200 ms), else stale/none."""
    path = _cache_path(brokers)
    cached: dict = {}
    try:
        cached = json.loads(path.read_text())
        if time.time() - cached.get("time", 0) < CACHE_TTL and what in cached:
            return cached[what]
    except (OSError, ValueError):
        cached = {}
    try:
        fresh = _ask_broker(brokers)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return cached.get(what, [])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**fresh, "time": time.time()}))
        os.replace(tmp, path)
    except OSError:
        pass
    return fresh.get(what, [])


def _ask_broker(brokers: str) -> dict[str, list[str]]:
    from chronik.cli import kwire

    deadline = time.monotonic() + BROKER_BUDGET_S
    servers = [s.strip() if ":" in s else f"{s.strip()}:9092" for s in brokers.split(",") if s.strip()]
    client = kwire.Client(servers[:1], BROKER_BUDGET_S, retry=False)
    try:
        client.boot.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        topics = sorted(t for t, m in client.metadata(None).items() if not m.internal)
        groups: list[str] = []
        try:
            client.boot.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            groups = sorted(client.list_groups())
        except (OSError, kwire.WireError):
            pass
        return {"topics": topics, "groups": groups}
    finally:
        client.close()


def _topic_config_names(args: list[str]) -> list[str]:
    """Config names of the topic being altered, from the broker (200 ms); [] on any trouble."""
    words = [a for a in args if not a.startswith("-")]
    try:
        i = words.index("alter-config")
        topic = words[i + 1]
    except (ValueError, IndexError):
        return []
    try:
        from chronik.cli import kwire

        brokers = _brokers(args)
        server = brokers.split(",")[0].strip()
        client = kwire.Client([server if ":" in server else f"{server}:9092"], BROKER_BUDGET_S, retry=False)
        try:
            return client.topic_config_names(topic)
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - fall back to the built-in list
        return []


def _values(kind: str, args: list[str], incomplete: str) -> list[tuple[str, str]] | None:
    """Candidates for a value of this kind; None means "let the shell complete files"."""
    k = kind.rstrip("*")
    if k == "file" or not k:
        return None if k == "file" else []
    if k == "topic":
        return [(t, "") for t in broker_names(_brokers(args), "topics")]
    if k == "group":
        return [(g, "") for g in broker_names(_brokers(args), "groups")]
    if k == "config":
        if "=" in incomplete:
            return []
        names = _topic_config_names(args) or CONFIG_NAMES
        return [(c + "=", "") for c in names]
    return [(v, "") for v in FIXED.get(k, [])]


def candidates(args: list[str], incomplete: str) -> list[tuple[str, str]] | None:
    from chronik.cli._spec import SPEC

    node = SPEC
    root_options = SPEC["options"]
    positional = 0
    expect: dict | None = None
    path: list[str] = []
    for a in args:
        if expect is not None:
            expect = None
            continue
        if a == "--":
            break
        if a.startswith("-"):
            name = a.split("=", 1)[0]
            opt = node["options"].get(name) or root_options.get(name)
            if name == "-o" and path and path[0] == "consume":
                opt = node["options"].get("-o")
            if opt and opt["value"] and "=" not in a and not (len(a) > 2 and a[1] != "-"):
                expect = opt
            continue
        if "commands" in node and a in node["commands"]:
            node = node["commands"][a]
            path.append(a)
            continue
        positional += 1
    if expect is not None:
        return _values(expect["kind"], args, incomplete)
    if incomplete.startswith("-"):
        opts = dict(node["options"])
        if path:
            for name, o in root_options.items():
                if name not in ("--version",) and not (name == "-o" and path[0] == "consume"):
                    opts.setdefault(name, o)
        return [(n, o["help"]) for n, o in sorted(opts.items())]
    if "commands" in node:
        return [(n, c["help"]) for n, c in node["commands"].items()]
    arguments = node.get("arguments", [])
    if not arguments:
        return []
    kind = arguments[min(positional, len(arguments) - 1)]
    if positional >= len(arguments) and not kind.endswith("*"):
        return []
    return _values(kind, args, incomplete)


def main() -> int:
    mode = os.environ.get("_CHRONIK_COMPLETE", "")
    shell = mode.removeprefix("complete_")
    if shell not in ("bash", "zsh", "fish"):
        # source_bash etc.: print the script, as Typer does.
        from chronik.cli.completion import script

        sys.stdout.write(script(mode.removeprefix("source_") or "bash"))
        return 0
    args, incomplete = words_and_incomplete(shell)
    found = candidates(args, incomplete)
    items = [] if found is None else [(v, h) for v, h in found if v.startswith(incomplete)]
    out = sys.stdout
    if shell == "bash":
        out.write("\n".join(v for v, _ in items))
    elif shell == "zsh":
        if not items:
            out.write("_files")
        else:
            def esc(s: str) -> str:
                return (s.replace('"', '""').replace("'", "''").replace("$", "\\$")
                        .replace("`", "\\`").replace(":", r"\\:"))

            body = "\n".join(f'"{esc(v)}":"{esc(h)}"' if h else f'"{esc(v)}"' for v, h in items)
            out.write(f"_arguments '*: :(({body}))'")
    else:
        action = os.environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":
            return 0 if items else 1
        out.write("\n".join(f"{v}\t{' '.join(h.split())}" if h else v for v, h in items))
    out.flush()
    return 0
