"""Where stmocap keeps files it makes on demand (exported models, the rendered demo clip)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$STMOCAP_CACHE`` or ``~/.cache/stmocap``."""
    return Path(os.environ.get("STMOCAP_CACHE") or Path.home() / ".cache" / "stmocap")
