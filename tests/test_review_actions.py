"""Review actions against a real FHIR R4 server (sekmet on 127.0.0.1): approve, hold, correct,
decline, batch approve; the Provenance each writes; conflicts and read-only sessions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B.provenance import Provenance
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.review.actions import (
    REVIEWED_TAG,
    ReadOnlyError,
    ReviewConflict,
    Reviewer,
    ReviewRefused,
)
from cds_hooks.review.compare import HOLD_EXTENSION, hold_reason
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings, cpoc_codings
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.hooks import HookLog

PUBLISH = PublishSettings()
SYSTEM = PUBLISH.practice_identifier_system
# 10:30 in UTC-5: a non-UTC instant (engineering.md, "Freeze time at a non-UTC instant").
NOW = datetime(2025, 10, 5, 10, 30, tzinfo=timezone(timedelta(hours=-5)))
USER = "Practitioner/biller-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-review")) as running:
        yield running


@pytest.fixture
def client(server: SekmetServer) -> Iterator[FhirClient]:
    with FhirClient(server.base_url) as fhir:
        yield fhir


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[HookLog]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    yield HookLog(ledger)
    ledger.engine.dispose()


def reviewer(
    client: FhirClient, payer: PayerSchedule, audit: HookLog | None = None, can_write: bool = True
) -> Reviewer:
    return Reviewer(client, PUBLISH, payer, USER, can_write, lambda: NOW, audit)


def seed(client: FhirClient, payer: PayerSchedule, code: str = "xx202", **fields: Any) -> str:
    """One ChargeItem as a capture run writes it (a fresh patient each time); its id."""
    patient = f"p-{uuid.uuid4().hex[:8]}"
    item = {
        "resourceType": "ChargeItem",
        "meta": {"tag": [PUBLISH.product_tag]},
        "identifier": [{"system": SYSTEM, "value": f"{patient}.treatment-month.2025-09-01"}],
        "status": "planned",
        "code": {"coding": cpoc_codings(code, payer, PUBLISH)},
        "subject": {"reference": f"Patient/{patient}"},
        "occurrencePeriod": {"start": "2025-09-01", "end": "2025-09-30"},
        "priceOverride": {"value": payer.amount(code), "currency": "USD"},
        "note": [{"text": "Treatment Month 6, level 2."}],
        **fields,
    }
    result = client.create(item)
    assert result.id is not None
    return result.id


def provenance(server: SekmetServer, ref: str) -> dict[str, Any]:
    return requests.get(f"{server.base_url}/{ref}", timeout=10).json()


def test_approve_writes_billable_and_a_valid_provenance(
    server: SekmetServer, client: FhirClient, payer: PayerSchedule, audit: HookLog
) -> None:
    item_id = seed(client, payer)
    result = reviewer(client, payer, audit).approve(item_id, "1")
    assert (result.outcome, result.version) == ("approved", "2")
    item = client.read("ChargeItem", item_id)
    assert item["status"] == "billable"
    assert REVIEWED_TAG in item["meta"]["tag"] and PUBLISH.product_tag in item["meta"]["tag"]
    assert item["note"] == [{"text": "Treatment Month 6, level 2."}]  # the rest is kept
    prov = provenance(server, result.provenance_ref or "")
    Provenance.model_validate(prov)
    assert prov["target"] == [{"reference": f"ChargeItem/{item_id}/_history/2"}]
    assert prov["entity"] == [
        {"role": "revision", "what": {"reference": f"ChargeItem/{item_id}/_history/1"}}
    ]
    assert prov["agent"][0]["who"] == {"reference": USER}
    assert prov["recorded"] == "2025-10-05T10:30:00-05:00"
    assert {
        "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
        "code": "UPDATE",
    } in (prov["activity"]["coding"])
    assert "planned, xx202" in prov["text"]["div"] and "→ billable, xx202" in prov["text"]["div"]
    [row] = audit.invocations()
    assert (row["service"], row["hook"], row["outcome"], row["client"]) == (
        "review",
        "approve",
        "approved",
        USER,
    )
    assert row["writes"][0]["provenance"] == result.provenance_ref
    assert row["writes"][0]["after"].startswith("billable")
    assert row["at"] == NOW.astimezone(UTC)


def test_hold_needs_a_reason_and_approve_lifts_it(
    server: SekmetServer, client: FhirClient, payer: PayerSchedule
) -> None:
    item_id = seed(client, payer)
    review = reviewer(client, payer)
    with pytest.raises(ReviewRefused, match="reason is required"):
        review.hold(item_id, "1", "   ")
    assert client.read("ChargeItem", item_id)["meta"]["versionId"] == "1"  # nothing written

    held = review.hold(item_id, "1", "waiting for the ECOG note <b>")
    item = client.read("ChargeItem", item_id)
    assert (item["status"], hold_reason(item)) == ("planned", "waiting for the ECOG note <b>")
    prov = provenance(server, held.provenance_ref or "")
    assert prov["reason"] == [{"text": "waiting for the ECOG note <b>"}]
    assert "&lt;b&gt;" in prov["text"]["div"]  # escaped in the narrative

    review.approve(item_id, "2")
    item = client.read("ChargeItem", item_id)
    assert item["status"] == "billable"
    assert not any(e["url"] == HOLD_EXTENSION for e in item.get("extension", []))


def test_correct_retires_the_old_item_and_creates_a_billable_one(
    server: SekmetServer, client: FhirClient, payer: PayerSchedule
) -> None:
    item_id = seed(client, payer, "xx202")
    result = reviewer(client, payer).correct(item_id, "1", "chemo day missed", level=3)
    old = client.read("ChargeItem", item_id)
    assert old["status"] == "entered-in-error"
    new_id = (result.new_item_ref or "").split("/")[1]
    new = client.read("ChargeItem", new_id)
    assert new["status"] == "billable"
    assert new["code"]["coding"][0]["code"] == "xx203"
    assert new["priceOverride"]["value"] == float(payer.amount("xx203"))
    [ident] = [i["value"] for i in new["identifier"] if i["system"] == SYSTEM]
    assert ident == old["identifier"][0]["value"] + "-c1"
    assert new["subject"] == old["subject"] and new["occurrencePeriod"] == old["occurrencePeriod"]
    assert new["extension"][0]["valueReference"] == {
        "reference": f"ChargeItem/{item_id}/_history/1"
    }
    assert "Corrected from xx202" in new["note"][-1]["text"]
    prov = provenance(server, result.provenance_ref or "")
    Provenance.model_validate(prov)
    assert [t["reference"] for t in prov["target"]] == [
        f"ChargeItem/{item_id}/_history/2",
        f"ChargeItem/{new_id}/_history/1",
    ]
    assert prov["entity"][0]["what"]["reference"] == f"ChargeItem/{item_id}/_history/1"

    # a correction of the correction is "-c2"; correcting the retired one is refused
    again = reviewer(client, payer).correct(new_id, "1", "level 4 after all", code="xx204")
    newer = client.read("ChargeItem", (again.new_item_ref or "").split("/")[1])
    assert newer["identifier"][0]["value"] == ident[:-1] + "2"
    with pytest.raises(ReviewRefused, match="entered-in-error"):
        reviewer(client, payer).correct(item_id, "2", "again", code="xx204")


def test_decline_makes_it_not_billable_with_the_reason(
    server: SekmetServer, client: FhirClient, payer: PayerSchedule
) -> None:
    item_id = seed(client, payer)
    with pytest.raises(ReviewRefused):
        reviewer(client, payer).decline(item_id, "1", "")
    result = reviewer(client, payer).decline(item_id, "1", "patient moved to hospice")
    item = client.read("ChargeItem", item_id)
    assert item["status"] == "not-billable"
    assert item["note"][-1] == {"text": "Declined: patient moved to hospice"}
    assert provenance(server, result.provenance_ref or "")["reason"][0]["text"] == (
        "patient moved to hospice"
    )


def test_batch_approve_reports_a_stale_version_as_a_conflict(
    client: FhirClient, payer: PayerSchedule, audit: HookLog
) -> None:
    ids = [seed(client, payer) for _ in range(3)]
    # someone else changes the second one after the queue was loaded
    other = client.read("ChargeItem", ids[1])
    other["note"] = [{"text": "edited elsewhere"}]
    client.update(other)
    results = reviewer(client, payer, audit).batch_approve([(i, "1") for i in ids])
    assert [r.outcome for r in results] == ["approved", "conflict", "approved"]
    assert "changed by someone else" in results[1].message
    stale = client.read("ChargeItem", ids[1])
    assert (stale["status"], stale["meta"]["versionId"]) == ("planned", "2")  # untouched
    assert [client.read("ChargeItem", i)["status"] for i in (ids[0], ids[2])] == ["billable"] * 2
    assert sorted(r["outcome"] for r in audit.invocations()) == ["approved", "approved", "conflict"]


def test_a_stale_version_applies_nothing(client: FhirClient, payer: PayerSchedule) -> None:
    item_id = seed(client, payer, "xx202")
    reviewer(client, payer).hold(item_id, "1", "check")
    with pytest.raises(ReviewConflict, match="reload"):
        reviewer(client, payer).correct(item_id, "1", "too late", code="xx203")
    assert client.read("ChargeItem", item_id)["meta"]["versionId"] == "2"
    subject = client.read("ChargeItem", item_id)["subject"]["reference"]
    assert len(list(client.search("ChargeItem", {"subject": subject}))) == 1


def test_read_only_sessions_change_nothing(client: FhirClient, payer: PayerSchedule) -> None:
    item_id = seed(client, payer)
    review = reviewer(client, payer, can_write=False)
    for act in (
        lambda: review.approve(item_id, "1"),
        lambda: review.hold(item_id, "1", "x"),
        lambda: review.batch_approve([(item_id, "1")]),
    ):
        with pytest.raises(ReadOnlyError, match="read-only"):
            act()
    assert isinstance(ReadOnlyError("x"), PermissionError)
    assert client.read("ChargeItem", item_id)["meta"]["versionId"] == "1"


def test_billed_items_are_left_alone(client: FhirClient, payer: PayerSchedule) -> None:
    item_id = seed(client, payer, status="billed")
    with pytest.raises(ReviewRefused, match="is billed"):
        reviewer(client, payer).approve(item_id, "1")
    with pytest.raises(ReviewRefused, match="not a CPOC code"):
        reviewer(client, payer).correct(seed(client, payer), "1", "x", code="99213")
