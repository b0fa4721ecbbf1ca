"""Client-chosen strings cannot forge log lines."""

from __future__ import annotations

import io
import logging

from chronik.broker.log_safety import EscapeControlChars, escape


def test_escape_keeps_text_and_escapes_control_characters():
    assert escape("plain ünïcode") == "plain ünïcode"
    assert escape("a\nb\r\x1b[31m\x00") == "a\\nb\\r\\x1b[31m\\x00"


def test_forged_line_stays_on_one_line_and_tracebacks_keep_theirs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EscapeControlChars())
    logger = logging.getLogger("test.log_safety")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("member %s joined", "evil\n2026-01-01 ERROR chronik: forged")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed for %s", "x")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "member evil\\n2026-01-01 ERROR chronik: forged joined"
    assert lines[1] == "failed for x" and lines[2].startswith("Traceback")
