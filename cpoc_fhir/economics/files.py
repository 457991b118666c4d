"""Reading the economics input files (fee schedule, relative values): TOML or JSON, Decimal.

Every problem names the file and the field (``where: field: problem``), never a value that
could be patient data (these files hold none).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError


def read_table_file(path: Path) -> dict[str, Any]:
    """A TOML file, or JSON when the name ends in ``.json``; decimals kept as written."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
    else:
        try:
            data = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(str(path), f"not valid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "expected a table (a JSON object) at the top")
    return data


def decimal_field(table: Mapping[str, Any], key: str, where: str, field: str) -> Decimal:
    """A finite number given as a TOML/JSON number or a decimal string."""
    value = table.get(key)
    if value is None:
        raise InputError(where, f"{field} is required")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InputError(where, f"{field} is not a number")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        raise InputError(where, f"{field} is not a number: {value!r}") from None
    if not number.is_finite():
        raise InputError(where, f"{field} is not a finite number: {value!r}")
    return number


def text_field(table: Mapping[str, Any], key: str, where: str, field: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(where, f"{field} is required (text)")
    return value
