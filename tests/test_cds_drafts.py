"""Drafts cited as drafts (cpoc-rules §11): a hook's draft order id is the EHR's local id.

The CDS Hooks sandbox sends ``MedicationRequest/request-123`` for every draft: no server holds
it. Cards name it as a draft without a link; no ChargeItem (proposed or written) references it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from cds_support import full_prefetch, hook_body, make_app, medication_order, record_on

from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.fhir.write import ChargeContext, ChargeDiagnosis, PublishSettings, build_charge_item
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.cpoc.draft import draft_evidence, is_draft_evidence
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

PID = "appendix-a-folfox"
DAY = "2025-03-03"
SIGN = "/cds-services/cpoc-order-sign"
DRAFT = "MedicationRequest/request-123"


def folfox_with_a_sandbox_id() -> list[dict[str, Any]]:
    return [
        medication_order("request-123", PID, "32592", "oxaliplatin", DAY),
        medication_order("lv", PID, "6313", "leucovorin", DAY),
        medication_order("fu", PID, "4492", "fluorouracil", DAY),
    ]


def signed(tmp_path: Path) -> dict[str, Any]:
    app = make_app(tmp_path, today=DAY)
    body = hook_body(
        "order-sign", PID, folfox_with_a_sandbox_id(), full_prefetch(record_on(PID, DAY), PID)
    )
    response = app.test_client().post(SIGN, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def test_card_evidence_names_the_draft_as_a_draft(tmp_path: Path) -> None:
    answer = signed(tmp_path)
    treatment = answer["cards"][0]["detail"]
    # Month 1 (2025-03-03) rests on the ECOG, the colon cancer and the three drafts.
    assert "`Condition/appendix-a-folfox-condition-3`" in treatment
    assert "`Observation/appendix-a-folfox-observation-42`" in treatment
    assert "draft MedicationRequest request-123 (not yet on the server)" in treatment
    assert f"`{DRAFT}`" not in treatment
    assert "draft:" not in json.dumps(answer)  # the marker never leaves the service


def test_no_proposed_charge_item_references_a_draft(tmp_path: Path) -> None:
    answer = signed(tmp_path)
    (action,) = answer["systemActions"]
    item = action["resource"]
    refs = [r["reference"] for r in item.get("supportingInformation", [])]
    refs += [r["reference"] for r in item.get("service", [])]
    assert refs and not [r for r in refs if r.startswith("MedicationRequest/")]
    # What is left is the non-draft evidence, in the line's order.
    assert item["supportingInformation"] == [
        {"reference": "Condition/appendix-a-folfox-condition-3"},
        {"reference": "Observation/appendix-a-folfox-observation-42"},
    ]


# --- the ChargeItem builder's filter ----------------------------------------------------------
def _line(evidence: tuple[str, ...]) -> BillingLine:
    component, level, _ = CODES["xx203"]
    return BillingLine(
        code="xx203",
        component=component,
        level=level,
        month=1,
        start=date(2025, 3, 3),
        end=date(2025, 4, 2),
        status=LineStatus.PROVISIONAL,
        amount=Decimal("610.00"),
        explanation=("Treatment Month 1",),
        evidence=evidence,
    )


def _context(payer: PayerSchedule, diagnosis: ChargeDiagnosis | None) -> ChargeContext:
    return ChargeContext(
        patient_ref="Patient/p1",
        episode_ref=None,
        diagnosis=diagnosis,
        entered=datetime(2025, 3, 3, 9, tzinfo=timezone(timedelta(hours=-5))),
        payer=payer,
        settings=PublishSettings(),
    )


def test_the_marker_round_trips() -> None:
    assert draft_evidence(DRAFT) == "draft:MedicationRequest/request-123"
    assert is_draft_evidence(draft_evidence(DRAFT)) and not is_draft_evidence(DRAFT)


def test_a_line_resting_only_on_drafts_cites_the_diagnosis_and_the_patient(
    payer: PayerSchedule,
) -> None:
    diagnosis = ChargeDiagnosis("Condition/c1", "C18.7", None, "colon")
    item = build_charge_item(_line((draft_evidence(DRAFT),)), _context(payer, diagnosis))
    assert item["supportingInformation"] == [
        {"reference": "Condition/c1"},
        {"reference": "Patient/p1"},
    ]
    assert "service" not in item
    bare = build_charge_item(_line((draft_evidence(DRAFT),)), _context(payer, None))
    assert bare["supportingInformation"] == [{"reference": "Patient/p1"}]


def test_drafts_are_dropped_and_server_evidence_kept(payer: PayerSchedule) -> None:
    evidence = ("MedicationAdministration/ma-1", draft_evidence(DRAFT), "Observation/o-1")
    item = build_charge_item(_line(evidence), _context(payer, None))
    assert item["supportingInformation"] == [
        {"reference": "MedicationAdministration/ma-1"},
        {"reference": "Observation/o-1"},
    ]
    assert item["service"] == item["supportingInformation"]


def test_a_line_without_any_evidence_still_has_none(payer: PayerSchedule) -> None:
    line = dataclasses.replace(_line(()), evidence=())
    assert "supportingInformation" not in build_charge_item(line, _context(payer, None))
