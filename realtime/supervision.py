"""Liveness between the supervisor and its workers: lock-free flags, heartbeats, stall detection.

Every worker runs a :class:`Heartbeat` thread from its first moment. The thread reports the
worker's progress counters (messages ``received`` from its inbound socket, messages ``sent``
downstream, and the stage it is in, ``at``) to the supervisor's control socket a few times a
second, and ends the process if the supervisor has gone. The supervisor's :class:`StallWatch`
turns those reports into one decision: a worker is *stalled* when

- it stopped reporting for the stall timeout (suspended with SIGSTOP, or stuck in a call that holds
  the interpreter), or
- its upstream has sent it more than it has received (input waits for it) and none of its counters
  changed for the stall timeout (stuck in a stage, or blocked sending to a stalled downstream).

A live camera without frames, or a stage idle because upstream is idle, has no input waiting and
never counts as stalled. Nothing counts before frames flow (every process set up).

:class:`Flag` replaces ``multiprocessing.Event`` for stop/go/finished: an Event takes a lock shared
by every process, and a worker suspended while holding it would freeze the supervisor's
``set()`` (and so Ctrl-C). A flag is one byte of shared memory.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

BEAT_S = 0.25  # seconds between heartbeats


class Flag:
    """A boolean shared between processes without a lock (picklable at spawn only): stop, go and
    finished are only ever set; the preview's demand goes on and off."""

    def __init__(self, mpctx: Any) -> None:
        self._value = mpctx.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def clear(self) -> None:
        self._value.value = 0

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float) -> bool:
        """True once set; False if ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.02, left))
        return True


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (even if this one is suspended);
    elsewhere a no-op (the heartbeat thread's orphan check remains)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


class Heartbeat(threading.Thread):
    """Reports ``counters()`` to the control socket every :data:`BEAT_S`; exits the process at
    once when the parent process is gone (no orphans, even if the main thread is stuck)."""

    def __init__(self, ctx: zmq.Context, control: str, worker: int,
                 counters: Callable[[], dict[str, Any]], parent: int) -> None:
        super().__init__(name=f"heartbeat-{worker}", daemon=True)
        self.ctx = ctx
        self.control = control
        self.worker = worker
        self.counters = counters
        self.parent = parent
        self.halt = threading.Event()

    def run(self) -> None:
        sock = self.ctx.socket(zmq.PUSH)  # sockets are per thread
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 16)
        sock.connect(self.control)
        try:
            while not self.halt.wait(BEAT_S):
                if os.getppid() != self.parent:
                    os._exit(3)  # the supervisor is gone: nobody will stop this process
                try:
                    sock.send_json({"event": "beat", "worker": self.worker, **self.counters()},
                                   zmq.NOBLOCK)
                except zmq.Again:
                    pass  # the supervisor is busy; the next beat carries the same counters
                except RuntimeError:
                    pass  # a counter changed while being copied; the next beat has it
        finally:
            sock.close(0)

    def stop(self) -> None:
        self.halt.set()
        self.join(1.0)


@dataclass
class _Progress:
    first_beat: float | None = None
    last_beat: float = 0.0
    received: int = 0
    sent: int = 0
    at: str | None = None
    changed: float = 0.0  # when received/sent last changed
    waiting_since: float | None = None  # when input was first seen waiting (None: none waits)
    done: bool = False


class StallWatch:
    """Decides, from heartbeats, whether a worker has stalled (see the module docstring).

    ``labels[i]`` names worker ``i``'s stages for the message; ``timeout <= 0`` disables the watch.
    """

    def __init__(self, labels: list[str], first_stages: list[str], timeout: float) -> None:
        self.labels = labels
        self.first_stages = first_stages
        self.timeout = timeout
        self.workers = [_Progress() for _ in labels]
        self.flowing_since: float | None = None

    def flowing(self, now: float) -> None:
        """Frames start to flow (every process has set up). Silence counts only from here: while
        a process sets up, a library call may hold the interpreter for seconds (creating an ONNX
        Runtime session, say), and nothing waits for it yet."""
        self.flowing_since = now

    def beat(self, worker: int, received: int, sent: int, at: str | None, now: float) -> None:
        p = self.workers[worker]
        if p.first_beat is None:
            p.first_beat = p.changed = now
        if (received, sent) != (p.received, p.sent):
            p.changed = now
        p.last_beat, p.received, p.sent, p.at = now, received, sent, at

    def done(self, worker: int) -> None:
        self.workers[worker].done = True

    def _stage(self, i: int) -> str:
        at = self.workers[i].at
        return at if at and at != "send" else self.first_stages[i]

    def check(self, now: float) -> str | None:
        """One line naming the stalled stage, or ``None``. Downstream workers are checked first:
        a stalled stage also stalls every process that sends to it."""
        if self.timeout <= 0 or self.flowing_since is None:
            return None
        for i in reversed(range(len(self.workers))):
            p = self.workers[i]
            if p.done or p.first_beat is None:
                continue
            silent = now - max(p.last_beat, self.flowing_since)
            if silent > self.timeout:
                return (f"stage {self._stage(i)} ({self.labels[i]}) stopped responding: no "
                        f"heartbeat for {silent:.0f} s (suspended or hung; --stall-timeout "
                        f"{self.timeout:g})")
            pending = i > 0 and self.workers[i - 1].sent > p.received
            if not pending:
                p.waiting_since = None
                continue
            if p.waiting_since is None:
                p.waiting_since = now
            still = now - max(p.changed, p.waiting_since)
            if still > self.timeout:
                return (f"stage {self._stage(i)} ({self.labels[i]}) made no progress for "
                        f"{still:.0f} s while input waited for it (--stall-timeout "
                        f"{self.timeout:g})")
        return None


# What each control event must carry (beyond ``event``, ``worker`` and ``token``).
EVENT_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "started": {"pid": int},
    "source": {"description": str, "live": bool, "fps": (int, float, type(None))},
    "stats": {"stats": dict},
    "done": {"rejected": int, "records": (list, type(None)), "reasons": dict, "nonfinite": dict},
    "error": {"error": str, "stage": str},
    "beat": {"received": int, "sent": int, "at": (str, type(None)), "rejected": int,
             "nonfinite": dict},
}


def parse_event(raw: bytes, workers: int, token: str) -> tuple[dict[str, Any] | None, str]:
    """A control-socket message → ``(event, "")``, or ``(None, reason)`` for anything that is not
    an event of a known kind with its fields, from one of this run's ``workers`` (``token``)."""
    import hmac
    import json

    try:
        ev = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "not JSON"
    if not isinstance(ev, dict):
        return None, "not a JSON object"
    kind, worker = ev.get("event"), ev.get("worker")
    if not isinstance(kind, str) or kind not in EVENT_FIELDS:
        return None, f"unknown event {str(kind)[:40]!r}"
    if not isinstance(worker, int) or isinstance(worker, bool) or not 0 <= worker < workers:
        return None, f"{kind} event from unknown worker {str(worker)[:20]!r}"
    sent_token = ev.get("token")
    if not isinstance(sent_token, str) or not hmac.compare_digest(sent_token, token):
        return None, f"{kind} event without the run token"
    for key, typ in EVENT_FIELDS[kind].items():
        if not isinstance(ev.get(key), typ):
            return None, f"{kind} event field '{key}' missing or of the wrong type"
    return ev, ""
