"""CPC+'s rules (value-and-models §15.3): one care management fee (CMF) per calendar month of
attribution, by track and risk tier.

CPC+ pays the CMF per attributed beneficiary per month (quarterly, prospectively); the product
bills and reports one line per calendar month, dated its first day, when on that day

- the patient is attributed to a CPC+ practice (the attribution file: attribution.py),
- the day is within the model's dates (the data file: 2017-01 to 2021-12 for Round 1),
- the pack holds the patient (the spans, packs/selection.py), the day is not after ``as_of``
  and the patient was alive (a death on the 1st still counts that month).

The tier is the payer's (the attribution row's) when it gives one; else a Charlson-based proxy:
the Charlson index (Quan 2005 ICD-10 coding, knowledge/charlson.py, with the data file's
weights; the cancer categories counted unless the data file says otherwise) of the diagnoses
active in the lookback before the month's first day, mapped to a tier by the data file's
illustrative thresholds. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus, ModelSpan
from cpoc_fhir.knowledge.charlson import CANCER_CATEGORIES, CharlsonMap
from cpoc_fhir.packs.cpcplus.attribution import Attribution, of_patient, on_day
from cpoc_fhir.packs.cpcplus.data_model import CpcPlusData

PACK_ID = "cpcplus"


@dataclass(frozen=True)
class Tier:
    tier: int
    explanation: str
    evidence: tuple[str, ...] = ()


def month_starts(first: date, last: date) -> Iterator[date]:
    """The first day of every calendar month from ``first``'s month to ``last``."""
    day = first.replace(day=1)
    while day <= last:
        yield day
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def charlson_index(
    record: PatientRecord, day: date, charlson: CharlsonMap, data: CpcPlusData
) -> tuple[int, frozenset[str], tuple[str, ...]]:
    """(index, categories, evidence) of the diagnoses active in the lookback to ``day``."""
    since = day - timedelta(days=data.lookback_days)
    icd10: list[str] = []
    snomed: list[str] = []
    evidence: list[str] = []
    for diagnosis in record.diagnoses:
        if not diagnosis.active_during(since, day):
            continue
        found = charlson.categories(diagnosis.icd10, diagnosis.snomed)
        if not data.include_cancer:
            found -= CANCER_CATEGORIES
        if found:
            icd10.extend(diagnosis.icd10)
            snomed.extend(diagnosis.snomed)
            evidence.append(diagnosis.ref)
    categories = charlson.categories(icd10, snomed)
    if not data.include_cancer:
        categories -= CANCER_CATEGORIES
    points = charlson.weights.get(data.charlson_weights)
    if points is None:
        raise ValueError(f"CPC+ data: Charlson weights {data.charlson_weights!r} unknown")
    present = set(categories)
    for category in list(present):  # the hierarchy: the worse category makes the lesser moot
        present -= charlson.supersedes.get(category, frozenset())
    return sum(points[c] for c in present), frozenset(present), tuple(evidence)


def tier_of(
    record: PatientRecord,
    row: Attribution,
    day: date,
    charlson: CharlsonMap,
    data: CpcPlusData,
) -> Tier:
    if row.tier is not None:
        return Tier(row.tier, f"tier {row.tier} from the attribution file (row {row.row})")
    index, categories, evidence = charlson_index(record, day, charlson, data)
    tier, reached = data.proxy_tier(row.track, index)
    named = ", ".join(sorted(categories)) if categories else "none"
    cancer = "" if data.include_cancer else ", cancer excluded"
    return Tier(
        tier,
        f"tier {tier} from the Charlson proxy: index {index} ({named}; "
        f"{data.charlson_weights} weights{cancer}; diagnoses active in the "
        f"{data.lookback_days} days to {day.isoformat()}) >= {reached} "
        "(illustrative thresholds; the attribution file gives none)",
        evidence,
    )


def cmf_lines(
    record: PatientRecord,
    attributions: Iterable[Attribution],
    data: CpcPlusData,
    charlson: CharlsonMap,
    as_of: date,
    spans: Sequence[ModelSpan],
) -> list[BillingLine]:
    """The patient's CMF lines, one per calendar month (see the module docstring)."""
    rows = of_patient(record, attributions)
    if not rows:
        return []
    first = max(data.model_start, min(a.start for a in rows))
    last = min(data.model_end, as_of)
    if record.death is not None:
        last = min(last, record.death)
    lines: list[BillingLine] = []
    for day in month_starts(first, last):
        if day < data.model_start or not any(s.holds(day) for s in spans):
            continue
        row = on_day(rows, day)
        if row is None:
            continue
        tier = tier_of(record, row, day, charlson, data)
        amount = data.amounts[(row.track, tier.tier)]
        lines.append(
            BillingLine(
                code=data.code(row.track, tier.tier),
                component=Component.CARE_MANAGEMENT,
                level=tier.tier,
                month=len(lines) + 1,
                start=day,
                end=month_end(day),
                status=LineStatus.FINAL,
                amount=amount,
                explanation=(
                    f"CPC+ care management fee for {day:%Y-%m}: attributed to "
                    f"{row.practice_name} ({row.practice_id}), Track {row.track} "
                    f"(attribution row {row.row})",
                    tier.explanation,
                    f"Track {row.track} tier {tier.tier}: {amount} per beneficiary per month",
                ),
                evidence=tier.evidence,
                model=PACK_ID,
            )
        )
    return lines
