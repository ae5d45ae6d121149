"""A virtual X display (Xvfb) for rendering without a screen (``stmocap view --record``, tests).

Open3D's legacy visualizer needs an X server with GLX; Xvfb with Mesa's llvmpipe (software)
provides one, so headless output is deterministic for a given Mesa and Open3D version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path


class DisplayError(RuntimeError):
    """Xvfb is missing or did not start."""


class VirtualDisplay:
    """``Xvfb :N`` on the first free display number from ``first``; sets ``DISPLAY`` while open
    (restoring the previous value on :meth:`close`)."""

    def __init__(self, width: int = 1280, height: int = 960, first: int = 91) -> None:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise DisplayError("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
        self.number = first
        while Path(f"/tmp/.X11-unix/X{self.number}").exists() or \
                Path(f"/tmp/.X{self.number}-lock").exists():
            self.number += 1
        self.proc = subprocess.Popen(
            [exe, f":{self.number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp",
             "+extension", "GLX", "-noreset"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        socket = Path(f"/tmp/.X11-unix/X{self.number}")
        deadline = time.monotonic() + 30.0
        while not socket.exists():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise DisplayError(f"Xvfb :{self.number} exited: {err.strip()[-300:]}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise DisplayError(f"Xvfb :{self.number} did not start within 30 s")
            time.sleep(0.05)
        self._previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = f":{self.number}"

    @property
    def display(self) -> str:
        return f":{self.number}"

    def close(self) -> None:
        if self._previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = self._previous
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> VirtualDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
