"""A capture run after billing staff reviewed ChargeItems in the review app: approved, held,
declined and corrected items are staff-owned — kept as they are, reported, and a line that
changed after review is a conflict for staff, never a write."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sekmet_server import SekmetServer, running_sekmet
from test_capture_integration import capture, charge_items, examples

from cds_hooks.embedded_fhir import load_resources as load
from cds_hooks.review import actions, compare, provenance
from cds_hooks.review.actions import Reviewer
from cpoc_fhir.capture.plan import KEPT_REVIEWED, Action, plan
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.fhir.write import review_marks as marks
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"
SEPT = (date(2025, 9, 1), date(2025, 9, 30))
TAG = {"system": marks.REVIEW_ACTION, "code": "reviewed", "display": "Reviewed by staff"}
HOLD = {"url": marks.HOLD_EXTENSION, "valueString": "waiting for the pathology report"}


def test_the_review_app_writes_the_marks_the_capture_run_reads() -> None:
    assert actions.REVIEWED_TAG["system"] == marks.REVIEW_ACTION == provenance.REVIEW_ACTION
    assert actions.REVIEWED_TAG["code"] == marks.REVIEWED_CODE
    assert compare.HOLD_EXTENSION == marks.HOLD_EXTENSION
    assert actions.REPLACES_EXTENSION == marks.REPLACES_EXTENSION
    assert compare.base_identifier("p.tm.2025-09-01-c2") == marks.base_identifier(
        "p.tm.2025-09-01-c2"
    )


# --- the plan (pure) -----------------------------------------------------------------------
def item(
    ident: str,
    status: str = "planned",
    code: str = "xx202",
    amount: float | None = 430.0,
    id_: str | None = None,
    start: str = "2025-09-01",
    **fields: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "identifier": [{"system": SYSTEM, "value": ident}],
        "status": status,
        "code": {"coding": [{"system": "urn:cpoc", "code": code}]},
        "occurrencePeriod": {"start": start},
        **fields,
    }
    if amount is not None:
        resource["priceOverride"] = {"value": amount, "currency": "USD"}
    if id_:
        resource["id"] = id_
        resource["meta"] = {"versionId": "4", **(resource.get("meta") or {})}
    return resource


def reviewed(resource: dict[str, Any]) -> dict[str, Any]:
    resource["meta"] = {**resource.get("meta", {}), "tag": [TAG]}
    return resource


def changed(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("status", "code", "priceOverride", "extension")
    return any(a.get(k) != b.get(k) for k in keys)


def run(desired: list[dict[str, Any]], existing: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return plan(desired, existing, SYSTEM, *SEPT, changed)


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        ("billable", {}),  # approved while the line is still provisional
        ("planned", {"extension": [HOLD]}),  # held (tagged)
        ("not-billable", {"note": [{"text": "Declined: no visit"}]}),  # declined
    ],
)
@pytest.mark.parametrize("start", ["2025-09-01", "2025-08-01"])
def test_reviewed_items_are_kept_as_they_are(
    status: str, fields: dict[str, Any], start: str
) -> None:
    current = reviewed(item("p.tm", status, id_="a", start=start, **fields))
    result = run([item("p.tm", "planned", start=start)], [current])
    [step] = result.steps
    assert step.action is Action.UNCHANGED and step.reason == KEPT_REVIEWED
    assert step.resource == current and step.existing_version == "4"
    assert result.kept == [f"ChargeItem/a (p.tm): {KEPT_REVIEWED}"]
    assert not result.review_conflicts and not result.notices


def test_a_held_item_without_the_tag_is_staff_owned_too() -> None:
    current = item("p.tm", "planned", id_="a", extension=[HOLD])
    [step] = run([item("p.tm", "billable")], [current]).steps
    assert step.action is Action.UNCHANGED and step.resource["extension"] == [HOLD]


def test_a_correction_stands_for_its_base_line() -> None:
    original = reviewed(item("p.tm", "entered-in-error", "xx202", id_="old"))
    replaces = {
        "url": marks.REPLACES_EXTENSION,
        "valueReference": {"reference": "ChargeItem/old/_history/1"},
    }
    correction = reviewed(
        item("p.tm-c1", "billable", "xx203", 610.0, id_="new", extension=[replaces])
    )
    result = run([item("p.tm", "billable", "xx202")], [original, correction])
    [step] = result.steps  # no create of p.tm, no retirement of p.tm-c1
    assert (step.action, step.identifier, step.existing_id) == (Action.UNCHANGED, "p.tm-c1", "new")
    assert not result.review_conflicts and not result.notices


def test_a_correction_whose_line_changed_again_is_a_conflict() -> None:
    original = reviewed(item("p.tm", "entered-in-error", "xx202", id_="old"))
    correction = reviewed(item("p.tm-c1", "billable", "xx203", 610.0, id_="new"))
    result = run([item("p.tm", "billable", "xx204", 800.0)], [original, correction])
    assert [s.action for s in result.steps] == [Action.UNCHANGED]
    [conflict] = result.review_conflicts
    assert "line changed after review: computed xx204 800.00, reviewed xx202 430.00" in conflict


def test_the_latest_correction_is_kept_and_a_recreated_original_retired() -> None:
    recreated = item("p.tm", "billable", "xx202", id_="a")  # written by an earlier capture run
    c1 = reviewed(item("p.tm-c1", "entered-in-error", "xx203", id_="b"))
    c2 = reviewed(item("p.tm-c2", "billable", "xx204", id_="c"))
    result = run([item("p.tm", "billable", "xx202")], [recreated, c1, c2])
    actions_ = sorted((s.action.value, s.existing_id) for s in result.steps)
    assert actions_ == [("enter-in-error", "a"), ("unchanged", "c")]


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (item("p.tm", "billable", "xx203", 610.0), "computed xx203 610.00, reviewed xx202 430.00"),
        (item("p.tm", "billable", "xx202", 500.0), "computed xx202 500.00, reviewed xx202 430.00"),
    ],
)
def test_a_reviewed_item_whose_line_changed_is_a_conflict_not_a_write(
    desired: dict[str, Any], message: str
) -> None:
    current = reviewed(item("p.tm", "billable", "xx202", id_="a"))
    result = run([desired], [current])
    assert [s.action for s in result.steps] == [Action.UNCHANGED]
    [conflict] = result.review_conflicts
    assert conflict.startswith("ChargeItem/a (p.tm): line changed after review: ")
    assert message in conflict


def test_a_reviewed_item_whose_line_vanished_is_kept_and_reported() -> None:
    current = reviewed(item("p.trial", "billable", "xx500", 50.0, id_="a"))
    result = run([], [current])
    assert [s.action for s in result.steps] == [Action.UNCHANGED]
    assert "no computed line any more" in result.review_conflicts[0]


def test_a_reviewed_duplicate_is_not_retired() -> None:
    plain = item("p.tm", "billable", id_="a")
    staff = reviewed(item("p.tm", "billable", id_="b"))
    result = run([item("p.tm", "billable")], [plain, staff])
    by_id = {s.existing_id: s.action for s in result.steps}
    assert by_id == {"a": Action.ENTER_IN_ERROR, "b": Action.UNCHANGED}


def test_unreviewed_items_are_still_updated() -> None:
    other_tag = {"system": "http://example.org/tags", "code": "x"}
    current = item("p.tm", "planned", id_="a", meta={"tag": [other_tag]})
    result = run([item("p.tm", "billable", "xx203", 610.0)], [current])
    [step] = result.steps
    assert step.action is Action.UPDATE and step.resource["status"] == "billable"
    assert not result.kept


def test_entered_in_error_items_stay_untouched() -> None:
    retired = reviewed(item("p.tm", "entered-in-error", id_="a"))
    result = run([item("p.tm", "billable")], [retired])
    assert [s.action for s in result.steps] == [Action.CREATE]  # a new line, never the old one


# --- against a real FHIR server ------------------------------------------------------------
FOLFOX_AM = "appendix-a-folfox.active-monitoring.2025-09-03"
FOLFOX_TR = "appendix-a-folfox.transition.2025-09-03"
DECLINED = "declined-treatment.active-monitoring.2025-09-12"
NSCLC_TM = "appendix-b-nsclc.treatment-month.2025-09-01"
TRIAL = "oral-capecitabine-trial.clinical-trial.2025-09-21"
TRIAL_AM = "oral-capecitabine-trial.active-monitoring.2025-09-21"


def by_identifier(base: str) -> dict[str, dict[str, Any]]:
    return {
        i["identifier"][0]["value"]: i
        for i in charge_items(base)
        if i["status"] != "entered-in-error"
    }


def test_a_capture_run_keeps_what_staff_reviewed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    payer: PayerSchedule,
) -> None:
    monkeypatch.chdir(tmp_path)
    with running_sekmet(tmp_path / "sekmet") as server:
        _reviewed_then_captured(server, tmp_path / "ledger.sqlite", capsys, payer)


def _reviewed_then_captured(
    server: SekmetServer, store: Path, capsys: pytest.CaptureFixture[str], payer: PayerSchedule
) -> None:
    base = server.base_url
    load(base, examples())
    assert capture(base, store, "--month", "2025-09", "--as-of", "2025-10-05") == 0
    items = by_identifier(base)
    now = datetime(2025, 10, 6, 15, 0, tzinfo=UTC)
    with FhirClient(base) as client:
        staff = Reviewer(client, PublishSettings(), payer, "Practitioner/b", True, lambda: now)

        def version(ident: str) -> tuple[str, str]:
            return items[ident]["id"], items[ident]["meta"]["versionId"]

        staff.approve(*version(FOLFOX_AM))
        staff.hold(*version(FOLFOX_TR), "waiting for the visit note")
        staff.decline(*version(DECLINED), "no visit this month")
        staff.correct(*version(NSCLC_TM), "treatment on two days", code="xx204")
        staff.approve(*version(TRIAL))
    after_review = by_identifier(base)
    staff_owned = [FOLFOX_AM, FOLFOX_TR, DECLINED, f"{NSCLC_TM}-c1", TRIAL]
    assert NSCLC_TM not in after_review
    capsys.readouterr()

    # the same month again (its lines still provisional): nothing staff did is undone
    assert capture(base, store, "--month", "2025-09", "--as-of", "2025-10-05") == 0
    out = capsys.readouterr().out
    again = by_identifier(base)
    assert again == after_review  # every item, every version: nothing written
    assert "reviewed by staff   5 kept" in out and f"({FOLFOX_AM}): {KEPT_REVIEWED}" in out
    assert "review conflict" not in out

    # a data correction after review (the patient was never on the study), then October
    subject = next(r for r in examples() if r["resourceType"] == "ResearchSubject")
    requests.delete(f"{base}/ResearchSubject/{subject['id']}", timeout=10)
    # Exit 5: done, but a line changed after review (a person must decide).
    assert capture(base, store, "--month", "2025-10", "--as-of", "2025-11-25") == 5
    out = capsys.readouterr().out
    final = by_identifier(base)
    for ident in staff_owned:
        assert final[ident] == after_review[ident], ident
    assert final[FOLFOX_AM]["status"] == "billable"
    assert final[FOLFOX_TR]["status"] == "planned"
    assert final[FOLFOX_TR]["extension"] == [
        {"url": marks.HOLD_EXTENSION, "valueString": "waiting for the visit note"}
    ]
    assert final[DECLINED]["status"] == "not-billable"
    assert final[f"{NSCLC_TM}-c1"]["status"] == "billable"
    assert final[f"{NSCLC_TM}-c1"]["code"]["coding"][0]["code"] == "xx204"
    assert NSCLC_TM not in final
    assert all(TAG["code"] in str(final[i]["meta"]["tag"]) for i in staff_owned)
    assert final[TRIAL]["status"] == "billable"  # approved: not retired by the run
    assert (
        f"review conflict: Patient/oral-capecitabine-trial: ChargeItem/{final[TRIAL]['id']}" in out
    )
    assert "line changed after review: no computed line any more, reviewed xx500" in out
    # an unreviewed provisional item is finalised as before
    assert final[TRIAL_AM]["status"] == "billable"
    assert final[TRIAL_AM]["meta"]["versionId"] == "2"
