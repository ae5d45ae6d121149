"""Checks of user-given values, shared by command-line options and config files.

A check is a callable that raises :class:`ValueError` with the rest of a sentence ("must be > 0
(got 0)"); the caller puts the option's name in front (``--fps must be > 0 (got 0)`` or
``[source] fps must be > 0 (got 0)``). :func:`arg_type` turns a converter and checks into an
``argparse`` ``type=`` so a bad option stops the command at parse time, in one line, exit code 2.
Stage dataclasses name their checks in ``field(metadata={"check": ...})``; :mod:`stmocap.config`
applies them to options and config files alike.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``low < value`` with ``low_open``); ``None``: unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def describe(self) -> str:
        lo = None if self.low is None else f"{self.low:g}"
        hi = None if self.high is None else f"{self.high:g}"
        if lo is not None and hi is not None:
            return f"in {lo}..{hi}" if not self.low_open else f"> {lo} and <= {hi}"
        if lo is not None:
            return f"> {lo}" if self.low_open else f">= {lo}"
        return f"<= {hi}"

    def __call__(self, value: Any) -> None:
        ok = not (isinstance(value, float) and not math.isfinite(value))
        if self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value <= self.high
        if not ok:
            shown = f"{value:g}" if isinstance(value, float) else value
            raise ValueError(f"must be {self.describe()} (got {shown})")


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_ONE = Range(1)
PORT = Range(1, 65535)


def non_empty(value: str) -> None:
    """A string with something in it (``--source ""`` would otherwise name the current folder)."""
    if not str(value).strip():
        raise ValueError("must not be empty")


@dataclass(frozen=True)
class OneOf:
    """``value`` is one of ``choices`` or matches one of the regular expressions ``patterns``."""

    choices: tuple[str, ...]
    patterns: tuple[str, ...] = ()

    def __call__(self, value: str) -> None:
        if value in self.choices or any(re.fullmatch(p, value) for p in self.patterns):
            return
        shown = ", ".join(self.choices + tuple(_pattern_hint(p) for p in self.patterns))
        raise ValueError(f"must be one of {shown} (got {value!r})")


def _pattern_hint(pattern: str) -> str:
    return pattern.replace(r"\d+", "N").replace("(:", "[").replace(")?", "]").replace("\\", "")


_TCP = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+):(?P<port>[^:/]*)")


def endpoint_problem(text: str, bind: bool) -> str | None:
    """Why ``text`` is not a usable ZeroMQ endpoint (``None`` if it is). ``bind``: an address to
    publish on (``*`` allowed as host); otherwise one to connect to."""
    if text.startswith("ipc://"):
        return None if text[6:].strip() else "ipc:// needs a path, e.g. ipc:///tmp/stmocap.sock"
    if text.startswith("inproc://"):
        return "inproc:// only works inside one process; use tcp://HOST:PORT or ipc://PATH"
    if not text.startswith("tcp://"):
        return "must be tcp://HOST:PORT or ipc://PATH"
    m = _TCP.fullmatch(text)
    if m is None:
        return "must be tcp://HOST:PORT (e.g. tcp://127.0.0.1:5556)"
    if m["host"] == "*" and not bind:
        return "a client needs the server's host, not *"
    port = m["port"]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return "must end in a port in 1..65535"
    return None


def bind_endpoint(text: str) -> None:
    """An endpoint to publish on: ``tcp://HOST:PORT`` (HOST may be ``*``) or ``ipc://PATH``."""
    if (why := endpoint_problem(text, bind=True)) is not None:
        raise ValueError(f"{why} (got {text!r})")


def connect_endpoint(text: str) -> None:
    """An endpoint to connect to: ``tcp://HOST:PORT`` or ``ipc://PATH``."""
    if (why := endpoint_problem(text, bind=False)) is not None:
        raise ValueError(f"{why} (got {text!r})")


Check = Callable[[Any], None]


def run_checks(value: Any, checks: Sequence[Check]) -> None:
    """Apply every check to ``value`` (each item of a tuple or list)."""
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if item is None:
            continue
        for check in checks:
            check(item)


def arg_type(convert: Callable[[str], Any], *checks: Check) -> Callable[[str], Any]:
    """An ``argparse`` ``type=``: ``convert`` the text, then apply ``checks``; failures become
    ``argument --opt: must be > 0 (got 0)`` (argparse names the option)."""

    def parse(text: str) -> Any:
        value = convert(text)  # ValueError here: argparse says "invalid int value: 'x'"
        try:
            run_checks(value, checks)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
        return value

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


positive_int = arg_type(int, POSITIVE)
non_negative_int = arg_type(int, NON_NEGATIVE)
positive_float = arg_type(float, POSITIVE)
non_negative_float = arg_type(float, NON_NEGATIVE)
