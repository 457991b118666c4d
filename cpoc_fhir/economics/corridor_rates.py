"""The corridor of each participation year (value-and-models §14.4): a data file, TOML or JSON.

The shipped file (knowledge/data/corridors-example.toml) holds the rules' illustrative figures:
3 %, 5 %, 8 %, then none. A participation year the file does not list has no corridor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path

from cpoc_fhir.economics.files import decimal_field, read_table_file, text_field
from cpoc_fhir.errors import InputError

EXAMPLE = "corridors-example.toml"


@dataclass(frozen=True)
class Corridors:
    id: str
    name: str
    source: str
    date: str
    illustrative: bool
    rates: dict[int, Decimal] = field(default_factory=dict)  # participation year → fraction

    def rate(self, participation_year: int) -> Decimal | None:
        """The corridor of that year, or None (no corridor: nothing either way)."""
        return self.rates.get(participation_year)

    def header(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "date": self.date,
            "illustrative": self.illustrative,
        }


def load_corridors(path: Path | None = None) -> Corridors:
    """The corridors file at ``path``, else the shipped illustrative one."""
    if path is None:
        with resources.as_file(resources.files("cpoc_fhir.knowledge") / "data" / EXAMPLE) as p:
            return _parse(read_table_file(p), str(p))
    return _parse(read_table_file(path), str(path))


def _parse(data: dict[str, object], where: str) -> Corridors:
    head = data.get("corridors")
    if not isinstance(head, dict):
        raise InputError(where, "[corridors] is required (id, name, source, date, illustrative)")
    illustrative = head.get("illustrative", False)
    if not isinstance(illustrative, bool):
        raise InputError(where, "[corridors] illustrative must be true or false")
    rows = data.get("corridor", [])
    if not isinstance(rows, list):
        raise InputError(where, "[[corridor]] must be a list of tables")
    rates: dict[int, Decimal] = {}
    for index, row in enumerate(rows):
        at = f"{where}: corridor[{index}]"
        if not isinstance(row, dict):
            raise InputError(at, "expected a table (participation_year, rate)")
        year = row.get("participation_year")
        if isinstance(year, bool) or not isinstance(year, int) or year < 1:
            raise InputError(at, "participation_year must be a whole number from 1")
        if year in rates:
            raise InputError(at, f"participation_year {year} is listed twice")
        rate = decimal_field(row, "rate", at, "rate")
        if not Decimal(0) <= rate < Decimal(1):
            raise InputError(at, f"rate must be a fraction from 0 up to 1 (0.03 = 3 %), got {rate}")
        rates[year] = rate
    return Corridors(
        id=text_field(head, "id", where, "[corridors] id"),
        name=text_field(head, "name", where, "[corridors] name"),
        source=text_field(head, "source", where, "[corridors] source"),
        date=str(head.get("date", "")),
        illustrative=illustrative,
        rates=rates,
    )
