"""Relative values of the CPOC codes: the proposal's (II-C), or a revision to try (V-A step 5).

A revision file (TOML, or JSON when the name ends in ``.json``) changes only the codes it
lists; relative values are % of the New Patient payment, so the base stays "per 100"::

    name = "Treatment Month level 1 raised"     # optional
    source = "practice workgroup, 2026-03"      # optional
    [codes]
    xx201 = 30
    xx302 = "12.5"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.files import decimal_field, read_table_file
from cpoc_fhir.errors import InputError
from cpoc_fhir.packs.cpoc.codes import CODES


@dataclass(frozen=True)
class RelativeValues:
    values: Mapping[str, Decimal] = field(
        default_factory=lambda: {code: rv for code, (_, _, rv) in CODES.items()}
    )
    name: str = "proposal II-C (cpoc-rules §1)"
    source: str | None = None

    def __getitem__(self, code: str) -> Decimal:
        return self.values[code]

    def changed(self) -> dict[str, tuple[Decimal, Decimal]]:
        """code → (proposal's value, this revision's), for the codes that differ."""
        return {
            code: (CODES[code][2], value)
            for code, value in self.values.items()
            if value != CODES[code][2]
        }

    def header(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "changed": {code: [str(a), str(b)] for code, (a, b) in self.changed().items()},
        }


def load_relative_values(path: Path) -> RelativeValues:
    """A revision file; unknown codes and negative values are refused, naming the key."""
    where = str(path)
    data = read_table_file(path)
    unknown = set(data) - {"name", "source", "codes"}
    if unknown:
        raise InputError(
            where, f"unknown key {sorted(unknown)[0]!r} (expected name, source, codes)"
        )
    codes = data.get("codes")
    if not isinstance(codes, Mapping) or not codes:
        raise InputError(where, "codes: a table of CPOC code = relative value is required")
    values = {code: rv for code, (_, _, rv) in CODES.items()}
    for code in codes:
        if code not in CODES:
            raise InputError(where, f"codes.{code} is not a CPOC code ({', '.join(CODES)})")
        value = decimal_field(codes, code, where, f"codes.{code}")
        if value < 0:
            raise InputError(where, f"codes.{code} must not be negative, got {value}")
        values[code] = value
    return RelativeValues(
        values, str(data.get("name") or path.name), _optional_text(data.get("source"))
    )


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
