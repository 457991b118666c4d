"""Invariants of the engine on generated records (hypothesis; strategies in engine_strategies).

Each property is a sentence of cpoc-rules.md that must hold for every record, not one example:
§1 amounts, §5 (fewer drugs never bill more), §9 (no line after death, hospice, transfer),
§11 (explanation and evidence on every line; no line without a Patient), the month cadence
(§2: a record moved by whole months bills the same months), and a patient's lines depend on
that patient's resources only. Examples are few and derandomised so the file runs in seconds.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from engine_strategies import Generated, add_months, payers, records, shift_record, to_resources
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.facts import DrugRole, EpisodeKind, PatientRecord, Route
from cpoc_fhir.engine.lines import BillingLine, LineStatus, PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read.sources import ResourceListSource
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.service import Evaluator

KNOWLEDGE: Knowledge = load_knowledge()  # module level: hypothesis re-runs without fixtures
PAYER = PayerSchedule("test", "Test payer", Decimal("1000.00"))
RULES = RuleSettings()
# CPOC_PROPERTY_EXAMPLES=500 for a longer search than CI's.
EXAMPLES = int(os.environ.get("CPOC_PROPERTY_EXAMPLES", "40"))
FEW = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# cpoc-rules §1's relative values, written out again (not read from the engine's table).
RELATIVE_VALUE = {"xx100": 100, "xx201": 25, "xx202": 43, "xx203": 61, "xx204": 80,
                  "xx301": 2, "xx302": 10, "xx303": 25, "xx401": 30, "xx402": 50,
                  "xx500": 5}  # fmt: skip


def run(generated: Generated, rules: RuleSettings = RULES) -> PatientTimeline:
    return evaluate(generated.record, KNOWLEDGE, rules, PAYER, generated.as_of)


def treatment_month_on(timeline: PatientTimeline, day: date) -> BillingLine | None:
    return next(
        (
            line
            for line in timeline.lines
            if line.component.value == "treatment-month" and line.start <= day <= line.end
        ),
        None,
    )


@FEW
@given(records())
def test_every_line_has_an_explanation_and_evidence(generated: Generated) -> None:
    for line in run(generated).lines:
        assert line.explanation, line
        assert line.evidence, line


@FEW
@given(records(), payers())
def test_amounts_follow_section_1_exactly(generated: Generated, payer: PayerSchedule) -> None:
    timeline = evaluate(generated.record, KNOWLEDGE, RULES, payer, generated.as_of)
    for line in timeline.lines:
        if line.status is LineStatus.NOT_BILLABLE:
            assert line.amount == Decimal("0.00")
            continue
        # round-half-up to cents of base × rv/100 × gpci × (1 + vba), in exact fractions
        exact = (
            Fraction(payer.base) * RELATIVE_VALUE[line.code] / 100 * Fraction(payer.gpci)
            * (1 + Fraction(payer.vba))
        )  # fmt: skip
        cents = int(exact * 100 + Fraction(1, 2))  # floor(x + 1/2): half up, x > 0
        assert line.amount == Decimal(cents) / 100, (line.code, payer)
        assert line.amount.as_tuple().exponent == -2


@FEW
@given(records())
def test_no_line_after_death_hospice_or_transfer(generated: Generated) -> None:
    record = generated.record
    stops = [record.death] if record.death else []
    stops += [e.start for e in record.episodes if e.kind is EpisodeKind.HOSPICE and e.start]
    stops += [e.end for e in record.episodes if e.kind is EpisodeKind.ONCOLOGY and e.end]
    if not stops:
        return
    stop = min(d for d in stops if d is not None)
    for line in run(generated).lines:
        if line.month is not None:  # §9: no month that starts after the event
            assert line.start <= stop, (line.code, line.start, stop)


@FEW
@given(records(parenteral_only=True), st.data())
def test_dropping_an_anticancer_drug_from_a_day_never_raises_t_or_d(
    generated: Generated, data: st.DataObject
) -> None:
    record = generated.record
    first = min(e.start for e in record.exposures)
    droppable = [
        e
        for e in record.exposures
        if e.role is DrugRole.ANTICANCER and e.start > first  # keep the anchor (§2) in place
    ]
    if not droppable:
        return
    dropped = data.draw(st.sampled_from(droppable))
    before = treatment_month_on(run(generated), dropped.start)
    fewer = replace(record, exposures=tuple(e for e in record.exposures if e is not dropped))
    after = treatment_month_on(run(replace(generated, record=fewer)), dropped.start)
    if before is None:
        return  # a day after death, hospice or a transfer: no line to compare
    assert before.score is not None
    if after is None:
        return  # no treatment left that month: no T, no D
    assert after.score is not None
    assert after.score.toxicity <= before.score.toxicity, (dropped.drug, after.explanation)
    assert after.score.administration <= before.score.administration, (
        dropped.drug,
        after.explanation,
    )


def _projection(timeline: PatientTimeline, months: int) -> list[tuple[object, ...]]:
    return [
        (
            line.code,
            line.month,
            line.status,
            line.amount,
            add_months(line.start, months) if line.month is not None else None,
            line.score,
        )
        for line in timeline.lines
    ]


# The rules' windows counted in days (90-day performance lookback, 28-day regimen window,
# 90-day new-line gap, 60-day reason window) cannot be invariant under a calendar-month shift
# (a month is 28-31 days): the general shift runs with them wide open or closed, so only the
# month cadence is tested. A 48-month shift keeps every day gap (leap years repeat every 4
# years in 2001-2099) and runs with the defaults, oral supplies included.
ORDER_ONLY = RuleSettings(
    performance_lookback_days=36_500,
    regimen_window_days=0,
    new_line_gap_days=36_500,
    transition_reason_window_days=36_500,
)


@FEW
@given(records(parenteral_only=True), st.integers(1, 40))
def test_shifting_every_date_by_whole_months_shifts_every_line(
    generated: Generated, months: int
) -> None:
    moved = Generated(
        shift_record(generated.record, months), add_months(generated.as_of, months), True
    )
    expected = _projection(run(generated, ORDER_ONLY), months)
    got = _projection(run(moved, ORDER_ONLY), 0)
    assert got == expected


@FEW
@given(records(), st.sampled_from((48, 96)))
def test_shifting_by_whole_leap_cycles_keeps_every_rule(generated: Generated, months: int) -> None:
    moved = Generated(
        shift_record(generated.record, months), add_months(generated.as_of, months), False
    )
    assert _projection(run(moved), 0) == _projection(run(generated), months)


def test_a_record_whose_patient_is_missing_bills_nothing() -> None:
    # What the engine receives for references to a Patient that is not in the input: the
    # readers leave those resources out and say so (cpoc-rules §11), so the record has no
    # facts, only the warning; the engine bills nothing and passes the warning on.
    warning = "MedicationAdministration/x: Patient/does-not-exist is not in the input"
    record = PatientRecord("Patient/does-not-exist", warnings=(warning,))
    timeline = evaluate(record, KNOWLEDGE, RULES, PAYER, date(2026, 1, 1))
    assert timeline.lines == ()
    assert warning in timeline.warnings


@FEW
@given(records())
def test_no_line_without_the_facts_of_a_patient(generated: Generated) -> None:
    # A record stripped of its facts (what the readers hand over for an unresolvable
    # patient) bills nothing, whatever it held.
    record = PatientRecord(generated.record.patient_ref, warnings=("unresolvable",))
    assert run(replace(generated, record=record)).lines == ()


RXCUI = {d.id: d.rxcui for d in KNOWLEDGE.regimens.drugs.values()}


@settings(FEW, max_examples=max(EXAMPLES // 3, 1))
@given(records("Patient/a", parenteral_only=True), records("Patient/b", parenteral_only=True))
def test_another_patients_resources_never_change_a_patients_lines(
    mine: Generated, other: Generated
) -> None:
    evaluator = Evaluator(KNOWLEDGE, RULES, PAYER)
    alone = to_resources(mine.record, RXCUI)
    # Both patients' resources in one input, interleaved by type (a stable sort).
    mixed = sorted(alone + to_resources(other.record, RXCUI), key=lambda r: r["resourceType"])
    by_patient = {
        t.patient_ref: t.as_json()
        for t in evaluator.timelines(ResourceListSource(mixed), mine.as_of)
    }
    [single] = list(evaluator.timelines(ResourceListSource(alone), mine.as_of))
    assert set(by_patient) == {"Patient/a", "Patient/b"}
    assert by_patient["Patient/a"] == single.as_json()


def test_the_strategies_produce_what_the_properties_need() -> None:
    # Guard against vacuous properties: the records include oral supplies, maintenance
    # subsets after induction, and each kind of stop.
    def oral(g: Generated) -> bool:
        return any(e.route is Route.ORAL for e in g.record.exposures)

    def maintenance(g: Generated) -> bool:  # a day giving fewer of an earlier day's drugs
        days: dict[date, set[str]] = {}
        for e in g.record.exposures:
            if e.role is DrugRole.ANTICANCER:
                days.setdefault(e.start, set()).add(e.drug)
        sets = [days[d] for d in sorted(days)]
        return any(later < earlier for i, earlier in enumerate(sets) for later in sets[i + 1 :])

    def hospice(g: Generated) -> bool:
        return any(e.kind is EpisodeKind.HOSPICE for e in g.record.episodes)

    for wanted in (oral, maintenance, hospice, lambda g: g.record.death is not None):
        find(
            records(),
            wanted,
            settings=settings(
                database=None, derandomize=True, phases=[Phase.generate], max_examples=2000
            ),
        )
