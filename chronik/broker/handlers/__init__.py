"""One module per API key. Each has `API_KEY` and `handle(ctx, request)`.

A handler returns a response object, a `Deferred` (answered later), or
None (no answer: Produce with acks=0). It never touches a socket.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

HANDLERS: dict[int, Callable[[Any, Any], Any]] = {}


def _load() -> None:
    for mod in pkgutil.iter_modules(__path__):
        m = importlib.import_module(f"{__name__}.{mod.name}")
        key = getattr(m, "API_KEY", None)
        if key is not None:
            HANDLERS[key] = m.handle


_load()
