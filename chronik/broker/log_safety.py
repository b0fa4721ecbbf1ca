"""Client-chosen strings (client ids, group, member and transactional ids) reach the log.

A newline in one would forge a log line, an escape sequence would repaint a
terminal. `EscapeControlChars` is a logging filter that renders each record's
message once and escapes its control characters; tracebacks (exc_info) are
kept apart and keep their newlines.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def escape(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class EscapeControlChars(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _CONTROL.search(message):
            record.msg, record.args = escape(message), None
        return True


def install(handler: logging.Handler) -> None:
    handler.addFilter(EscapeControlChars())
