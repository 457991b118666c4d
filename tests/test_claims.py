"""FFS charges read from ChargeItem, Claim and CARIN Blue Button ExplanationOfBenefit."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from cpoc_fhir.economics.claims import ClaimLine, read_claims
from cpoc_fhir.economics.codes import FfsKind, classify

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
NDC = "http://hl7.org/fhir/sid/ndc"
ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
C4BB = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"


def adjudication(code: str, value: float | str, system: str = ADJ) -> dict[str, Any]:
    return {
        "category": {"coding": [{"system": system, "code": code}]},
        "amount": {"value": value, "currency": "USD"},
    }


def eob_item(
    sequence: int,
    code: str,
    paid: float | str | None,
    *,
    system: str = CPT,
    units: float | None = None,
    on: str | None = "2025-03-03",
    submitted: float | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sequence": sequence,
        "productOrService": {"coding": [{"system": system, "code": code}]},
        "adjudication": [],
    }
    if on is not None:
        item["servicedDate"] = on
    if units is not None:
        item["quantity"] = {"value": units}
    if submitted is not None:
        item["adjudication"].append(adjudication("submitted", submitted))
    if paid is not None:
        item["adjudication"].append(adjudication("benefit", paid))
    return item


def eob(eob_id: str, patient: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A CARIN BB professional EOB (only the elements the reader uses)."""
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": eob_id,
        "status": "active",
        "use": "claim",
        "outcome": "complete",
        "patient": {"reference": f"Patient/{patient}"},
        "billablePeriod": {"start": "2025-03-03"},
        "item": list(items),
        **extra,
    }


def charge_item(
    item_id: str,
    patient: str,
    code: str,
    *,
    price: float | None,
    quantity: float | None = None,
    system: str = CPT,
    on: str = "2025-03-03",
    status: str = "billed",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "id": item_id,
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": on,
    }
    if price is not None:
        out["priceOverride"] = {"value": price, "currency": "USD"}
    if quantity is not None:
        out["quantity"] = {"value": quantity}
    return out


def claim(claim_id: str, patient: str, *items: dict[str, Any], status: str = "active") -> dict:
    return {
        "resourceType": "Claim",
        "id": claim_id,
        "status": status,
        "use": "claim",
        "patient": {"reference": f"Patient/{patient}"},
        "billablePeriod": {"start": "2025-03-03"},
        "item": list(items),
    }


def claim_item(sequence: int, code: str, **money: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sequence": sequence,
        "productOrService": {"coding": [{"system": CPT, "code": code}]},
        "servicedDate": "2025-03-04",
    }
    for name in ("net", "unitPrice"):
        if name in money:
            item[name] = {"value": money[name], "currency": "USD"}
    if "quantity" in money:
        item["quantity"] = {"value": money["quantity"]}
    if "factor" in money:
        item["factor"] = money["factor"]
    return item


def amounts(lines: list[ClaimLine]) -> dict[str, Decimal | None]:
    return {line.evidence: line.amount for line in lines}


def test_eob_item_amount_is_the_benefit_adjudication_not_submitted() -> None:
    # 99213 billed 150.00, paid 92.03: the revenue is what was paid (CARIN "benefit").
    read = read_claims("p1", [eob("e1", "p1", eob_item(1, "99213", 92.03, submitted=150.00))])
    (line,) = read.lines
    assert (line.patient_id, line.on, line.code, line.system) == (
        "p1",
        date(2025, 3, 3),
        "99213",
        CPT,
    )
    assert line.amount == Decimal("92.03") and line.basis == "paid"
    assert line.evidence == "ExplanationOfBenefit/e1#item1"
    assert line.kind is FfsKind.REPLACED


def test_eob_drug_units_and_paidtoprovider_fallback() -> None:
    # J9263 (oxaliplatin, per 0.5 mg) × 170 units paid 45.90 as C4BB paidtoprovider only.
    item = eob_item(2, "J9263", None, system=HCPCS, units=170)
    item["adjudication"] = [adjudication("paidtoprovider", 45.90, C4BB)]
    (line,) = read_claims("p1", [eob("e2", "p1", item)]).lines
    assert line.units == Decimal(170) and line.amount == Decimal("45.90")
    assert line.kind is FfsKind.DRUG


def test_eob_item_without_paid_amount_has_none_and_date_falls_back_to_billable_period() -> None:
    item = eob_item(1, "85025", None, on=None, submitted=12.0)
    (line,) = read_claims("p1", [eob("e3", "p1", item)]).lines
    assert line.amount is None and line.basis is None  # submitted is not paid: left to pricing
    assert line.on == date(2025, 3, 3)
    assert line.kind is FfsKind.OTHER


def test_two_benefit_adjudications_add_up() -> None:
    item = eob_item(1, "96413", 100.00)
    item["adjudication"].append(adjudication("benefit", 35.71))
    (line,) = read_claims("p1", [eob("e4", "p1", item)]).lines
    assert line.amount == Decimal("135.71")


def test_charge_item_amount_is_price_override_times_quantity() -> None:
    # 96415 (each additional hour) at 29.36 × 2 hours = 58.72
    read = read_claims("p1", [charge_item("c1", "p1", "96415", price=29.36, quantity=2)])
    (line,) = read.lines
    assert line.amount == Decimal("58.72") and line.basis == "charge"
    assert line.evidence == "ChargeItem/c1"


def test_charge_item_without_price_is_left_for_the_fee_schedule() -> None:
    (line,) = read_claims("p1", [charge_item("c2", "p1", "99213", price=None)]).lines
    assert line.amount is None and line.units == 1


