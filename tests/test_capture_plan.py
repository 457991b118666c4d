"""Planning a capture run: create, update, finalise, enter-in-error, leave billed items alone."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpoc_fhir.capture.ids import charge_item_id
from cpoc_fhir.capture.plan import Action, WriteMode, plan

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"
SEPT = (date(2025, 9, 1), date(2025, 9, 30))


def item(
    ident: str,
    start: str,
    status: str = "planned",
    level: str = "xx201",
    id_: str | None = None,
    version: str = "1",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "identifier": [{"system": SYSTEM, "value": ident}],
        "status": status,
        "code": {"coding": [{"code": level}]},
        "occurrencePeriod": {"start": start},
    }
    if id_:
        resource["id"] = id_
        resource["meta"] = {"versionId": version}
    return resource


def changed(a: dict, b: dict) -> bool:
    return (a["status"], a["code"]) != (b["status"], b["code"])


def run(desired: list[dict], existing: list[dict]):
    return plan(desired, existing, SYSTEM, *SEPT, changed)


def test_new_lines_of_the_month_are_created_earlier_missing_ones_are_not() -> None:
    result = run(
        [
            item("p.tm.2025-08-03", "2025-08-03"),
            item("p.tm.2025-09-03", "2025-09-03"),
            item("p.tm.2025-10-03", "2025-10-03"),
        ],
        [],
    )
    assert [(s.action, s.identifier) for s in result.steps] == [(Action.CREATE, "p.tm.2025-09-03")]


def test_unchanged_items_are_left_alone() -> None:
    existing = [item("p.tm.2025-09-03", "2025-09-03", id_="a")]
    result = run([item("p.tm.2025-09-03", "2025-09-03")], existing)
    assert [s.action for s in result.steps] == [Action.UNCHANGED]


@pytest.mark.parametrize(
    ("start", "existing_status", "action", "notice"),
    [
        ("2025-09-03", "planned", Action.UPDATE, False),  # this month: corrected
        ("2025-09-03", "billable", Action.UPDATE, False),  # this month, not yet billed
        ("2025-09-03", "billed", Action.UNCHANGED, True),  # sent to the payer: never touched
        ("2025-08-03", "planned", Action.UPDATE, False),  # earlier provisional: finalised
        ("2025-08-03", "billable", Action.UNCHANGED, True),  # earlier final: reported only
    ],
)
def test_changed_lines(start: str, existing_status: str, action: Action, notice: bool) -> None:
    existing = [item("p.tm", start, status=existing_status, id_="a", version="3")]
    desired = [item("p.tm", start, status="billable", level="xx202")]
    result = run(desired, existing)
    [step] = result.steps
    assert step.action is action
    assert bool(result.notices) is notice
    if action is Action.UPDATE:
        assert (step.existing_id, step.existing_version) == ("a", "3")
        assert step.resource["id"] == "a" and step.resource["code"]["coding"][0]["code"] == "xx202"


def test_a_line_that_disappears_is_entered_in_error() -> None:
    existing = [
        item("p.tm.2025-09-03", "2025-09-03", id_="a", version="2"),
        item("p.tm.2025-11-03", "2025-11-03", id_="b"),
    ]  # after the run's month: kept
    result = run([], existing)
    [step] = result.steps
    assert (step.action, step.existing_id, step.existing_version) == (
        Action.ENTER_IN_ERROR,
        "a",
        "2",
    )
    assert step.resource["status"] == "entered-in-error" and "meta" not in step.resource


def test_a_billed_item_without_a_line_is_reported_not_changed() -> None:
    result = run([], [item("p.tm.2025-09-03", "2025-09-03", status="billed", id_="a")])
    assert result.steps == [] and "left for billing staff" in result.notices[0]


def test_duplicates_keep_one_and_retire_the_others() -> None:
    existing = [
        item("p.tm", "2025-09-03", id_="b"),
        item("p.tm", "2025-09-03", id_="a"),
        item("p.tm", "2025-09-03", status="entered-in-error", id_="c"),
    ]
    result = run([item("p.tm", "2025-09-03")], existing)
    actions = sorted((s.action.value, s.existing_id) for s in result.steps)
    assert actions == [("enter-in-error", "b"), ("unchanged", "a")]
    assert "duplicate" in result.notices[0]


def test_desired_items_need_an_identifier() -> None:
    bad = item("x", "2025-09-03")
    bad["identifier"] = []
    with pytest.raises(ValueError, match="identifier"):
        run([bad], [])


def test_only_what_is_sent_is_validated_and_an_invalid_item_is_refused() -> None:
    from cpoc_fhir.capture.plan import Action, Plan, Step
    from cpoc_fhir.capture.run import check_writes
    from cpoc_fhir.fhir.write.publish import ResourceValidationError

    bad = {"resourceType": "ChargeItem", "status": "bogus", "identifier": [{"value": "p.x"}]}
    kept = Plan([Step(Action.UNCHANGED, "p.x", bad), Step(Action.ENTER_IN_ERROR, "p.x", bad)])
    check_writes(kept)  # nothing is sent with new content: nothing to validate
    with pytest.raises(ResourceValidationError, match=r"ChargeItem p\.x"):
        check_writes(Plan([Step(Action.CREATE, "p.x", bad)]))


# --- deterministic ids, re-creation after retirement, the hook write mode ------------------


def priced(resource: dict[str, Any], amount: str) -> dict[str, Any]:
    return dict(resource, priceOverride={"value": amount, "currency": "USD"})


def test_a_create_carries_the_lines_deterministic_id() -> None:
    [step] = run([item("p.tm.2025-09-03", "2025-09-03")], []).steps
    assert step.new_id == charge_item_id(SYSTEM, "p.tm.2025-09-03") and not step.recreate


def test_a_retired_item_does_not_stand_for_its_line_the_next_generation_is_created() -> None:
    first = charge_item_id(SYSTEM, "p.tm.2025-09-03")
    retired = item("p.tm.2025-09-03", "2025-09-03", "entered-in-error", id_=first)
    [step] = run([item("p.tm.2025-09-03", "2025-09-03")], [retired]).steps
    assert step.action is Action.CREATE and step.recreate
    assert step.new_id == charge_item_id(SYSTEM, "p.tm.2025-09-03", 2) == f"{first}-2"


def test_hook_mode_never_retires_a_line_it_does_not_see_nor_a_duplicate() -> None:
    existing = [
        item("p.tm.2025-09-03", "2025-09-03", id_="a"),
        item("p.tm.2025-09-17", "2025-09-17", id_="b"),
        item("p.tm.2025-09-17", "2025-09-17", id_="c"),
    ]
    result = plan([], existing, SYSTEM, *SEPT, changed, WriteMode.HOOK)
    assert result.of(Action.ENTER_IN_ERROR) == []
    month_end = plan([], existing, SYSTEM, *SEPT, changed)
    assert {s.existing_id for s in month_end.of(Action.ENTER_IN_ERROR)} == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("before", "after", "action"),
    [
        ("300.00", "450.00", Action.UPDATE),  # a raise: the hook may write it
        ("450.00", "300.00", Action.UNCHANGED),  # a lower amount waits for the month-end run
    ],
)
def test_hook_mode_only_raises_a_planned_item(before: str, after: str, action: Action) -> None:
    existing = [priced(item("p.tm.2025-09-03", "2025-09-03", level="xx202", id_="a"), before)]
    desired = [priced(item("p.tm.2025-09-03", "2025-09-03", level="xx203"), after)]
    [step] = plan(desired, existing, SYSTEM, *SEPT, changed, WriteMode.HOOK).steps
    assert step.action is action
    assert step.only_raise is (action is Action.UPDATE)


def test_hook_mode_never_changes_a_billable_item() -> None:
    existing = [priced(item("p.tm.2025-09-03", "2025-09-03", "billable", id_="a"), "300.00")]
    desired = [priced(item("p.tm.2025-09-03", "2025-09-03", "billable", "xx203"), "450.00")]
    [step] = plan(desired, existing, SYSTEM, *SEPT, changed, WriteMode.HOOK).steps
    assert step.action is Action.UNCHANGED
