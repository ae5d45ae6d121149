"""Frozen-dataclass configuration: one TOML file format, command-line options generated from fields.

Every stage declares a ``@dataclass(frozen=True)`` whose fields carry defaults and, in
``field(metadata={"help": ...})``, a help sentence. :func:`add_dataclass_options` turns the fields into
``argparse`` options (``--field-name``); :func:`build_config` merges, in increasing priority, the
dataclass defaults, a TOML table from ``--config FILE`` and the options given on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message is one line for the user."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _converter(tp: Any) -> tuple[Any, dict[str, Any]]:
    """Return (type callable, extra argparse kwargs) for a field annotation."""
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        return type(choices[0]), {"choices": choices}
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _converter(inner[0])
    if origin is tuple:
        args = get_args(tp)
        item = args[0]
        return item, {"nargs": "+"}
    if tp is bool:
        return None, {"action": argparse.BooleanOptionalAction}
    if tp is Path:
        return Path, {}
    return tp, {}


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--option`` per field of the frozen dataclass ``cls`` (default: not given)."""
    hints = _field_types(cls)
    group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").strip().split("\n")[0])
    for f in dataclasses.fields(cls):
        conv, extra = _converter(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f.metadata.get("help", "")
        help_text = f"{help_text} (default: {default})" if help_text else f"default: {default}"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if conv is not None:
            kwargs["type"] = conv
        kwargs.update(extra)
        group.add_argument(_option(f.name), **kwargs)


def _coerce(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown {cls.__name__} option(s) {unknown}; valid: {sorted(names)}"
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        tp = hints[key]
        origin = get_origin(tp)
        if origin is tuple and isinstance(value, list):
            value = tuple(value)
        elif origin is Literal and value not in get_args(tp):
            raise ConfigError(f"{key}={value!r} is not one of {list(get_args(tp))}")
        elif tp is Path and isinstance(value, str):
            value = Path(value)
        out[key] = value
    return out


def load_toml_table(path: Path, table: str | None = None) -> dict[str, Any]:
    """Read ``path`` (TOML) and return the table ``table`` (the whole document if ``None``)."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    if table is None:
        return doc
    section = doc.get(table, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{table}] in {path} must be a table")
    return section


def build_config(
    cls: type[T],
    args: argparse.Namespace | None = None,
    file: Path | None = None,
    table: str | None = None,
    base: T | None = None,
) -> T:
    """Build ``cls`` from ``base`` (or the field defaults) < TOML table ``table`` of ``file`` <
    options present in ``args``."""
    values: dict[str, Any] = {}
    if base is not None:
        values.update({f.name: getattr(base, f.name) for f in dataclasses.fields(cls)})
    if file is not None:
        values.update(load_toml_table(file, table))
    if args is not None:
        names = {f.name for f in dataclasses.fields(cls)}
        values.update({k: v for k, v in vars(args).items() if k in names})
    try:
        return cls(**_coerce(cls, values))
    except TypeError as exc:
        raise ConfigError(f"invalid {cls.__name__}: {exc}") from exc
