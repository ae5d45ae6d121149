"""Files written under a temporary name and renamed into place when complete."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temporary_beside(path: Path, prefix: str, suffix: str) -> Path:
    """Create a new, empty file in ``path``'s folder named ``prefix + <random> + suffix``.

    Unlike ``tempfile.mkstemp`` (always mode 0600), the file gets the permissions of any file the
    user creates (0666 less the umask), so the output it is renamed to is as readable as one
    written directly: a render or a recording another user or a web server can open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        try:
            with open(tmp, "xb"):
                return tmp
        except FileExistsError:  # pragma: no cover - 32 random bits and the pid collided
            continue
