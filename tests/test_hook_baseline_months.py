"""An order hook's baseline billed for the order's months only (issue 16 item 4) changes no
assessment.

``assess_orders`` evaluates the record without the drafts only for the Treatment Months the
drafts fall in (and New Patient), since nothing else of that baseline is read. The reference
is the same assessment with the baseline evaluated in full (the code before: an Evaluator
that ignores ``months``), for generated patients with a draft on days that fall in a
treatment month, start a new one after treatment, come before the first treatment (the
anchor moves: the baseline's months differ from the timeline's) or fall in monitoring.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from cds_support import medication_order
from mixed_support import evaluator

from cds_hooks.assess import OrderAssessment, assess_orders
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.fhir.read import PatientResources, open_source, patient_resources
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import generate_practice

AS_OF = date(2026, 6, 30)
DRUGS = [("4492", "fluorouracil"), ("40048", "carboplatin")]


@dataclass(frozen=True)
class FullBaseline(Evaluator):
    """The code before: every evaluation bills every month."""

    def evaluate(
        self, record: object, as_of: date, months: Collection[date] | None = None
    ) -> PatientTimeline:
        return super().evaluate(record, as_of)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def patients(tmp_path_factory: pytest.TempPathFactory) -> list[PatientResources]:
    folder: Path = tmp_path_factory.mktemp("baseline")
    generate_practice(folder, 40, seed=11, year=2025, claims=False)
    return list(open_source(folder).patients())


def _draft_days(ev: Evaluator, resources: PatientResources) -> list[date]:
    record = ev.record(resources)
    if not record.exposures:
        return [AS_OF - timedelta(days=20)]
    first = min(e.start for e in record.exposures)
    last = max(e.end for e in record.exposures)
    days = [first - timedelta(days=30), first + timedelta(days=10), last + timedelta(days=75)]
    return [d for d in days if d <= AS_OF + timedelta(days=60)]


def _untreated(resources: PatientResources) -> PatientResources:
    """The same patient with no medication and no episode of care on record: a draft is the
    first treatment, and brings the New Patient line."""
    kept = [
        r
        for r in resources.resources
        if not r["resourceType"].startswith(("Medication", "EpisodeOfCare"))
    ]
    return patient_resources(kept, resources.patient_ref)


def _assess(ev: Evaluator, resources: PatientResources, day: date, n: int) -> OrderAssessment:
    pid = resources.patient_ref.removeprefix("Patient/")
    rx, name = DRUGS[n % len(DRUGS)]
    draft = medication_order(f"draft-{n}", pid, rx, name, day.isoformat())
    ref = f"MedicationRequest/draft-{n}"
    with_draft = patient_resources([*resources.resources, draft], resources.patient_ref)
    return assess_orders(ev, with_draft, [ref], AS_OF, [ref])


def _cases(ev: Evaluator, patients: list[PatientResources]) -> list[tuple[PatientResources, date]]:
    cases = [(p, day) for p in patients for day in _draft_days(ev, p)]
    untreated = [_untreated(p) for p in patients[:10]]
    return cases + [(p, AS_OF - timedelta(days=20)) for p in untreated]


def test_assessments_equal_those_with_a_full_baseline(patients: list[PatientResources]) -> None:
    fast = evaluator()
    slow = FullBaseline(fast.knowledge, fast.rules, fast.payer, models=fast.models)
    compared = months = moved = smaller = changed = 0
    for n, (resources, day) in enumerate(_cases(fast, patients)):
        got, want = _assess(fast, resources, day, n), _assess(slow, resources, day, n)
        assert got.months == want.months, (resources.patient_ref, day)
        assert got.new_patient == want.new_patient
        assert got.timeline == want.timeline
        assert (got.order_refs, got.ignored_orders) == (want.order_refs, want.ignored_orders)
        # the partial baseline holds a subset of the full one's lines
        assert set(got.baseline.lines) <= set(want.baseline.lines)
        compared += 1
        months += len(got.months)
        smaller += len(got.baseline.lines) < len(want.baseline.lines)
        moved += _first_month(want.baseline) != _first_month(want.timeline)
        changed += want.new_patient is not None
    # The drafts land in treatment months; the baseline is billed for fewer months; some
    # drafts move the anchor (the baseline's months are not the timeline's) or change the
    # New Patient line.
    assert compared > 80 and months > 40 and smaller > 40
    assert moved > 5 and changed > 5, (moved, changed)


def _first_month(timeline: PatientTimeline) -> date | None:
    return min((line.start for line in timeline.lines if line.month == 1), default=None)


EXTERNAL = Path(
    os.environ.get("CPOC_EXTERNAL_DATA")
    or Path(__file__).parents[1].parent / "shared" / "data" / "external"
)
SYNTHEA = EXTERNAL / "synthea_bulk_10pt_subset"


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="no external Synthea data")
def test_synthea_assessments_equal_those_with_a_full_baseline() -> None:
    """The Synthea patients (the heaviest: ~50 treatment months), a draft on every fifth
    treatment day and after the last one."""
    fast = evaluator()
    slow = FullBaseline(fast.knowledge, fast.rules, fast.payer, models=fast.models)
    compared = 0
    for resources in open_source(SYNTHEA).patients():
        record = fast.record(resources)
        days = sorted({e.start for e in record.exposures})
        chosen = days[::5] + ([days[-1] + timedelta(days=45)] if days else [])
        for n, day in enumerate(chosen):
            got, want = _assess(fast, resources, day, n), _assess(slow, resources, day, n)
            assert (got.months, got.new_patient) == (want.months, want.new_patient), day
            assert got.timeline == want.timeline
            compared += 1
    assert compared > 20
