"""Synthetic claims name the patient's primary Coverage payer of the claim's day, by the one
"primary Coverage in force" rule (engine/coverage.py) that model selection and the corridors'
payer split share (value-and-models §14.4, §15)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit

from cpoc_fhir.economics.corridor_payers import PayerOf, coverage_facts
from cpoc_fhir.engine.coverage import by_rank, primary_coverage
from cpoc_fhir.engine.facts import CoverageFact
from cpoc_fhir.synthetic import claims as claim_lines
from cpoc_fhir.synthetic.patients import draw_plan
from cpoc_fhir.synthetic.truth import VisitTruth


def _coverage(cid: str, payer: str, start: str, end: str | None, order: int) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "resourceType": "Coverage",
        "id": cid,
        "status": "active",
        "beneficiary": {"reference": "Patient/x"},
        "payor": [{"reference": payer, "display": payer.split("/")[1]}],
        "period": period,
        "order": order,
    }


# Commercial (order 1) to 2025-03-31, Medicare (order 1) from 2025-04-01; a secondary Medigap
# (order 2) all year never pays first.
COVERAGES = [
    _coverage("commercial", "Organization/acme", "2025-01-01", "2025-03-31", 1),
    _coverage("medicare", "Organization/medicare", "2025-04-01", None, 1),
    _coverage("medigap", "Organization/gap", "2025-01-01", None, 2),
]


def test_primary_coverage_is_the_lowest_order_then_reference_in_force() -> None:
    a = CoverageFact("Coverage/a", "A", None, None, order=2)
    b = CoverageFact("Coverage/b", "B", date(2025, 1, 1), date(2025, 6, 30), order=1)
    c = CoverageFact("Coverage/c", "C", None, None)  # no order: last
    d = CoverageFact("Coverage/0", "D", None, None, order=2)  # same order as a, lower ref
    assert [x.ref for x in by_rank([a, b, c, d])] == [
        "Coverage/b",
        "Coverage/0",
        "Coverage/a",
        "Coverage/c",
    ]
    assert primary_coverage([a, b, c, d], date(2025, 3, 1)) is b
    assert primary_coverage([a, b, c, d], date(2025, 7, 1)) is d
    assert primary_coverage([c], date(2025, 7, 1)) is c
    assert primary_coverage([b], date(2024, 12, 31)) is None


def test_the_corridors_payer_follows_the_shared_rule() -> None:
    payer = PayerOf(COVERAGES, "payer-file")
    assert payer.on(date(2025, 3, 31)) == "Organization/acme"
    assert payer.on(date(2025, 4, 1)) == "Organization/medicare"
    assert payer.on(date(2024, 12, 31)) == "payer-file"  # none in force
    facts = coverage_facts(COVERAGES)
    for day in (date(2025, 2, 1), date(2025, 5, 1)):
        primary = primary_coverage(facts, day)
        assert primary is not None and primary.payer == payer.on(day)


def _plan_and_visits() -> tuple[Any, list[VisitTruth]]:
    rng = random.Random(7)
    plan = draw_plan(rng, 0, 2025)
    visits = [VisitTruth(f"v{i}", d, False, "99214") for i, d in enumerate(plan.visit_days)]
    return plan, visits


def test_each_claim_names_the_primary_payer_of_its_day() -> None:
    plan, visits = _plan_and_visits()
    fees = claim_lines.fee_schedule()
    _, eobs = claim_lines.claims(plan, random.Random(1), visits, fees, COVERAGES)
    assert eobs
    for eob in eobs:
        ExplanationOfBenefit.model_validate(eob)
        day = date.fromisoformat(eob["billablePeriod"]["start"])
        # Before April: Acme and its Coverage; from April: Medicare and its Coverage. (A day
        # before 2025, no Coverage in force, names the primary-ranked one: Acme's too.)
        expected = ("acme", "commercial") if day < date(2025, 4, 1) else ("medicare", "medicare")
        assert eob["insurer"] == {
            "reference": f"Organization/{expected[0]}",
            "display": expected[0],
        }
        assert eob["insurance"] == [
            {"focal": True, "coverage": {"reference": f"Coverage/{expected[1]}"}}
        ]


def test_without_own_coverages_the_example_payer_pays() -> None:
    plan, visits = _plan_and_visits()
    _, eobs = claim_lines.claims(plan, random.Random(1), visits, claim_lines.fee_schedule())
    assert {eob["insurer"]["reference"] for eob in eobs} == {"Organization/example-payer"}
    assert {eob["insurance"][0]["coverage"]["reference"] for eob in eobs} == {
        f"Coverage/{plan.pid}-coverage"
    }
    assert claim_lines.payer_of(plan, date(2025, 5, 1), COVERAGES)[1] == "Coverage/medicare"
