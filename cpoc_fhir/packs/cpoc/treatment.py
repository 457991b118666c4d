"""What counts as treatment, when it started, and which regimens were given (cpoc-rules §2-§3).

Lines of therapy (our interpretation, settings ``regimen_window_days`` / ``new_line_gap_days``):
the anti-cancer drugs started within the window of a line's first day form its regimen; a drug
not in the line given after the window starts a new line, and so does a gap longer than
``new_line_gap_days``. Lines give Table 4's "initial month" (the line's first month), the
previous regimen (§7 (b)) and the pathways' line counts. What a day is scored as is not the
line's regimen but the regimen of the drugs given that day (§5; ``engine.day_regimens``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby

from cpoc_fhir.engine.facts import (
    CancerRole,
    DrugRole,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    Route,
)
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge.regimens import Regimen, RegimenCatalog


@dataclass(frozen=True)
class TherapyLine:
    """One line of therapy: the anti-cancer drugs given together and the regimens they match."""

    index: int
    start: date
    end: date
    drugs: frozenset[str]  # catalog drug ids
    unknown: tuple[str, ...]  # names of anti-cancer drugs the catalog does not know
    regimens: tuple[Regimen, ...]
    unmatched: frozenset[str]  # catalog drugs no catalog regimen explains
    warnings: tuple[str, ...]

    @property
    def fully_known(self) -> bool:
        return not self.unknown and not self.unmatched

    @property
    def classes(self) -> frozenset[str]:
        return frozenset(c for r in self.regimens for c in r.classes)

    @property
    def name(self) -> str:
        names = [r.name for r in self.regimens] + sorted(self.unmatched) + list(self.unknown)
        return " + ".join(names) if names else "unknown regimen"


@dataclass
class _LineBuilder:
    start: date
    last: date
    drugs: set[str] = field(default_factory=set)
    exposures: list[MedicationExposure] = field(default_factory=list)


def drug_key(exposure: MedicationExposure) -> str:
    """The catalog id, or the record's wording for a drug the catalog does not know."""
    return exposure.drug or f"?{exposure.drug_name.strip().lower()}"


def anchor_day(exposure: MedicationExposure) -> date:
    """cpoc-rules §2: infused/injected → first administration; oral → the date ordered."""
    if exposure.route is Route.ORAL and exposure.ordered_on is not None:
        return min(exposure.ordered_on, exposure.start)
    return exposure.start


def counted_exposures(record: PatientRecord) -> tuple[MedicationExposure, ...]:
    """The exposures that count as treatment (§3).

    Anti-cancer drugs always count. Supportive drugs count only for a patient with diagnosed
    cancer ("drugs that prevent or mitigate … symptoms of cancer or side effects of treatment"):
    on or after the first cancer diagnosis, or anywhere when no cancer onset is recorded.
    """
    onsets = [d.onset for d in record.diagnoses if d.cancer_role is not CancerRole.NONE]
    has_cancer = bool(onsets)
    first_onset = min((o for o in onsets if o is not None), default=None)
    kept = []
    for exposure in record.exposures:
        if exposure.role is DrugRole.SUPPORTIVE:
            if not has_cancer and not _has_anticancer(record):
                continue
            if first_onset is not None and exposure.end < first_onset:
                continue
        kept.append(exposure)
    return tuple(sorted(kept, key=lambda e: (e.start, e.end, e.ref)))


def _has_anticancer(record: PatientRecord) -> bool:
    return any(e.role is DrugRole.ANTICANCER for e in record.exposures)


