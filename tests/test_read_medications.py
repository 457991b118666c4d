"""Medication resources → exposures and order stops (fixture: medications).

cpoc-rules §3: administrations on their days; parenteral orders without administrations
on their planned date (provisional); oral supply from orders, dispenses and statements.
"""

from __future__ import annotations

from datetime import date

import pytest
from test_read_support import by_ref, read_fixture, warnings_about

from cpoc_fhir.engine.facts import (
    DrugRole,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    Route,
    StopReason,
)
from cpoc_fhir.fhir.read import ReaderSettings

A, P, S = ExposureKind.ADMINISTERED, ExposureKind.PLANNED, ExposureKind.SUPPLY
IV, PO = Route.PARENTERAL, Route.ORAL
d = date.fromisoformat


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    return read_fixture("records/medications.json")


def exposures(record: PatientRecord, ref: str) -> list[MedicationExposure]:
    return by_ref(record.exposures).get(ref, [])


@pytest.mark.parametrize(
    ("ref", "drug", "kind", "route", "start", "end"),
    [
        ("MedicationAdministration/pac-given-1", "paclitaxel", A, IV, "2024-01-03", "2024-01-03"),
        ("MedicationAdministration/pac-period", "paclitaxel", A, IV, "2024-01-10", "2024-01-12"),
        ("MedicationAdministration/pac-backwards", "paclitaxel", A, IV, "2024-01-20", "2024-01-20"),
        ("MedicationRequest/pac-bounds", "paclitaxel", P, IV, "2024-03-01", "2024-03-01"),
        ("MedicationRequest/pac-authored", "paclitaxel", P, IV, "2024-03-15", "2024-03-15"),
        ("MedicationRequest/contained-medication", "paclitaxel", P, IV, "2024-04-20", "2024-04-20"),
        ("MedicationRequest/cape-repeats", "capecitabine", S, PO, "2024-04-01", "2024-05-12"),
        ("MedicationRequest/cape-capped", "capecitabine", S, PO, "2024-06-01", "2024-06-10"),
        ("MedicationRequest/cape-month", "capecitabine", S, PO, "2024-07-01", "2024-07-30"),
        ("MedicationRequest/cape-default", "capecitabine", S, PO, "2024-07-15", "2024-08-13"),
        ("MedicationDispense/cape-dispense", "capecitabine", S, PO, "2024-08-03", "2024-08-23"),
        (
            "MedicationDispense/cape-dispense-no-days",
            "capecitabine",
            S,
            PO,
            "2024-09-01",
            "2024-09-30",
        ),
        ("MedicationStatement/cape-statement", "capecitabine", S, PO, "2024-10-01", "2024-10-31"),
        (
            "MedicationStatement/cape-statement-open",
            "capecitabine",
            S,
            PO,
            "2024-11-01",
            "2024-11-20",
        ),
        ("MedicationRequest/route-by-mouth", "ondansetron", S, PO, "2024-04-21", "2024-04-23"),
        ("MedicationRequest/stop-intolerance", "capecitabine", S, PO, "2024-12-01", "2024-12-14"),
        ("MedicationRequest/stop-supportive", "ondansetron", P, IV, "2024-12-12", "2024-12-12"),
        ("MedicationRequest/other-organization", "paclitaxel", P, IV, "2024-04-22", "2024-04-22"),
    ],
)
def test_single_exposures(
    record: PatientRecord,
    ref: str,
    drug: str,
    kind: ExposureKind,
    route: Route,
    start: str,
    end: str,
) -> None:
    (found,) = exposures(record, ref)
    assert (found.drug, found.kind, found.route) == (drug, kind, route)
    assert (found.start, found.end) == (d(start), d(end))


def test_administration_links_its_order(record: PatientRecord) -> None:
    (given,) = exposures(record, "MedicationAdministration/pac-given-1")
    assert given.order_ref == "MedicationRequest/pac-given"
    assert given.ordered_on == d("2024-01-02")
    assert given.role is DrugRole.ANTICANCER
    # The administrations are the evidence: the order itself adds nothing.
    assert exposures(record, "MedicationRequest/pac-given") == []
    assert exposures(record, "MedicationRequest/stop-progression") == []


def test_every_planned_event_counts(record: PatientRecord) -> None:
    planned = exposures(record, "MedicationRequest/pac-events")
    assert [(e.kind, e.start) for e in planned] == [(P, d("2024-02-01")), (P, d("2024-02-08"))]


