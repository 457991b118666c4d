"""The CDS Hooks tables: audit rows, idempotent feedback, jti replay refusal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.hooks import CardRecord, FeedbackItem, HookLog, Invocation

WHEN = datetime(2025, 9, 3, 14, 0, tzinfo=UTC)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[HookLog]:
    ledger = open_ledger(f"sqlite:///{tmp_path}/store.sqlite")
    yield HookLog(ledger)
    ledger.close()


def test_an_invocation_is_audited_with_cards_but_no_patient_data(log: HookLog) -> None:
    log.record(
        Invocation(
            service="cpoc-order-sign",
            outcome="cards",
            http_status=200,
            latency_ms=12.3456,
            hook_instance="hi-1",
            hook="order-sign",
            client="https://ehr.example/",
            patient_ref="Patient/p1",
            cards=(CardRecord("c-1", "treatment-month", "info", "xx204"),),
        )
    )
    (row,) = log.invocations()
    assert row["hookInstance"] == "hi-1"
    assert row["latencyMs"] == 12.346
    assert row["cards"] == [
        {"uuid": "c-1", "kind": "treatment-month", "indicator": "info", "code": "xx204"}
    ]
    assert row["writes"] == []


def test_feedback_is_stored_once_per_card_and_outcome(log: HookLog) -> None:
    accepted = FeedbackItem("card-1", "accepted", WHEN, ("s-1",))
    assert log.add_feedback("cpoc-order-sign", [accepted]) == ["stored"]
    assert log.add_feedback("cpoc-order-sign", [accepted]) == ["duplicate"]
    more = FeedbackItem("card-1", "accepted", WHEN, ("s-1", "s-2"))
    assert log.add_feedback("cpoc-order-sign", [more]) == ["merged"]
    overridden = FeedbackItem("card-1", "overridden", WHEN, (), "urn:x", "r1", "Reason one")
    assert log.add_feedback("cpoc-order-sign", [overridden]) == ["stored"]
    rows = log.feedback("cpoc-order-sign")
    assert [(r["outcome"], r["acceptedSuggestions"]) for r in rows] == [
        ("accepted", ["s-1", "s-2"]),
        ("overridden", []),
    ]
    assert rows[1]["overrideReason"]["display"] == "Reason one"
    assert rows[0]["outcomeTimestamp"] == WHEN


def test_a_jti_is_accepted_once_per_issuer(log: HookLog) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    assert log.first_use("https://ehr.example/", "j-1", expires)
    assert not log.first_use("https://ehr.example/", "j-1", expires)
    assert log.first_use("https://other.example/", "j-1", expires)
