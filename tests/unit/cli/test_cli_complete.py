"""Fast completion: the generated spec matches the Typer app; candidates without a broker."""

from __future__ import annotations

from chronik.cli import complete
from chronik.cli._spec import SPEC
from chronik.cli.argv import command_words, hoist
from chronik.cli.completion import build_spec


def test_spec_is_up_to_date() -> None:
    assert build_spec() == SPEC, "run `make completions` to regenerate chronik/cli/_spec.py"


def test_candidates_from_the_spec(monkeypatch) -> None:
    monkeypatch.setattr(complete, "broker_names", lambda brokers, what: {"topics": ["orders", "audit"],
                                                                          "groups": ["billing"]}[what])

    def vals(args: list[str], inc: str = "") -> list[str]:
        got = complete.candidates(args, inc)
        return None if got is None else [v for v, _ in got if v.startswith(inc)]

    assert "topics" in vals([]) and "stop" in vals([])
    assert vals(["topics"], "de") == ["delete", "delete-records", "describe"]
    assert vals(["topics", "describe"]) == ["orders", "audit"]
    assert vals(["-b", "x:1", "consume", "orders"]) == ["orders", "audit"]  # TOPICS...
    assert vals(["groups", "describe"]) == ["billing"]
    assert vals(["consume", "t", "-g"]) == ["billing"]
    assert vals(["topics", "alter-config", "t", "-s"], "retention.m") == ["retention.ms="]
    assert vals(["topics", "list", "-o"]) == ["table", "wide", "text", "json", "yaml"]
    assert vals(["consume", "t", "-o"]) == []  # an offset, not an output format
    assert vals(["produce", "t"]) is None  # FILE: the shell completes file names
    assert "--brokers" in vals(["consume", "t"], "--")


def test_hoist_moves_global_options_to_the_front() -> None:
    assert hoist(["consume", "t", "-b", "h:1", "-o", "5"]) == ["-b", "h:1", "consume", "t", "-o", "5"]
    assert hoist(["topics", "list", "-o", "json", "--debug"]) == ["--output", "json", "--debug",
                                                                  "topics", "list"]
    assert hoist(["topics", "list", "-ojson", "--brokers=h:2", "-Xa=b"]) == [
        "--output", "json", "--brokers", "h:2", "-X", "a=b", "topics", "list"]
    assert hoist(["produce", "t", "--", "-b"]) == ["produce", "t", "--", "-b"]
    assert command_words(hoist(["consume", "t", "-b", "h:1"])) == ["consume", "t"]
