"""The shared-savings arrangement and the payer's expected spending (value-and-models §13.2).

Settings file (``--settings FILE``, TOML or JSON; every key optional)::

    [savings]
    minimum_savings_rate = "0.02"   # savings are shared only when they exceed this share of
                                    # the expected spending (default 2 %)
    share = "0.50"                  # the practice's share of the savings (default 50 %)
    categories = ["laboratory", "imaging", "hospital", "emergency", "oncolytic-drugs",
                  "radiation", "supportive-drugs"]   # included (default: every category)
    enhanced_care = false           # the §13.1 supplement is elected: emergency is excluded
    categories_file = "my-categories.toml"   # default: the shipped illustrative grouping

The payer's expected spending (``--expected FILE``)::

    [expected]
    source = "Payer X, shared-savings benchmark letter of 2025-01-15"   # required
    year = 2025
    illustrative = false
    [expected.categories]           # every included category, money as decimal strings
    laboratory = "182000.00"
    imaging = "240000.00"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.categories import ServiceCategories, load_categories
from cpoc_fhir.economics.files import decimal_field, read_table_file, text_field
from cpoc_fhir.errors import InputError

DEFAULT_MSR = Decimal("0.02")
DEFAULT_SHARE = Decimal("0.50")
EMERGENCY = "emergency"
_KEYS = frozenset(
    {"minimum_savings_rate", "share", "categories", "enhanced_care", "categories_file"}
)


@dataclass(frozen=True)
class SavingsSettings:
    categories: ServiceCategories
    included: tuple[str, ...]  # category ids in the savings, in the categories file's order
    minimum_savings_rate: Decimal = DEFAULT_MSR
    share: Decimal = DEFAULT_SHARE
    enhanced_care: bool = False
    excluded: tuple[str, ...] = field(default=())  # left out, and why in ``exclusions``
    exclusions: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "minimumSavingsRate": f"{self.minimum_savings_rate:.4f}",
            "share": f"{self.share:.4f}",
            "enhancedCare": self.enhanced_care,
            "included": list(self.included),
            "excluded": [{"category": c, "why": self.exclusions[c]} for c in self.excluded],
            "categoriesFile": self.categories.header(),
        }


def default_settings() -> SavingsSettings:
    return settings_from_data({}, "default settings", Path("."))


def load_settings(path: Path | None) -> SavingsSettings:
    if path is None:
        return default_settings()
    return settings_from_data(read_table_file(path), str(path), path.parent)


def settings_from_data(data: Mapping[str, Any], where: str, base: Path) -> SavingsSettings:
    unknown = set(data) - {"savings"}
    if unknown:
        raise InputError(where, f"unknown table {sorted(unknown)[0]!r}")
    table = data.get("savings", {})
    if not isinstance(table, Mapping):
        raise InputError(where, "savings must be a table")
    bad = set(table) - _KEYS
    if bad:
        raise InputError(where, f"savings.{sorted(bad)[0]}: unknown setting")
    file = table.get("categories_file")
    if file is not None and not isinstance(file, str):
        raise InputError(where, "savings.categories_file must be a file name")
    categories = load_categories(None if file is None else base / file)
    msr = _fraction(table, "minimum_savings_rate", DEFAULT_MSR, where)
    share = _fraction(table, "share", DEFAULT_SHARE, where)
    enhanced = table.get("enhanced_care", False)
    if not isinstance(enhanced, bool):
        raise InputError(where, "savings.enhanced_care must be true or false")
    wanted = table.get("categories")
    if wanted is None:
        chosen = list(categories.labels)
    elif isinstance(wanted, list) and all(isinstance(c, str) for c in wanted):
        for c in wanted:
            if c not in categories.labels:
                raise InputError(
                    where,
                    f"savings.categories: {c!r} is not a category of "
                    f"{categories.id} ({', '.join(categories.labels)})",
                )
        chosen = [c for c in categories.labels if c in wanted]
    else:
        raise InputError(where, "savings.categories must be a list of category ids")
    exclusions = {
        c: "not in the agreed range of services (settings)"
        for c in categories.labels
        if c not in chosen
    }
    if enhanced and EMERGENCY in chosen:
        # §13.2 / II-B.3: the enhanced-care supplement rewards the ER rate already.
        chosen.remove(EMERGENCY)
        exclusions[EMERGENCY] = "the enhanced-care supplement (§13.1) is elected"
    if not chosen:
        raise InputError(where, "savings.categories: no category left in the savings")
    return SavingsSettings(
        categories=categories,
        included=tuple(chosen),
        minimum_savings_rate=msr,
        share=share,
        enhanced_care=enhanced,
        excluded=tuple(c for c in categories.labels if c in exclusions),
        exclusions=exclusions,
    )


def _fraction(table: Mapping[str, Any], key: str, default: Decimal, where: str) -> Decimal:
    if key not in table:
        return default
    value = decimal_field(table, key, where, f"savings.{key}")
    if not Decimal(0) <= value <= Decimal(1):
        raise InputError(where, f"savings.{key} must be a fraction 0-1, got {value}")
    return value


@dataclass(frozen=True)
class ExpectedSpending:
    """The payer's expected spending per category for the year (its own figure)."""

    source: str
    year: int | None
    illustrative: bool
    by_category: Mapping[str, Decimal]

    def header(self) -> dict[str, Any]:
        return {"source": self.source, "year": self.year, "illustrative": self.illustrative}


def load_expected(path: Path, settings: SavingsSettings, year: int) -> ExpectedSpending:
    where = str(path)
    data = read_table_file(path)
    table = data.get("expected")
    if not isinstance(table, Mapping):
        raise InputError(where, "missing [expected] table")
    source = text_field(table, "source", where, "expected.source")
    file_year = table.get("year")
    if file_year is not None and (not isinstance(file_year, int) or isinstance(file_year, bool)):
        raise InputError(where, "expected.year must be a year (YYYY)")
    if file_year is not None and file_year != year:
        raise InputError(where, f"expected.year is {file_year}, the report's year is {year}")
    illustrative = table.get("illustrative", False)
    if not isinstance(illustrative, bool):
        raise InputError(where, "expected.illustrative must be true or false")
    categories = table.get("categories")
    if not isinstance(categories, Mapping):
        raise InputError(where, "missing [expected.categories] table")
    amounts: dict[str, Decimal] = {}
    for category in settings.included:
        amount = decimal_field(categories, category, where, f"expected.categories.{category}")
        if amount < 0:
            raise InputError(where, f"expected.categories.{category} must not be negative")
        amounts[category] = amount
    return ExpectedSpending(source, file_year, illustrative, amounts)
