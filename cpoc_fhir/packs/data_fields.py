"""Fields of a pack's data file (value-and-models §15): the checks the OCM and EOM data
parsers share. Pure (the files are read by ``pack_data.read_data_file``); a bad field is a
``ValueError`` naming it, which the reader turns into an ``InputError`` naming the file."""

from __future__ import annotations

from datetime import date
from typing import Any


def data_date(value: Any, field: str) -> date:
    """A TOML date, or an ISO date string, of ``field``."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(f"{field}: not a date ({value!r})")
