"""Frozen-dataclass configuration: one TOML file format, command-line options generated from fields.

Every stage declares a ``@dataclass(frozen=True)`` whose fields carry defaults and, in
``field(metadata={"help": ...})``, a help sentence. :func:`add_dataclass_options` turns the fields into
``argparse`` options (``--field-name``); :func:`build_config` merges, in increasing priority, the
dataclass defaults, a TOML table from ``--config FILE`` and the options given on the command line.

Values are checked where they enter: options by their ``argparse`` type (the field's
``metadata["check"]``, see :mod:`stmocap.validate`), config files by :func:`check_document` and
:func:`table_values` (unknown tables and keys name the nearest valid one; a wrong type names
``[table] key`` and the expected type; a value out of range names its range).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from stmocap.validate import arg_type, run_checks

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message is one line for the user."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_checks(f: dataclasses.Field) -> tuple[Any, ...]:
    """The checks a field declares in ``metadata["check"]`` (one or a tuple)."""
    check = f.metadata.get("check")
    if check is None:
        return ()
    return tuple(check) if isinstance(check, tuple | list) else (check,)


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
            checks = field_checks(f)
            kwargs["type"] = arg_type(conv, *checks) if checks else conv
        kwargs.update(extra)
        group.add_argument(_option(f.name), **kwargs)


def _nearest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _expected(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return _expected(next(a for a in get_args(tp) if a is not type(None)))
    if origin is tuple:
        return f"a list of {_expected(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            Path: "a path (string)"}.get(tp, getattr(tp, "__name__", str(tp)))


def _typed(tp: Any, value: Any) -> tuple[bool, Any]:
    """(value fits ``tp``, the value converted to it) for a value read from TOML."""
    origin = get_origin(tp)
    if origin is Literal:
        return value in get_args(tp), value
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return _typed(next(a for a in get_args(tp) if a is not type(None)), value)
    if origin is tuple:
        if not isinstance(value, list):
            return False, value
        items = [_typed(get_args(tp)[0], v) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if tp is Path:
        return isinstance(value, str), Path(value) if isinstance(value, str) else value
    return True, value


def table_values(cls: type, table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The values of a config table for ``cls``, converted and checked; ``where`` (e.g.
    ``"[source] in run.toml"``) starts every error."""
    hints = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}{_nearest(key, sorted(fields))} "
                              f"(valid: {', '.join(sorted(fields))})")
        ok, converted = _typed(hints[key], value)
        if not ok:
            raise ConfigError(f"{where}: {key} must be {_expected(hints[key])} (got {value!r})")
        try:
            run_checks(converted, field_checks(fields[key]))
        except ValueError as exc:
            raise ConfigError(f"{where}: {key} {exc}") from exc
        out[key] = converted
    return out


def load_toml(path: Path) -> dict[str, Any]:
    """Read the TOML file ``path``; every failure names the file."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {path} is a folder, not a TOML file") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (TOML must be): {exc.reason} "
                          f"at byte {exc.start}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def check_document(path: Path, sections: Mapping[str, type]) -> dict[str, Any]:
    """Load ``path`` and check it whole against ``sections`` (table name → dataclass): every
    top-level entry must be one of the tables, every key a field of its table's class."""
    doc = load_toml(path)
    names = sorted(sections)
    for name, value in doc.items():
        if name not in sections:
            home = [t for t, c in sections.items() if name in {f.name for f in dataclasses.fields(c)}]
            hint = f"; {name} belongs in [{home[0]}]" if home and not isinstance(value, dict) \
                else _nearest(name, names)
            kind = "table" if isinstance(value, dict) else "top-level key"
            raise ConfigError(f"{path}: unknown {kind} {name!r}{hint} (tables: "
                              f"{', '.join(names)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {name} must be a table [{name}], got {value!r}")
        table_values(sections[name], value, f"{path} [{name}]")
    return doc


def load_toml_table(path: Path, table: str | None = None) -> dict[str, Any]:
    """Read ``path`` (TOML) and return the table ``table`` (the whole document if ``None``)."""
    doc = load_toml(path)
    if table is None:
        return doc
    section = doc.get(table, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {table} must be a table [{table}], got {section!r}")
    return section


def build_config(
    cls: type[T],
    args: argparse.Namespace | None = None,
    file: Path | None = None,
    table: str | None = None,
    base: T | None = None,
) -> T:
    """Build ``cls`` from ``base`` (or the field defaults) < TOML table ``table`` of ``file`` <
    options present in ``args``. File values are type- and range-checked here; options were
    checked by their ``argparse`` types."""
    values: dict[str, Any] = {}
    if base is not None:
        values.update({f.name: getattr(base, f.name) for f in dataclasses.fields(cls)})
    if file is not None:
        where = f"{file} [{table}]" if table else str(file)
        values.update(table_values(cls, load_toml_table(file, table), where))
    if args is not None:
        hints = _field_types(cls)
        values.update({k: tuple(v) if get_origin(hints[k]) is tuple and isinstance(v, list) else v
                       for k, v in vars(args).items() if k in hints})
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"invalid {cls.__name__}: {exc}") from exc
