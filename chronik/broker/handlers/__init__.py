"""One module per API key. Each has `API_KEY` and `handle(ctx, request)`.

A handler returns a response object, a `Deferred` (answered later), or
None (no answer: Produce with acks=0). It never touches a socket.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from chronik.wire.apis import ALL_APIS, ApiSpec

HANDLERS: dict[int, Callable[[Any, Any], Any]] = {}


def served_apis() -> list[ApiSpec]:
    """The API keys with a handler, with the version ranges we serve."""
    return [ALL_APIS[k] for k in sorted(HANDLERS) if k in ALL_APIS]


def _load() -> None:
    for mod in pkgutil.iter_modules(__path__):
        m = importlib.import_module(f"{__name__}.{mod.name}")
        key = getattr(m, "API_KEY", None)
        if key is not None:
            HANDLERS[key] = m.handle


_load()