def test_claim_item_net_else_unit_price_times_quantity_times_factor() -> None:
    resource = claim(
        "k1",
        "p1",
        claim_item(1, "99214", net=130.00, unitPrice=1.0, quantity=1),
        claim_item(2, "96415", unitPrice=29.36, quantity=3),  # 88.08
        claim_item(3, "96375", unitPrice=20.00, quantity=2, factor=0.5),  # 20.00
        claim_item(4, "99213"),  # no amount
    )
    assert amounts(read_claims("p1", [resource]).lines) == {
        "Claim/k1#item1": Decimal("130.0"),
        "Claim/k1#item2": Decimal("88.08"),
        "Claim/k1#item3": Decimal("20.000"),
        "Claim/k1#item4": None,
    }


def test_a_claim_adjudicated_by_an_eob_of_the_input_is_not_counted_twice() -> None:
    resources = [
        claim("k2", "p1", claim_item(1, "99213", net=150.00)),
        eob("e5", "p1", eob_item(1, "99213", 92.03), claim={"reference": "Claim/k2"}),
    ]
    read = read_claims("p1", resources)
    assert amounts(read.lines) == {"ExplanationOfBenefit/e5#item1": Decimal("92.03")}
    assert read.skipped == {"Claim adjudicated by an ExplanationOfBenefit of the input": 1}


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (
            charge_item("c3", "p1", "99213", price=92.03, status="entered-in-error"),
            "ChargeItem entered-in-error",
        ),
        (
            charge_item("c4", "p1", "99213", price=92.03, status="not-billable"),
            "ChargeItem not-billable",
        ),
        (claim("k3", "p1", claim_item(1, "99213", net=1.0), status="draft"), "Claim draft"),
        (
            {**eob("e6", "p1", eob_item(1, "99213", 1.0)), "status": "cancelled"},
            "ExplanationOfBenefit cancelled",
        ),
    ],
)
def test_withdrawn_charges_are_skipped_and_counted(resource: dict, reason: str) -> None:
    read = read_claims("p1", [resource])
    assert read.lines == [] and read.skipped == {reason: 1} and read.warnings == []


def test_the_products_own_cpoc_charge_items_are_not_ffs() -> None:
    own = charge_item("cpoc-1", "p1", "xx204", price=800.0, system="http://example.org/cpoc")
    read = read_claims("p1", [own])
    assert read.lines == [] and sum(read.skipped.values()) == 1 and read.warnings == []


def test_an_item_without_a_code_is_warned_about_by_item_and_the_rest_is_read() -> None:
    uncoded = eob_item(2, "x", 10.0)
    uncoded["productOrService"] = {"text": "office visit"}
    read = read_claims("p1", [eob("e7", "p1", eob_item(1, "99213", 92.03), uncoded)])
    assert [line.evidence for line in read.lines] == ["ExplanationOfBenefit/e7#item1"]
    assert read.warnings == ["ExplanationOfBenefit/e7#item[1]: no code; left out"]


def test_an_element_of_the_wrong_type_names_the_resource_and_element() -> None:
    bad = eob("e8", "p1", eob_item(1, "99213", 92.03))
    bad["item"][0]["adjudication"][0]["amount"] = {"value": "92.03"}  # a string, not a decimal
    read = read_claims("p1", [bad])
    assert read.lines == []
    assert read.warnings == [
        "ExplanationOfBenefit/e8: item[0].adjudication[0].amount.value is not a FHIR decimal; "
        "left out"
    ]


@pytest.mark.parametrize(
    ("system", "code", "kind"),
    [
        (CPT, "99213", FfsKind.REPLACED),  # established visit, II-D
        (HCPCS, "96413", FfsKind.REPLACED),  # CPT under the Blue Button HCPCS system
        (CPT, "36415", FfsKind.REPLACED),  # venipuncture, II-D
        (CPT, "99243", FfsKind.OTHER),  # consultation: stays billable (cpoc-rules §10)
        (CPT, "85025", FfsKind.OTHER),  # CBC
        (CPT, "71260", FfsKind.OTHER),  # CT chest
        (HCPCS, "J9263", FfsKind.DRUG),  # oxaliplatin
        (HCPCS, "J8521", FfsKind.DRUG),  # oral capecitabine
        (HCPCS, "Q5107", FfsKind.DRUG),  # a bevacizumab biosimilar
        (NDC, "0003-0894-21", FfsKind.DRUG),
        ("http://example.org/local", "99213", FfsKind.OTHER),  # not a CPT system: not replaced
    ],
)
def test_classification(system: str, code: str, kind: FfsKind) -> None:
    assert classify(system, code) is kind


def test_a_folder_of_resource_files_is_read_like_a_bundle(tmp_path) -> None:
    from cpoc_fhir.economics.charges import collect_charges
    from cpoc_fhir.fhir.read import open_source

    item = charge_item("c9", "p1", "96413", price=135.71)
    del item["occurrenceDateTime"]
    item["occurrencePeriod"] = {"start": "2025-03-03", "end": "2025-03-03"}
    (tmp_path / "charge.json").write_text(json.dumps(item))
    (tmp_path / "eob.json").write_text(json.dumps(eob("e9", "p1", eob_item(1, "99213", 92.03))))
    (tmp_path / "notes.txt").write_text("not FHIR")
    charges = collect_charges(open_source(tmp_path), None, date(2025, 3, 1), date(2025, 3, 31))
    assert amounts(charges.by_patient["p1"]) == {
        "ChargeItem/c9": Decimal("135.71"),
        "ExplanationOfBenefit/e9#item1": Decimal("92.03"),
    }
    assert charges.warnings == []
    # The same resources dated outside the period are counted apart, not priced.
    later = collect_charges(open_source(tmp_path), None, date(2025, 4, 1), date(2025, 4, 30))
    assert later.by_patient == {} and later.outside_period == 2
