"""The pathway decisions store: one row per order, upsert rules, feedback on either card.

Every test runs on SQLite (a file) and on PostgreSQL when ``CPOC_TEST_POSTGRES_URL`` is set
(as ``test_store.py``: ``scripts/ci-postgres.sh`` starts one; required in CI).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text

from cpoc_fhir.store import Ledger, open_ledger
from cpoc_fhir.store.pathways import DecisionFeedback, PathwayDecision, PathwayLog

T0 = datetime(2025, 11, 3, 14, 0, tzinfo=UTC)
KEY = "Patient/p1|MedicationRequest/mr-1,MedicationRequest/mr-2"


@pytest.fixture
def ledger(url: str) -> Iterator[Ledger]:
    with open_ledger(url) as opened:
        yield opened


@pytest.fixture
def log(ledger: Ledger) -> PathwayLog:
    return PathwayLog(ledger)


def decision(stage: str = "selected", **changes: object) -> PathwayDecision:
    base = PathwayDecision(
        order_key=KEY,
        patient_id="p1",
        stage=stage,
        status="off-pathway",
        decided_at=T0 if stage == "selected" else T0 + timedelta(minutes=5),
        hook_instance=f"hi-{stage}",
        card_uuid=f"card-{stage}",
        pathway_id="nsclc-stage4-pdl1-high",
        pathway_title="NSCLC stage IV non-squamous, PD-L1 ≥ 50 %",
        pathway_url="https://pathways.example.org/PlanDefinition/nsclc-4-ns-pdl1-high",
        pathway_version="2025.2",
        cancer="lung",
        regimen_id="carboplatin-paclitaxel",
        regimen_name="Carboplatin + paclitaxel",
        line_of_therapy=1,
        alternatives=("pembrolizumab", "carboplatin-pemetrexed-pembrolizumab"),
        suggestion_uuids={
            f"s-{stage}-1": "pembrolizumab",
            f"s-{stage}-2": "carboplatin-pemetrexed-pembrolizumab",
        },
    )
    return replace(base, **changes)  # type: ignore[arg-type]


OVERRIDE = DecisionFeedback(
    "overridden",
    T0 + timedelta(minutes=2),
    reason_system="http://example.org/CodeSystem/override-reasons",
    reason_code="patient-preference",
    reason_display="Patient preference",
    comment="wants to avoid immunotherapy",
)


def test_the_table_is_created_by_migration_0003(ledger: Ledger) -> None:
    inspector = inspect(ledger.engine)
    assert "pathway_decisions" in inspector.get_table_names()
    indexes = {i["name"] for i in inspector.get_indexes("pathway_decisions")}
    assert {
        "ix_pathway_decisions_decided_at",
        "ix_pathway_decisions_card_uuid",
        "ix_pathway_decisions_select_card_uuid",
    } <= indexes
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() >= "0003"


def test_a_decision_round_trips(log: PathwayLog) -> None:
    log.record(decision())
    stored = log.decision(KEY)
    assert stored is not None
    assert stored.stage == "selected"
    assert stored.decided_at == T0
    assert stored.alternatives == ("pembrolizumab", "carboplatin-pemetrexed-pembrolizumab")
    assert stored.suggestion_uuids["s-selected-1"] == "pembrolizumab"
    assert stored.select_card_uuid == "card-selected"
    assert stored.feedback is None
    assert log.decision("Patient/p1|MedicationRequest/other") is None


def test_selected_then_signed_is_one_row_signed(log: PathwayLog) -> None:
    log.record(decision("selected"))
    log.record(decision("signed", status="on-pathway", regimen_id="pembrolizumab"))
    (stored,) = log.decisions(date(2025, 11, 1), date(2025, 11, 30), UTC)
    assert stored.stage == "signed"
    assert stored.status == "on-pathway"
    assert stored.regimen_id == "pembrolizumab"
    assert stored.card_uuid == "card-signed"
    assert stored.select_card_uuid == "card-selected"
    assert stored.decided_at == T0 + timedelta(minutes=5)
    assert stored.hook_instance == "hi-signed"
    # the suggestions of both cards stay mapped
    assert set(stored.suggestion_uuids) == {
        "s-selected-1",
        "s-selected-2",
        "s-signed-1",
        "s-signed-2",
    }


def test_a_later_selected_never_replaces_a_signed(log: PathwayLog) -> None:
    log.record(decision("signed"))
    later = decision(
        "selected", decided_at=T0 + timedelta(hours=1), status="on-pathway", card_uuid="card-late"
    )
    log.record(later)
    stored = log.decision(KEY)
    assert stored is not None
    assert (stored.stage, stored.status, stored.decided_at) == (
        "signed",
        "off-pathway",
        T0 + timedelta(minutes=5),
    )
    assert stored.card_uuid == "card-signed"
    # …but its card is known, so feedback on it still lands on the order
    assert stored.select_card_uuid == "card-late"
    assert log.apply_feedback("card-late", OVERRIDE)


def test_a_later_signed_replaces_a_signed_and_a_later_selected_a_selected(
    log: PathwayLog,
) -> None:
    log.record(decision("selected"))
    log.record(decision("selected", status="on-pathway", card_uuid="card-selected-2"))
    stored = log.decision(KEY)
    assert stored is not None
    assert (stored.status, stored.select_card_uuid) == ("on-pathway", "card-selected-2")
    log.record(decision("signed"))
    log.record(decision("signed", status="on-pathway", line_of_therapy=2))
    stored = log.decision(KEY)
    assert stored is not None
    assert (stored.stage, stored.status, stored.line_of_therapy) == ("signed", "on-pathway", 2)


def test_feedback_is_kept_across_the_upsert(log: PathwayLog) -> None:
    log.record(decision("selected"))
    assert log.apply_feedback("card-selected", OVERRIDE)
    log.record(decision("signed"))
    stored = log.decision(KEY)
    assert stored is not None
    assert stored.stage == "signed"
    assert stored.feedback == OVERRIDE
    assert stored.feedback_card == "card-selected"
    assert stored.override_reason


def test_feedback_on_the_select_card_lands_after_signing(log: PathwayLog) -> None:
    log.record(decision("selected"))
    log.record(decision("signed"))
    accepted = DecisionFeedback("accepted", T0 + timedelta(minutes=7))
    assert log.apply_feedback("card-selected", accepted, ["s-selected-2"])
    stored = log.decision(KEY)
    assert stored is not None and stored.feedback is not None
    assert stored.stage == "signed"
    assert stored.feedback.outcome == "accepted"
    assert stored.feedback.accepted_regimen == "carboplatin-pemetrexed-pembrolizumab"
    assert stored.accepted


def test_an_accepted_suggestion_maps_to_its_regimen(log: PathwayLog) -> None:
    log.record(decision("signed"))
    at = T0 + timedelta(minutes=6)
    # the first uuid that the card offered gives the regimen; unknown ones are skipped
    assert log.apply_feedback(
        "card-signed", DecisionFeedback("accepted", at), ["unknown", "s-signed-1"]
    )
    stored = log.decision(KEY)
    assert stored is not None and stored.feedback is not None
    assert stored.feedback.accepted_regimen == "pembrolizumab"
    # an explicit accepted_regimen is kept as given
    explicit = DecisionFeedback("accepted", at + timedelta(seconds=1), accepted_regimen="x")
    assert log.apply_feedback("card-signed", explicit, ["s-signed-1"])
    stored = log.decision(KEY)
    assert stored is not None and stored.feedback is not None
    assert stored.feedback.accepted_regimen == "x"


def test_the_latest_feedback_wins_by_its_own_time(log: PathwayLog) -> None:
    log.record(decision("selected"))
    log.record(decision("signed"))
    late = DecisionFeedback("accepted", T0 + timedelta(minutes=9), accepted_regimen="pembrolizumab")
    assert log.apply_feedback("card-signed", late)
    # an earlier feedback arriving afterwards is found (True) but does not replace the later one
    assert log.apply_feedback("card-selected", OVERRIDE)
    stored = log.decision(KEY)
    assert stored is not None
    assert stored.feedback == late
    assert stored.feedback_card == "card-signed"
    newer = replace(OVERRIDE, at=T0 + timedelta(minutes=10))
    assert log.apply_feedback("card-selected", newer)
    stored = log.decision(KEY)
    assert stored is not None
    assert stored.feedback == newer


def test_feedback_on_an_unknown_card_is_false(log: PathwayLog) -> None:
    log.record(decision("signed"))
    assert not log.apply_feedback("no-such-card", OVERRIDE)
    stored = log.decision(KEY)
    assert stored is not None and stored.feedback is None


def test_decisions_are_selected_by_local_date_inclusive(log: PathwayLog) -> None:
    new_york = ZoneInfo("America/New_York")
    times = {
        "a": datetime(2025, 10, 31, 23, 30, tzinfo=new_york),  # Oct 31 local, Nov 1 UTC
        "b": datetime(2025, 11, 1, 0, 0, tzinfo=new_york),
        "c": datetime(2025, 11, 30, 23, 59, 59, tzinfo=new_york),  # Dec 1 UTC
        "d": datetime(2025, 12, 1, 0, 0, tzinfo=new_york),
    }
    for name, moment in times.items():
        log.record(
            decision("signed", order_key=f"Patient/p1|MedicationRequest/{name}", decided_at=moment)
        )
    got = log.decisions(date(2025, 11, 1), date(2025, 11, 30), new_york)
    assert [d.order_key[-1] for d in got] == ["b", "c"]
    utc = log.decisions(date(2025, 11, 1), date(2025, 11, 30), UTC)
    assert [d.order_key[-1] for d in utc] == ["a", "b"]
    one_day = log.decisions(date(2025, 11, 1), date(2025, 11, 1), timezone(timedelta(hours=-4)))
    assert [d.order_key[-1] for d in one_day] == ["b"]
    with pytest.raises(ValueError, match="after end"):
        log.decisions(date(2025, 12, 1), date(2025, 11, 1))


def test_bad_decisions_and_feedback_are_refused(log: PathwayLog) -> None:
    with pytest.raises(ValueError, match="FHIR Patient resource id"):
        log.record(decision(patient_id="Patient/p1"))
    with pytest.raises(ValueError, match="stage"):
        log.record(decision(stage="proposed"))
    with pytest.raises(ValueError, match="status"):
        log.record(decision(status="maybe"))
    with pytest.raises(ValueError, match="naive"):
        log.record(decision(decided_at=datetime(2025, 11, 3, 14, 0)))
    with pytest.raises(ValueError, match="outcome"):
        log.apply_feedback("card-selected", DecisionFeedback("ignored", T0))
    with pytest.raises(ValueError, match="naive"):
        log.apply_feedback("card-selected", DecisionFeedback("accepted", datetime(2025, 1, 1)))


def test_concurrent_first_records_of_one_order_make_one_row(url: str) -> None:
    """Two workers recording the same new order at once: one row, no error."""
    ledgers = [open_ledger(url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(ledgers))

    def work(i: int, ledger: Ledger) -> None:
        try:
            barrier.wait()
            PathwayLog(ledger).record(
                decision("signed", decided_at=T0 + timedelta(seconds=i), card_uuid=f"c{i}")
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with ledgers[0].engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pathway_decisions")).scalar() == 1
    finally:
        for ledger in ledgers:
            ledger.close()
