"""Where stmocap keeps files it makes on demand (exported models, the rendered demo clip)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def cache_root() -> Path:
    """``$STMOCAP_CACHE`` or ``~/.cache/stmocap``."""
    return Path(os.environ.get("STMOCAP_CACHE") or Path.home() / ".cache" / "stmocap")


@contextlib.contextmanager
def building(artifact: Path) -> Iterator[None]:
    """Hold the inter-process lock of ``artifact`` (the file ``artifact.lock`` beside it) while
    the block checks whether it exists and makes it if not.

    Two stmocap processes started at once (two `stmocap train-data` chains, a run beside a
    benchmark) would otherwise both find the artifact missing and write the same files at the
    same time, and one of them read the other's half-written export. The second now waits, then
    finds the first one's finished artifact. The lock is released when the holder exits, even
    when it is killed."""
    from filelock import FileLock

    artifact.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(artifact) + ".lock"):
        yield
