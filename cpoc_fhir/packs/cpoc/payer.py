"""A payer's CPOC fee schedule: amounts per code (cpoc-rules §1), per year (value-and-models
§12.4, §13.3), and the payer's own billing codes.

amount = round-half-up to cents of base × rv/100 × gpci × (1 + vba), with the base, GPCI and
value-based adjustment (vba) of the year of the line's date — its billing month's start (a
New Patient line: its visit day). Money is Decimal.

Two file forms (TOML or JSON, same structure):

- **one year** (the original form): ``[payer]`` holds ``new_patient_amount``, ``gpci``,
  ``value_based_adjustment`` and optionally ``year``; those figures price every date.
- **per year**: ``[years.<YYYY>]`` tables, each with ``new_patient_amount`` (required in the
  first year; later years: base of the year before × (1 + ``inflation_update``) unless
  given), ``inflation_update`` (the year's update over the year before; default
  ``[payer] inflation_update``, itself "mei" by default — the Medicare Economic Index of that
  calendar year, from the index the loader passes in), ``gpci`` (a number, or a table
  locality → factor; default: the year before's, 1 in the first year) and
  ``value_based_adjustment`` (default 0, the standard payment: an adjustment is earned for one
  year). "The year before" is the previous year listed in the file. A date before the first
  year takes the first year's figures; a later year the file does not list, the base and GPCI
  of the latest listed year before it with no adjustment (``for_date``).

``gpci`` given per locality is selected by the practice's locality: the ``locality`` setting,
else ``[payer] locality``. The derived base is kept unrounded (the amount is rounded once).

``[enhanced_care]`` (value-and-models §13.1): the supplemental payment, read by
``packs/cpoc/enhanced_care.py``; it prices ``xx600``, which has no relative value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.packs.cpoc.codes import CODES, ENHANCED_CARE_CODE, LINE_CODES
from cpoc_fhir.packs.cpoc.enhanced_care import EnhancedCare

CENT = Decimal("0.01")
MEI = "mei"


@dataclass(frozen=True)
class PayerCode:
    """The payer's own code for a CPOC code (a second coding on the ChargeItem)."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True)
class PayerYear:
    """One year's figures, resolved (base derived, GPCI of the practice's locality)."""

    year: int | None  # None: a one-year file without a year (every date)
    base: Decimal
    gpci: Decimal = Decimal(1)
    vba: Decimal = Decimal(0)
    update: Decimal | None = None  # the inflation update that derived the base, if it was
    base_given: bool = True


