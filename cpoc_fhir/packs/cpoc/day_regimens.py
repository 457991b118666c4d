"""The regimen of each treatment day and of a month (cpoc-rules §5, "The regimen of a day and
of a month").

A day's regimen is identified from the anti-cancer drugs given or covered (oral supply) that
day, not from the line of therapy: maintenance after induction (carboplatin + pemetrexed +
pembrolizumab → pemetrexed + pembrolizumab), a drug dropped (FOLFOX → LV5FU2) or a single agent
continued alone (lenalidomide after Rd) is scored as the regimen of the drugs still given.
Companion and supportive drugs never change identity; they only choose among variants of one
anti-cancer set (``RegimenCatalog.identify``). The line of therapy each regimen belongs to is
kept for Table 4's "initial month" and for explanations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from cpoc_fhir.engine.facts import DrugRole, MedicationExposure, Route
from cpoc_fhir.knowledge.regimens import Regimen, RegimenCatalog
from cpoc_fhir.packs.cpoc.treatment import MonthTreatment, TherapyLine, drug_key


@dataclass(frozen=True)
class DayRegimen:
    """One regimen given on a day: a catalog regimen, or drugs no catalog regimen explains."""

    regimen: Regimen | None  # None: ``drugs`` are unexplained (unknown or unmatched)
    drugs: frozenset[str]  # drug keys it stands for (catalog ids, "?name" for unknown drugs)
    line: TherapyLine | None  # the line of therapy its exposures belong to
    parenteral: bool  # at least one of its drugs was infused/injected that day
    label: str  # what the explanation calls it

    @property
    def key(self) -> str:
        return self.regimen.id if self.regimen else "+".join(sorted(self.drugs))


@dataclass(frozen=True)
class TreatmentDay:
    """The regimens identified on a treatment day (days given the same drugs in the same lines
    share one: see ``month_days``)."""

    regimens: tuple[DayRegimen, ...]
    warnings: tuple[str, ...] = ()


# A month's treatment days as runs of days with the same exposures: (first, last ordinal,
# what was given on each of them), in date order.
MonthDays = list[tuple[int, int, TreatmentDay]]


def month_days(
    treatment: MonthTreatment,
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
    catalog: RegimenCatalog,
    window_days: int,
    memo: dict[Any, TreatmentDay] | None = None,
) -> MonthDays:
    """The month's medication days with their regimens, as runs of identical days.

    The days between two changes (an exposure starting or ending, a line's first window
    closing) are given the same drugs, so they are identified once: a 30-day oral supply is one
    run, not 30 days. ``memo`` (one per patient) shares identifications between runs that give
    the same drugs, by the same routes, in the same lines (each cycle of a regimen); the catalog
    memoises each drug set's regimens across patients.
    """
    spans = treatment.spans
    if not spans:
        return []
    window = timedelta(days=window_days)
    memo = {} if memo is None else memo
    limits = [(line.start + window).toordinal() for line in lines]
    # list displays rather than generators below: same values, less overhead per month
    first, last = min([s[0] for s in spans]), max([s[1] for s in spans])
    cuts = {lo for lo, _, _ in spans} | {hi + 1 for _, hi, _ in spans}
    cuts.update(limit + 1 for limit in limits if first < limit + 1 <= last)
    points = sorted(cuts)
    out: MonthDays = []
    for start, stop in pairwise(points):
        exposures = [e for lo, hi, e in spans if lo <= start <= hi]
        if not exposures:
            continue
        key = tuple(
            [
                (
                    e.drug or e.drug_name,
                    e.role,
                    e.route,
                    index := line_of.get(e.ref, -1),
                    index >= 0 and start > limits[index],
                )
                for e in exposures
            ]
        )
        found = memo.get(key)
        if found is None:
            found = _identify_day(start, exposures, lines, line_of, catalog, window)
            memo[key] = found
        out.append((start, stop - 1, found))
    return out


def _identify_day(
    day: int,
    exposures: list[MedicationExposure],
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
    catalog: RegimenCatalog,
    window: timedelta,
) -> TreatmentDay:
    keys: dict[str, list[MedicationExposure]] = {}
    supportive: set[str] = set()
    for exposure in exposures:
        if exposure.role is DrugRole.ANTICANCER:
            keys.setdefault(drug_key(exposure), []).append(exposure)
        elif exposure.drug:
            supportive.add(exposure.drug)
    if not keys:
        return TreatmentDay(())
    known = {k for k in keys if not k.startswith("?")}
    match = catalog.identify(known | supportive) if known else None
    on = date.fromordinal(day)
    regimens: list[DayRegimen] = []
    for regimen in match.regimens if match else ():
        drugs = frozenset(regimen.drugs)
        regimens.append(_day_regimen(regimen, drugs, keys, lines, line_of, on, window))
    left = (set(match.unmatched) if match else set()) | {k for k in keys if k.startswith("?")}
    warnings = list(match.warnings) if match else []
    if left:
        regimens.append(_day_regimen(None, frozenset(left), keys, lines, line_of, on, window))
    return TreatmentDay(tuple(regimens), tuple(warnings))


def _day_regimen(
    regimen: Regimen | None,
    drugs: frozenset[str],
    keys: dict[str, list[MedicationExposure]],
    lines: tuple[TherapyLine, ...],
    line_of: dict[str, int],
    on: date,
    window: timedelta,
) -> DayRegimen:
    exposures = [e for d in drugs for e in keys.get(d, ())]
    indexes = [line_of[e.ref] for e in exposures if e.ref in line_of]
    line = lines[max(indexes)] if indexes else None
    parenteral = any(e.route is Route.PARENTERAL for e in exposures)
    name = regimen.name if regimen else _names(exposures)
    label = name
    if line is not None and (regimen is None or regimen not in line.regimens):
        # Fewer drugs than the line's regimen after its first window: maintenance (or a drug
        # dropped); otherwise part of the line (e.g. its drugs split over two days).
        role = "maintenance" if on > line.start + window and drugs < line.drugs else "part"
        label = f"{name} ({role} of line {line.index + 1}: {line.name})"
    return DayRegimen(regimen, drugs, line, parenteral, label)


def _names(exposures: Iterable[MedicationExposure]) -> str:
    names = sorted({e.drug or e.drug_name.strip() or "unnamed drug" for e in exposures})
    return " + ".join(names) if names else "unknown drugs"


def distinct(days: MonthDays) -> list[DayRegimen]:
    """The month's regimens, each once as explained, in the order they were first given."""
    seen: dict[str, DayRegimen] = {}
    for _, _, day in days:
        for found in day.regimens:
            seen.setdefault(found.label, found)
    return list(seen.values())