def test_dispenses_tell_the_supply_of_their_order(record: PatientRecord) -> None:
    assert exposures(record, "MedicationRequest/cape-dispensed") == []
    (dispensed,) = exposures(record, "MedicationDispense/cape-dispense")
    assert dispensed.order_ref == "MedicationRequest/cape-dispensed"
    assert dispensed.ordered_on == d("2024-08-01")
    assert exposures(record, "MedicationRequest/cape-repeats")[0].ordered_on == d("2024-03-30")


def test_unknown_drug_for_a_cancer_counts_conservatively(record: PatientRecord) -> None:
    (infused,) = exposures(record, "MedicationRequest/unknown-for-cancer")
    assert (infused.drug, infused.drug_name, infused.role) == (
        "",
        "Investigational agent XY-1",
        DrugRole.ANTICANCER,
    )
    assert (infused.kind, infused.route, infused.start) == (P, IV, d("2024-02-10"))
    (oral,) = exposures(record, "MedicationRequest/unknown-oral-reason-code")
    assert (oral.kind, oral.route, oral.start, oral.end) == (
        S,
        PO,
        d("2024-02-11"),
        d("2024-03-09"),
    )
    assert warnings_about(record, "MedicationRequest/unknown-for-cancer") == [
        "MedicationRequest/unknown-for-cancer: Investigational agent XY-1 is not in the regimen "
        "catalog; scored conservatively"
    ]


@pytest.mark.parametrize(
    "ref",
    [
        "MedicationRequest/lisinopril",  # not cancer treatment: silently ignored
        "MedicationRequest/alendronate",  # catalog code contradicted by the text
        "MedicationRequest/draft",
        "MedicationRequest/draft-no-intent",
        "MedicationRequest/no-intent",
        "MedicationRequest/proposal",
        "MedicationRequest/cancelled",
        "MedicationRequest/entered-in-error",
        "MedicationAdministration/pac-not-done",
        "MedicationDispense/cape-dispense-declined",
        "MedicationStatement/cape-statement-intended",
        "MedicationRequest/absurd-supply",
    ],
)
def test_not_counted(record: PatientRecord, ref: str) -> None:
    assert exposures(record, ref) == []


def test_order_stops(record: PatientRecord) -> None:
    stops = {s.ref: (s.on, s.reason) for s in record.order_stops}
    assert stops == {
        # the date of its last administration
        "MedicationRequest/stop-progression": (d("2024-12-05"), StopReason.PROGRESSION),
        # else the end of its validity period
        "MedicationRequest/stop-intolerance": (d("2024-12-20"), StopReason.TOXICITY),
        # else authoredOn
        "MedicationRequest/stop-not-tolerated": (d("2024-12-10"), StopReason.TOXICITY),
    }


def test_warnings_name_the_resource_and_the_problem(record: PatientRecord) -> None:
    assert set(record.warnings) == {
        "MedicationAdministration/pac-backwards: effectivePeriod ends before it starts; "
        "its start is used",
        "MedicationRequest/cape-default: no usable expectedSupplyDuration; "
        "30 days of supply assumed",
        "MedicationDispense/cape-dispense-no-days: no usable daysSupply; 30 days of supply assumed",
        "MedicationStatement/cape-statement-open: effective period has no end; "
        "counted until 2024-11-20",
        "MedicationRequest/unknown-for-cancer: Investigational agent XY-1 is not in the regimen "
        "catalog; scored conservatively",
        "MedicationRequest/unknown-oral-reason-code: ABC-123 20 MG Oral Tablet is not in the "
        "regimen catalog; scored conservatively",
        "MedicationRequest/alendronate: RxNorm 3002 is cyclophosphamide; not counted",
        "MedicationRequest/no-intent: no intent; not counted as an order",
        "MedicationRequest/absurd-supply: could not be read: unexpected content "
        "(OverflowError); ignored",
    }


def test_drafts_count_for_hooks() -> None:
    record = read_fixture("records/medications.json", include_drafts=True)
    assert [e.start for e in exposures(record, "MedicationRequest/draft")] == [d("2025-01-06")]
    # A draft without intent is tolerated; an active order without one still is not.
    assert [e.start for e in exposures(record, "MedicationRequest/draft-no-intent")] == [
        d("2025-01-07")
    ]
    assert exposures(record, "MedicationRequest/no-intent") == []


def test_practice_organizations_exclude_orders_placed_elsewhere() -> None:
    settings = ReaderSettings(
        practice_organizations=frozenset({"practice"}), default_oral_supply_days=10
    )
    record = read_fixture("records/medications.json", settings)
    assert exposures(record, "MedicationRequest/other-organization") == []
    assert exposures(record, "MedicationRequest/pac-authored") != []
    (default,) = exposures(record, "MedicationRequest/cape-default")
    assert default.end == d("2024-07-24")  # 10 days assumed
