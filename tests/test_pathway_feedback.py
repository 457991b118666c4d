"""Deviations and switches recorded per order: the pathway decision the hooks keep,
the feedback that gives its reason or its accepted suggestion — through the real service and
its store (SQLite file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cds_support import PRACTICE_TZ, full_prefetch, hook_body, make_app
from flask.testing import FlaskClient
from pathway_support import colon

from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.pathways import PathwayLog

DAY = date(2025, 11, 10)


def call(
    client: FlaskClient, hook: str, patient: Any, drafts: list[dict[str, Any]]
) -> dict[str, Any]:
    body = hook_body(hook, patient.pid, drafts, full_prefetch(patient.resources, patient.pid))
    if hook == "order-select":
        body["context"]["selections"] = [f"MedicationRequest/{drafts[0]['id']}"]
    response = client.post(f"/cds-services/cpoc-{hook}", json=body)
    assert response.status_code == 200, response.get_json()
    [card] = [
        c
        for c in response.get_json()["cards"]
        if c["extension"]["org.cpoc-fhir.card-kind"] == "pathway"
    ]
    return card


def feedback(client: FlaskClient, service: str, entry: dict[str, Any]) -> None:
    entry.setdefault("outcomeTimestamp", "2025-11-11T02:05:00Z")
    response = client.post(f"/cds-services/{service}/feedback", json={"feedback": [entry]})
    assert response.status_code == 200, response.get_json()


def store(tmp_path: Path) -> PathwayLog:
    return PathwayLog(open_ledger(f"sqlite:///{tmp_path}/cds-store.sqlite"))


def test_override_reason_at_select_counts_for_the_signed_order(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    patient = colon("fb-override")
    drafts = patient.drafts("irinotecan", "leucovorin", "fluorouracil")
    card = call(client, "order-select", patient, drafts)
    reason = card["overrideReasons"][1]  # patient preference
    feedback(
        client,
        "cpoc-order-select",
        {"card": card["uuid"], "outcome": "overridden",
         "overrideReason": {"reason": reason, "userComment": "prefers fewer oxaliplatin visits"}},
    )  # fmt: skip
    key = "Patient/fb-override|" + ",".join(sorted(f"MedicationRequest/{d['id']}" for d in drafts))
    selected = store(tmp_path).decision(key)
    assert selected is not None and selected.stage == "selected"
    assert selected.status == "off-pathway" and selected.pathway_id == "colon-adjuvant-stage3"
    assert selected.feedback is not None and selected.feedback.reason_code == "patient-preference"
    # Signing the same orders: one decision, now signed, still with its reason.
    call(client, "order-sign", patient, drafts)
    signed = store(tmp_path).decision(key)
    assert signed is not None and signed.stage == "signed"
    assert (
        signed.feedback is not None
        and signed.feedback.comment == "prefers fewer oxaliplatin visits"
    )
    assert signed.regimen_id == "folfiri" and signed.line_of_therapy == 1
    assert signed.alternatives == ("capox", "folfox")
    assert len(store(tmp_path).decisions(DAY, DAY, PRACTICE_TZ)) == 1


def test_an_accepted_suggestion_records_the_regimen_switched_to(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    patient = colon("fb-accept")
    drafts = patient.drafts("irinotecan", "leucovorin", "fluorouracil")
    card = call(client, "order-select", patient, drafts)
    folfox = next(s for s in card["suggestions"] if s["label"].startswith("Switch to FOLFOX"))
    feedback(
        client,
        "cpoc-order-select",
        {
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": folfox["uuid"]}],
        },
    )
    [decision] = store(tmp_path).decisions(DAY, DAY, PRACTICE_TZ)
    assert decision.accepted and decision.feedback is not None
    assert decision.feedback.accepted_regimen == "folfox"
    # The EHR applied the suggestion: the new drafts are the suggestion's orders; signing them
    # is a second order, on pathway.
    new_drafts = [a["resource"] for a in folfox["actions"] if a["type"] == "create"]
    signed = call(client, "order-sign", patient, new_drafts)
    assert signed["summary"].startswith("On pathway: FOLFOX")
    decisions = store(tmp_path).decisions(DAY, DAY, PRACTICE_TZ)
    assert sorted((d.stage, d.status) for d in decisions) == [
        ("selected", "off-pathway"),
        ("signed", "on-pathway"),
    ]


def test_feedback_on_other_cards_touches_no_decision(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    patient = colon("fb-other")
    call(client, "order-sign", patient, patient.drafts("oxaliplatin", "leucovorin", "fluorouracil"))
    feedback(
        client,
        "cpoc-order-sign",
        {"card": "5f0e5a1c-0000-4000-8000-000000000000", "outcome": "overridden"},
    )
    [decision] = store(tmp_path).decisions(DAY, DAY, PRACTICE_TZ)
    assert decision.status == "on-pathway" and decision.feedback is None


def test_a_store_failure_does_not_cost_the_oncologist_the_cards(
    tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    app = make_app(tmp_path)

    def broken(decision: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(app.extensions["cpoc"].pathway_log, "record", broken)
    patient = colon("fb-store-down")
    card = call(
        app.test_client(),
        "order-sign",
        patient,
        patient.drafts("irinotecan", "leucovorin", "fluorouracil"),
    )
    assert card["summary"].startswith("Off pathway: FOLFIRI")
    assert "could not record a pathway decision" in caplog.text
    assert "fb-store-down" not in caplog.text  # hookInstance only, no patient id
