"""The value-based adjustment for year Y+1 from the three ratings of year Y (§12.4, II-C.2).

Each rating scores +1 (high), 0 (appropriate) or −1 (low). The sum picks a row of the
proposal's II-C.2 table (``knowledge/data/vba-table.toml``): +3 "high on all three", +1 "high
on two, low on one", −1 "high on one, low on two", −3 "low on all three". The sums the table
has no row for: +2 and −2 take the midpoint of the two neighbouring rows (or, with
``between_rows = "toward-standard"`` in the table file, the neighbour nearer to 0 %), and 0 is
the standard payment, 0 % (§12.4 **Interpretation**). The column is the participation year,
1…7; year 8 and later take year 7.

The result is a fraction (``Decimal("0.015")`` = +1.5 %), exact: the table's percentages are
decimal strings and a midpoint of two of them is exact in Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.loader import read_data_file
from cpoc_fhir.value.model import Rating
from cpoc_fhir.value.ratings import RatingError

TABLE_FILE = "vba-table.toml"
ROW_SCORES = (3, 1, -1, -3)
BETWEEN_ROWS = ("midpoint", "toward-standard")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class VbaTable:
    """The II-C.2 table: per row score, the adjustment (a fraction) per participation year."""

    rows: Mapping[int, tuple[Decimal, ...]]
    labels: Mapping[int, str]
    years: int
    between_rows: str = "midpoint"
    source: str = ""

    def row(self, score: int, participation_year: int) -> Decimal:
        return self.rows[score][_column(participation_year, self.years)]

    def adjustment(self, participation_year: int, score: int) -> Decimal:
        """The adjustment for a sum of scores (−3…+3) in a participation year (1, 2, …)."""
        if score not in range(-3, 4):
            raise RatingError(f"a sum of three scores is -3…3, got {score!r}")
        if score == 0:
            return Decimal(0)  # the standard payment
        if score in self.rows:
            return self.row(score, participation_year)
        outer, inner = (3, 1) if score > 0 else (-3, -1)
        if self.between_rows == "toward-standard":
            return self.row(inner, participation_year)
        return (self.row(outer, participation_year) + self.row(inner, participation_year)) / 2


def _column(participation_year: int, years: int) -> int:
    if isinstance(participation_year, bool) or not isinstance(participation_year, int):
        raise RatingError(f"participation year must be a whole number, got {participation_year!r}")
    if participation_year < 1:
        raise RatingError(f"participation year starts at 1, got {participation_year}")
    return min(participation_year, years) - 1


def adjustment(
    participation_year: int,
    ratings: tuple[Rating, Rating, Rating],
    table: VbaTable | None = None,
) -> Decimal:
    """The adjustment for ratings (pathways, quality, ER): a fraction, 0.015 = +1.5 %."""
    if len(ratings) != 3 or not all(isinstance(r, Rating) for r in ratings):
        raise RatingError("three ratings are needed: pathways, quality and ER")
    score = sum(r.score for r in ratings)
    return (table or vba_table()).adjustment(participation_year, score)


def percent_text(value: Decimal) -> str:
    """A fraction as the proposal writes it: ``+1.5%``, ``0%``, ``-10%`` (no trailing zeros)."""
    percent = value * HUNDRED
    if percent == 0:
        return "0%"
    text = format(percent.normalize(), "f")
    return f"+{text}%" if percent > 0 else f"{text}%"


@cache
def vba_table() -> VbaTable:
    """The shipped II-C.2 table."""
    return table_from_data(read_data_file(TABLE_FILE), TABLE_FILE)


def table_from_data(data: Mapping[str, Any], where: str) -> VbaTable:
    """Build and check a table: every row of ROW_SCORES, one value per year."""
    head = data.get("table")
    if not isinstance(head, Mapping):
        raise KnowledgeError(f"{where}: missing [table]")
    years = head.get("years")
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise KnowledgeError(f"{where}: table.years must be a whole number ≥ 1, got {years!r}")
    between = head.get("between_rows", "midpoint")
    if between not in BETWEEN_ROWS:
        raise KnowledgeError(
            f"{where}: table.between_rows must be one of {', '.join(BETWEEN_ROWS)}, got {between!r}"
        )
    rows: dict[int, tuple[Decimal, ...]] = {}
    labels: dict[int, str] = {}
    entries = data.get("rows")
    if not isinstance(entries, Sequence):
        raise KnowledgeError(f"{where}: missing [[rows]]")
    for i, entry in enumerate(entries):
        score = entry.get("score") if isinstance(entry, Mapping) else None
        if score not in ROW_SCORES or score in rows:
            raise KnowledgeError(
                f"{where}: rows[{i}].score must be one of {ROW_SCORES}, each once; got {score!r}"
            )
        percents = entry.get("percent")
        if not isinstance(percents, list) or len(percents) != years:
            raise KnowledgeError(f"{where}: rows[{i}].percent must list {years} years")
        rows[score] = tuple(_fraction(p, f"{where}: rows[{i}].percent") for p in percents)
        labels[score] = str(entry.get("label", ""))
    missing = [s for s in ROW_SCORES if s not in rows]
    if missing:
        raise KnowledgeError(f"{where}: no row for score {missing[0]}")
    return VbaTable(rows, labels, years, between, str(head.get("source", "")))


def _fraction(text: Any, where: str) -> Decimal:
    try:
        if not isinstance(text, str):
            raise TypeError(text)
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise KnowledgeError(f"{where}: {text!r} is not a percentage (decimal string)") from None
    if not value.is_finite():
        raise KnowledgeError(f"{where}: {text!r} is not a finite percentage")
    return value / HUNDRED