def build_lines(
    exposures: tuple[MedicationExposure, ...],
    catalog: RegimenCatalog,
    settings: RuleSettings,
) -> tuple[tuple[TherapyLine, ...], dict[str, int]]:
    """Group anti-cancer exposures into lines of therapy.

    Returns the lines and, for each exposure ref, the index of its line.
    """
    window = timedelta(days=settings.regimen_window_days)
    gap = timedelta(days=settings.new_line_gap_days)
    builders: list[_LineBuilder] = []
    anticancer = [e for e in exposures if e.role is DrugRole.ANTICANCER]
    supportive = [e for e in exposures if e.role is DrugRole.SUPPORTIVE and e.drug]
    # The drugs starting on one day are decided together, so a line never depends on the
    # order of their resource ids (a new drug among them starts a new line for all of them).
    for start, group in groupby(anticancer, key=lambda e: e.start):
        day = list(group)
        keys = {drug_key(e) for e in day}
        current = builders[-1] if builders else None
        if (
            current is None
            or start > current.last + gap
            or (not keys <= current.drugs and start > current.start + window)
        ):
            current = _LineBuilder(start=start, last=max(e.end for e in day))
            builders.append(current)
        if start <= current.start + window:
            current.drugs.update(keys)
        current.last = max(current.last, *(e.end for e in day))
        current.exposures.extend(day)

    lines = []
    line_of: dict[str, int] = {}
    for index, builder in enumerate(builders):
        # Supportive drugs given in the line's window choose among the regimen's variants
        # (dexamethasone: lenalidomide + dexamethasone rather than lenalidomide maintenance).
        until = builder.start + window
        present = {e.drug for e in supportive if e.start <= until and e.end >= builder.start}
        lines.append(_finish_line(index, builder, catalog, present))
        for exposure in builder.exposures:
            line_of[exposure.ref] = index
    return tuple(lines), line_of


def _finish_line(
    index: int, builder: _LineBuilder, catalog: RegimenCatalog, present: set[str]
) -> TherapyLine:
    known = frozenset(k for k in builder.drugs if not k.startswith("?"))
    unknown_names = sorted(
        {e.drug_name for e in builder.exposures if not e.drug and drug_key(e) in builder.drugs}
    )
    match = catalog.match(known | present) if known else None
    warnings = list(match.warnings) if match else []
    unmatched = match.unmatched if match else frozenset()
    for name in unknown_names:
        warnings.append(f"{name} is not in the regimen catalog: scored conservatively")
    for drug_id in sorted(unmatched):
        warnings.append(
            f"{drug_id} given on {builder.start.isoformat()} matches no catalog regimen: "
            "scored conservatively"
        )
    return TherapyLine(
        index=index,
        start=builder.start,
        end=builder.last,
        drugs=known,
        unknown=tuple(unknown_names),
        regimens=match.regimens if match else (),
        unmatched=unmatched,
        warnings=tuple(warnings),
    )


@dataclass
class MonthTreatment:
    """The treatment facts falling in one billing month."""

    days: set[int] = field(default_factory=set)  # ordinals of treatment days
    confirmed_days: set[int] = field(default_factory=set)  # given or supplied, not just planned
    parenteral: dict[int, list[MedicationExposure]] = field(
        default_factory=lambda: defaultdict(list)
    )
    oral: list[MedicationExposure] = field(default_factory=list)
    # (first, last ordinal, exposure) of every exposure's days in the month, in record order:
    # what was given or covered on each day, for the day's regimen (engine.day_regimens)
    spans: list[tuple[int, int, MedicationExposure]] = field(default_factory=list)
    transplant_days: dict[int, str] = field(default_factory=dict)  # ordinal → Procedure ref
    evidence: list[str] = field(default_factory=list)

    @property
    def planned_only_days(self) -> set[int]:
        return self.days - self.confirmed_days


def add_exposure(
    month: MonthTreatment, exposure: MedicationExposure, first: int, last: int
) -> None:
    """Record the days of ``exposure`` that fall in [first, last] (ordinals)."""
    lo, hi = max(first, exposure.start.toordinal()), min(last, exposure.end.toordinal())
    if lo > hi:
        return
    days = range(lo, hi + 1)
    month.days.update(days)
    if exposure.kind is not ExposureKind.PLANNED:
        month.confirmed_days.update(days)
    month.spans.append((lo, hi, exposure))
    if exposure.route is Route.PARENTERAL:
        for day in days:
            month.parenteral[day].append(exposure)
    else:
        month.oral.append(exposure)
    if exposure.ref not in month.evidence:
        month.evidence.append(exposure.ref)
