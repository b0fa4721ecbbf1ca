"""Import parts of two packages without running their `__init__` at broker start-up.

The broker uses kafka-python's codecs (`kafka.protocol`, `kafka.record`) and
crc32c's C function, but importing any submodule first runs the package's
`__init__.py`:
- kafka's imports KafkaAdminClient, KafkaConsumer and KafkaProducer with
  their networking, coordinator and metrics packages: about half of the
  broker's import time (issue 18: "the broker imports only what it serves");
- crc32c's asks `importlib.metadata` for its own version (importing email,
  zipfile and csv, then reading the installed distributions) and imports
  its command-line tool with argparse.

`defer_package_inits()` registers both packages without running their
`__init__` yet; submodules import as usual, crc32c's functions are taken
from its extension module, and the first use of any other name the real
`__init__` defines (`from kafka import KafkaProducer`, `crc32c.__version__`)
runs it then, so nothing changes for code that needs more.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Any

# crc32c's names the broker uses, and the extension module that holds them.
_CRC32C_EXT = ("crc32c._crc32c", ("crc32c", "crc32", "big_endian", "hardware_based"))


def _deferred(name: str) -> ModuleType | None:
    """The package `name` registered with its `__init__` to run on first use of a name it defines."""
    if name in sys.modules:
        return None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return None
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def __getattr__(attr: str) -> Any:  # noqa: N807 - the module-level hook (PEP 562)
        if attr.startswith("__") and attr != "__version__":
            raise AttributeError(attr)
        if attr != "__version__" and importlib.util.find_spec(f"{name}.{attr}") is not None:
            return importlib.import_module(f"{name}.{attr}")  # `from kafka import errors`: a submodule
        # Run the real __init__ in this module's namespace once; it defines the rest.
        module.__dict__.pop("__getattr__", None)
        loader.exec_module(module)
        return getattr(module, attr)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
    return module


def defer_package_inits() -> list[str]:
    """Register kafka and crc32c with their `__init__` deferred: the names of those deferred."""
    done = []
    if _deferred("kafka") is not None:
        # What kafka's __init__ does besides importing the clients: keep "no handler" warnings away.
        logging.getLogger("kafka").addHandler(logging.NullHandler())
        done.append("kafka")
    crc = _deferred("crc32c")
    if crc is not None:
        ext_name, names = _CRC32C_EXT
        try:
            ext = importlib.import_module(ext_name)
            for n in names:
                setattr(crc, n, getattr(ext, n))
        except (ImportError, AttributeError):
            # Another layout of the package: let its own __init__ run as usual.
            for mod in [m for m in sys.modules if m == "crc32c" or m.startswith("crc32c.")]:
                del sys.modules[mod]
        else:
            done.append("crc32c")
    return done


def is_deferred(name: str) -> bool:
    """True while the package's `__init__` has not run (for tests)."""
    module = sys.modules.get(name)
    return module is not None and "__getattr__" in module.__dict__