@dataclass(frozen=True)
class PayerSchedule:
    id: str
    name: str
    base: Decimal  # the payer's New Patient amount (first year of a per-year file)
    gpci: Decimal = Decimal(1)  # geographic factor (first year)
    vba: Decimal = Decimal(0)  # the practice's value-based adjustment (first year; 0.02 = +2 %)
    currency: str = "USD"
    illustrative: bool = False
    year: int | None = None
    codes: Mapping[str, PayerCode] = field(default_factory=dict)
    years: tuple[PayerYear, ...] = ()  # per-year files: sorted by year; () = one year
    locality: str | None = None  # the locality whose GPCI was selected
    version: int = 1
    enhanced_care: EnhancedCare | None = None  # §13.1: the [enhanced_care] table, if any

    # (code, year) → amount, computed once per schedule (every line of every patient asks)
    _amounts: dict[tuple[str, int | None], Decimal] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _by_year: dict[int, PayerYear] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def schedule_years(self) -> tuple[PayerYear, ...]:
        """Every year's figures: a one-year file gives one entry."""
        if self.years:
            return self.years
        return (PayerYear(self.year, self.base, self.gpci, self.vba),)

    def for_date(self, on: date | None) -> PayerYear:
        """The figures that price a line dated ``on`` (None: the first year).

        A year before the first listed takes the first year's figures (as a one-year file
        prices every date). A later year the file does not list takes the base and GPCI of the
        latest listed year before it and no value-based adjustment: an adjustment is earned
        for the one year it is listed for (§12.4)."""
        if not self.years:
            return self.schedule_years[0]
        if on is None:
            return self.years[0]
        hit = self._by_year.get(on.year)
        if hit is None:
            nearest = self.years[0]
            for entry in self.years:
                if entry.year is not None and entry.year <= on.year:
                    nearest = entry
            early = nearest.year is not None and on.year < nearest.year
            hit = (
                nearest
                if early or nearest.year == on.year
                else replace(nearest, year=on.year, vba=Decimal(0), update=None)
            )
            self._by_year[on.year] = hit
        return hit

    def amount(self, code: str, on: date | None = None) -> Decimal:
        """The payment for one line of ``code`` dated ``on``, in cents, rounded half up.

        ``on`` is the line's billing month start (New Patient: the visit day); without it, the
        first year's figures (a one-year file has only those)."""
        if code == ENHANCED_CARE_CODE:
            if not self.enhanced_opt_in:
                raise ValueError(f"payer {self.id} is not opted in to {code} (§13.1)")
            assert self.enhanced_care is not None
            return self.enhanced_care.amount_on(on)
        figures = self.for_date(on)
        key = (code, figures.year)
        hit = self._amounts.get(key)
        if hit is None:
            relative_value = CODES[code][2]
            raw = figures.base * relative_value / 100 * figures.gpci * (1 + figures.vba)
            hit = self._amounts[key] = raw.quantize(CENT, rounding=ROUND_HALF_UP)
        return hit

    @property
    def enhanced_opt_in(self) -> bool:
        """§13.1: the practice takes the enhanced-care supplement with this payer."""
        return self.enhanced_care is not None and self.enhanced_care.opted_in

    @classmethod
    def from_data(
        cls,
        data: Mapping[str, Any],
        where: str = "payer file",
        locality: str | None = None,
        index: Mapping[int, Decimal] | None = None,
    ) -> PayerSchedule:
        """Build from a parsed payer file; every problem names the field.

        ``locality`` is the practice's (the setting; else ``[payer] locality``); ``index`` the
        inflation index by calendar year (MEI), for years whose base is derived."""
        payer = data.get("payer")
        if not isinstance(payer, Mapping):
            raise KnowledgeError(f"{where}: missing [payer] table")
        codes = _codes(data, where)
        place = locality or _optional_text(payer, "locality", "payer", where)
        version = payer.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise KnowledgeError(f"{where}: payer.version must be a whole number ≥ 1")
        common: dict[str, Any] = {
            "id": _text(payer, "id", where),
            "name": _text(payer, "name", where),
            "currency": str(payer.get("currency", "USD")),
            "illustrative": bool(payer.get("illustrative", False)),
            "codes": codes,
            "version": version,
            "enhanced_care": (
                EnhancedCare.from_data(data["enhanced_care"], where)
                if "enhanced_care" in data
                else None
            ),
        }
        if "years" in data:
            if "new_patient_amount" in payer:
                raise KnowledgeError(
                    f"{where}: give the amounts either in [payer] (one year) or in "
                    "[years.YYYY], not both"
                )
            years = _years(data["years"], payer, place, index or {}, where)
            first = years[0]
            return cls(
                base=first.base, gpci=first.gpci, vba=first.vba, year=first.year,
                years=years, locality=place, **common,
            )  # fmt: skip
        one = _year_figures(payer, "payer", where, None, place)
        year = payer.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
            raise KnowledgeError(f"{where}: payer.year must be a year (YYYY), got {year!r}")
        return cls(base=one.base, gpci=one.gpci, vba=one.vba, year=year, locality=place, **common)


def _codes(data: Mapping[str, Any], where: str) -> dict[str, PayerCode]:
    codes: dict[str, PayerCode] = {}
    for cpoc_code, entry in (data.get("codes") or {}).items():
        if cpoc_code not in LINE_CODES:
            raise KnowledgeError(f"{where}: codes.{cpoc_code} is not a CPOC code")
        if not isinstance(entry, Mapping) or not entry.get("system") or not entry.get("code"):
            raise KnowledgeError(f"{where}: codes.{cpoc_code} needs 'system' and 'code'")
        codes[cpoc_code] = PayerCode(
            str(entry["system"]), str(entry["code"]), str(entry.get("display", ""))
        )
    return codes


