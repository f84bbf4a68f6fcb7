"""The optional C accelerators of ingest (streams/ingest/_*.c, built by setup.py when
a compiler is at hand). Each has a Python reference that gives the same results and
runs where the C module is not built, or everywhere with SLUICE_PURE_PYTHON=1."""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def load(name: str) -> ModuleType | None:
    """streams.ingest.<name>, or None when it is not built."""
    try:
        return importlib.import_module(f"streams.ingest.{name}")
    except ImportError:
        return None


def wanted() -> bool:
    """False when SLUICE_PURE_PYTHON=1 asks for the Python references everywhere."""
    return os.environ.get("SLUICE_PURE_PYTHON") != "1"
