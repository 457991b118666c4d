"""Checks of setting values and names, shared by the settings file and ``CPOC_*`` variables.

A bad setting is refused with the setting's name, the value given and what is expected, never
a Python message (``'<' not supported between …``); an unknown name is refused too, with the
closest known one, because a misspelt setting that is silently ignored bills on the default.
Values come typed from TOML (``check_value``) or as text from the environment
(``parse_text``), against the type annotation of the settings dataclass field they fill.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.errors import InputError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingValueError(ValueError):
    """A value does not fit its setting: the message says what is expected and what came."""


def shown(value: Any) -> str:
    """A value as the error shows it: its repr, cut at 60 characters, and its kind."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "…"
    kinds = {str: "text", bool: "true/false", int: "a number", Decimal: "a number"}
    kind = next((k for t, k in kinds.items() if type(value) is t), type(value).__name__)
    return f"{text} ({kind})" if isinstance(value, (str, dict, list)) else text


def check_value(value: Any, annotation: Any) -> Any:
    """``value`` (from TOML) checked against ``annotation``; raises ``SettingValueError``."""
    kind = _kind(annotation)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise SettingValueError(f"expected true or false, got {shown(value)}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise SettingValueError(f"expected a whole number ≥ 0, got {shown(value)}")
    if kind == "decimal":
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return Decimal(value)
        raise SettingValueError(f"expected a number, got {shown(value)}")
    if kind == "str":
        if isinstance(value, str):
            return value
        raise SettingValueError(f"expected text (in quotes), got {shown(value)}")
    if kind == "mapping":
        return _mapping(value, typing.get_args(annotation))
    if kind == "tuple":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise SettingValueError(f"expected a list of text values, got {shown(value)}")
    return value


def parse_text(text: str, annotation: Any) -> Any:
    """An environment variable's text as a value of ``annotation``; ``SettingValueError``."""
    kind = _kind(annotation)
    value = text.strip()
    if kind == "bool":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise SettingValueError(f"expected on or off (true/false, 1/0), got {text!r}")
    if kind == "int":
        if value.isdigit():
            return int(value)
        raise SettingValueError(f"expected a whole number ≥ 0, got {text!r}")
    if kind == "decimal":
        try:
            return Decimal(value)
        except InvalidOperation:
            raise SettingValueError(f"expected a number, got {text!r}") from None
    if kind == "mapping":
        try:
            parsed = json.loads(value, parse_float=Decimal)
        except json.JSONDecodeError:
            raise SettingValueError(
                f'expected a JSON object such as {{"breast": 120}}, got {text!r}'
            ) from None
        return _mapping(parsed, typing.get_args(annotation))
    if kind == "tuple":
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return text


def _mapping(value: Any, args: tuple[Any, ...]) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SettingValueError(f"expected a table of names to values, got {shown(value)}")
    inner = args[1] if len(args) == 2 else Any
    out = {}
    for key, item in value.items():
        try:
            out[key] = check_value(item, inner)
        except SettingValueError as exc:
            raise SettingValueError(f"{key}: {exc}") from None
    return types.MappingProxyType(out)


def _kind(annotation: Any) -> str:
    """What a field's annotation asks for: bool, int, decimal, str, mapping, tuple or any."""
    if annotation in (bool, int, str, Decimal):
        return {bool: "bool", int: "int", str: "str", Decimal: "decimal"}[annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # X | None: the X (TOML has no null)
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(rest[0]) if len(rest) == 1 else "any"
    if origin is not None and isinstance(origin, type):
        if issubclass(origin, Mapping):
            return "mapping"
        if issubclass(origin, tuple):
            return "tuple"
    return "any"


def unknown_name(name: str, known: Iterable[str], what: str) -> str:
    """The message for an unknown setting ``name``: the closest known one, else all."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"unknown {what} (did you mean {close[0]}?)"
    return f"unknown {what} (known: {', '.join(names)})"


class ReadEnviron(Mapping[str, str]):
    """The environment as a settings loader sees it, noting each name it looks up, so that
    ``unread`` can name the variables of its prefix it does not know."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._environ[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._environ

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self._environ.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)

    def unread(self, prefixes: tuple[str, ...]) -> list[str]:
        """The set variables starting with one of ``prefixes`` the loader never looked up."""
        return sorted(k for k in self._environ if k.startswith(prefixes) and k not in self.read)

    def refuse_unknown(self, prefixes: tuple[str, ...]) -> None:
        """Raise ``InputError`` naming the first variable of ``prefixes`` left unread."""
        for name in self.unread(prefixes):
            known = {k for k in self.read if k.startswith(prefixes)}
            raise InputError(name, unknown_name(name, known, "variable"))