def _years(
    table: Any,
    payer: Mapping[str, Any],
    locality: str | None,
    index: Mapping[int, Decimal],
    where: str,
) -> tuple[PayerYear, ...]:
    if not isinstance(table, Mapping) or not table:
        raise KnowledgeError(f"{where}: [years] must hold one table per year, [years.YYYY]")
    keyed: dict[int, Mapping[str, Any]] = {}
    for key, entry in table.items():
        text = str(key)
        if not (text.isdigit() and len(text) == 4) or not isinstance(entry, Mapping):
            raise KnowledgeError(f"{where}: years.{key} must be a table named by a year (YYYY)")
        keyed[int(text)] = entry
    default_update = payer.get("inflation_update", MEI)
    resolved: list[PayerYear] = []
    gpci_source: Any = Decimal(1)
    for year in sorted(keyed):
        entry, name = keyed[year], f"years.{year}"
        gpci_source = entry.get("gpci", gpci_source)
        gpci = _gpci(gpci_source, f"{name}.gpci", where, locality)
        vba = _vba(entry, name, where)
        if "new_patient_amount" in entry:
            resolved.append(PayerYear(year, _money(entry, name, where), gpci, vba))
            continue
        if not resolved:
            raise KnowledgeError(
                f"{where}: {name}.new_patient_amount is required in the first year"
            )
        update = _update(entry.get("inflation_update", default_update), name, year, index, where)
        # The year before in the file: a year left out in between keeps the figures of the
        # year before it (``for_date``), so its update is not compounded either.
        base = resolved[-1].base * (1 + update)
        resolved.append(PayerYear(year, base, gpci, vba, update, base_given=False))
    return tuple(resolved)


def _update(value: Any, name: str, year: int, index: Mapping[int, Decimal], where: str) -> Decimal:
    if isinstance(value, str) and value.strip().lower() == MEI:
        if year not in index:
            raise KnowledgeError(
                f"{where}: {name} has no new_patient_amount and the Medicare Economic Index "
                f"for {year} is not known: give new_patient_amount or inflation_update"
            )
        return index[year]
    number = _number(value, f"{name}.inflation_update", where)
    if not Decimal(-1) < number < Decimal(1):
        raise KnowledgeError(
            f"{where}: {name}.inflation_update is a fraction (0.035 = +3.5 %), got {number}"
        )
    return number


def _year_figures(
    table: Mapping[str, Any], name: str, where: str, year: int | None, locality: str | None
) -> PayerYear:
    gpci = _gpci(table.get("gpci", Decimal(1)), f"{name}.gpci", where, locality)
    return PayerYear(year, _money(table, name, where), gpci, _vba(table, name, where))


def _gpci(value: Any, name: str, where: str, locality: str | None) -> Decimal:
    if isinstance(value, Mapping):
        if not locality:
            raise KnowledgeError(
                f"{where}: {name} lists localities ({', '.join(map(str, value))}): set the "
                "practice's locality (setting billing.locality, CPOC_PAYER_LOCALITY, or "
                "[payer] locality)"
            )
        if locality not in value:
            raise KnowledgeError(
                f"{where}: {name} has no locality {locality!r} "
                f"(it lists {', '.join(map(str, value))})"
            )
        value, name = value[locality], f"{name}.{locality}"
    gpci = _number(value, name, where)
    if gpci <= 0:
        raise KnowledgeError(f"{where}: {name} must be positive, got {gpci}")
    return gpci


def _vba(table: Mapping[str, Any], name: str, where: str) -> Decimal:
    vba = _number(
        table.get("value_based_adjustment", Decimal(0)), f"{name}.value_based_adjustment", where
    )
    if not Decimal(-1) < vba < Decimal(1):
        raise KnowledgeError(
            f"{where}: {name}.value_based_adjustment is a fraction (0.02 = +2 %), got {vba}"
        )
    return vba


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: payer.{key} is required (text)")
    return value


def _optional_text(table: Mapping[str, Any], key: str, name: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: {name}.{key} must be text")
    return value


def _number(value: Any, name: str, where: str) -> Decimal:
    if isinstance(value, float):  # JSON floats: keep the written digits, not the binary value
        value = repr(value)
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise KnowledgeError(f"{where}: {name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise KnowledgeError(f"{where}: {name} is not a finite number: {value!r}")
    return number


def _money(table: Mapping[str, Any], name: str, where: str) -> Decimal:
    if "new_patient_amount" not in table:
        raise KnowledgeError(
            f"{where}: {name}.new_patient_amount is required (the New Patient amount)"
        )
    value = _number(table["new_patient_amount"], f"{name}.new_patient_amount", where)
    if value <= 0:
        raise KnowledgeError(
            f"{where}: {name}.new_patient_amount must be a positive amount, got {value}"
        )
    return value
