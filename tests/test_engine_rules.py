"""The CPOC rules (cpoc-rules.md §2-§11) on hand-built facts, one behaviour per test."""

from __future__ import annotations

from datetime import date

from conftest import Runner, lines_of, month_codes
from factories import (
    cancer,
    condition,
    cycles,
    ecog,
    episode,
    given,
    oral,
    planned,
    record,
    stage,
    status,
    trial,
    visit,
)

from cpoc_fhir.engine.facts import CancerRole, DiseaseState, DrugRole, EpisodeKind

FOLFOX = ("oxaliplatin", "leucovorin", "fluorouracil")
NED = DiseaseState.NED


def folfox_patient(**extra: list) -> dict:
    """Stage III colon cancer: visit 2025-01-10, 12 FOLFOX cycles q14d from 2025-02-03
    (months 1-6 anchored on the 3rd), NED on 2025-08-05, visits in months 7 and 12."""
    facts: dict = {
        "diagnoses": [cancer("C18.7", "2025-01-01")],
        "exposures": cycles(FOLFOX, "2025-02-03", 14, 12),
        "visits": [visit("2025-01-10"), visit("2025-08-10"), visit("2026-01-20")],
        "performance": [ecog("2025-01-10", 1)],
        "disease_status": [status("2025-08-05", NED)],
    }
    for key, values in extra.items():
        facts[key] = facts.get(key, []) + values
    return facts


# --- §2-§5: anchoring, treatment months, New Patient ---------------------------------------


def test_treatment_months_then_monitoring_levels_after_ned(run: Runner) -> None:
    timeline = run(record(**folfox_patient()), "2026-02-10")
    codes = month_codes(timeline)
    assert codes[None] == ["xx100 final"]  # New Patient visit before month 1
    for k in range(1, 7):
        assert [c.split()[0][:4] for c in codes[k]] == ["xx20"], k
    assert codes[7] == ["xx303 final", "xx401 final"]  # m=1 NED + completed with NED
    assert codes[8] == ["xx303 final"] and codes[9] == ["xx303 final"]
    assert codes[10] == codes[11] == codes[12] == ["xx302 final"]  # m = 4..6
    assert codes[13] == ["xx301 provisional"]  # m = 7, the month is still open
    first = lines_of(timeline, "treatment-month")[0]
    assert (first.start.isoformat(), first.end.isoformat()) == ("2025-02-03", "2025-03-02")


def test_oral_drug_anchors_on_the_order_date(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer("C50.9", "2025-01-01", cancer_type="breast")],
        "exposures": [oral("tamoxifen", "2025-03-10", 90, start="2025-03-14")],
        "visits": [visit("2025-03-01")],
    }
    timeline = run(record(**facts), "2025-06-30")
    months = lines_of(timeline, "treatment-month")
    assert months[0].start.isoformat() == "2025-03-10"
    # the supply covers 2025-03-14 .. 2025-06-11: months 1-4 are treatment months
    assert [m.month for m in months] == [1, 2, 3, 4]


def test_planned_infusion_is_provisional_until_given(run: Runner) -> None:
    facts = folfox_patient()
    facts["exposures"] = [planned("docetaxel", "2025-02-03")]
    timeline = run(record(**facts), "2025-04-01")
    month = lines_of(timeline, "treatment-month")[0]
    assert month.status.value == "provisional"
    assert any("not yet recorded as given" in e for e in month.explanation)


def test_current_month_is_provisional(run: Runner) -> None:
    timeline = run(record(**folfox_patient()), "2025-02-20")
    assert month_codes(timeline)[1][0].endswith("provisional")


def test_supportive_drug_alone_makes_a_treatment_month(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer()],
        "exposures": [given("zoledronic-acid", "2025-02-01", DrugRole.SUPPORTIVE)],
        "visits": [visit("2025-01-20")],
    }
    timeline = run(record(**facts), "2025-04-01")
    assert month_codes(timeline)[1][0].startswith("xx20")


def test_supportive_drug_without_cancer_is_not_treatment(run: Runner) -> None:
    facts = {"exposures": [given("ondansetron", "2025-02-01", DrugRole.SUPPORTIVE)]}
    assert run(record(**facts), "2025-04-01").lines == ()


def test_new_patient_for_a_consultation_only_is_not_billed(run: Runner) -> None:
    facts = {"diagnoses": [cancer()], "visits": [visit("2025-02-01")]}
    timeline = run(record(**facts), "2025-06-01")
    assert timeline.lines == ()
    assert any("consultation" in w for w in timeline.warnings)


def test_patient_who_declines_treatment_new_patient_then_monitoring(run: Runner) -> None:
    facts = {
        "diagnoses": [
            cancer("C25.0", "2025-01-05", cancer_type="pancreas"),
            cancer("C78.7", "2025-01-05", role=CancerRole.SECONDARY),
        ],
        "visits": [visit("2025-01-15"), visit("2025-03-20")],
        "episodes": [episode("2025-01-15")],
    }
    codes = month_codes(run(record(**facts), "2025-05-20"))
    assert codes[1] == ["xx100 final"]  # month 1 is the New Patient month
    assert codes[2] == ["xx303 final"] and codes[3] == ["xx303 final"]  # metastatic, m = 1, 2
    assert codes[5] == ["xx303 provisional"]


def test_treatment_without_any_visit_flags_new_patient_not_billable(run: Runner) -> None:
    facts = folfox_patient()
    facts["visits"] = []
    new_patient = lines_of(run(record(**facts), "2025-04-01"), "new-patient")[0]
    assert new_patient.status.value == "not-billable"
    assert str(new_patient.amount) == "0.00"
    assert any("no face-to-face visit" in e for e in new_patient.explanation)


# --- §5: the score -----------------------------------------------------------------------


def test_performance_worst_in_month_else_lookback_else_warning(run: Runner) -> None:
    facts = folfox_patient(performance=[ecog("2025-02-10", 3), ecog("2025-02-20", 2)])
    months = lines_of(run(record(**facts), "2025-06-01"), "treatment-month")
    assert months[0].score is not None and months[0].score.performance == 2  # worst: ECOG 3
    assert months[1].score is not None and months[1].score.performance == 1  # latest: ECOG 2
    facts["performance"] = []
    months = lines_of(run(record(**facts), "2025-06-01"), "treatment-month")
    assert months[0].score is not None and months[0].score.performance == 0
    assert any("performance status" in w for w in months[0].warnings)


def test_performance_older_than_the_lookback_is_not_used(run: Runner) -> None:
    facts = folfox_patient()
    facts["performance"] = [ecog("2024-10-01", 3)]  # > 90 days before 2025-02-03
    month = lines_of(run(record(**facts), "2025-03-10"), "treatment-month")[0]
    assert month.score is not None and month.score.performance == 0
    month = lines_of(
        run(record(**facts), "2025-03-10", performance_lookback_days=200), "treatment-month"
    )[0]
    assert month.score is not None and month.score.performance == 2


def test_comorbidity_counts_conditions_active_in_the_month(run: Runner) -> None:
    # CHF (1) + diabetes with complications (2) + moderate/severe liver (3) = 6 → 1 point;
    # the liver disease abates before month 2 → index 3 → 0 points.
    facts = folfox_patient(
        diagnoses=[
            condition("I50.9"),
            condition("E11.22"),
            condition("K72.10", abatement="2025-03-01"),
        ]
    )
    months = lines_of(run(record(**facts), "2025-05-01"), "treatment-month")
    assert [m.score.comorbidity for m in months[:2] if m.score] == [1, 0]


def test_administration_two_plus_rule_and_level(run: Runner, knowledge) -> None:
    folfox = knowledge.regimens.regimens["folfox"]
    timeline = run(record(**folfox_patient()), "2025-04-01")
    score = lines_of(timeline, "treatment-month")[0].score
    assert score is not None and score.treatment_days == 2
    two_plus = {0: 1, 1: 2, 2: 4, 3: 6, 4: 8}[folfox.infusion_category]
    assert score.administration == two_plus
    assert score.toxicity == folfox.toxicity_points
    assert score.regimen == "folfox"


def test_oral_initial_month_scores_higher_than_later_months(run: Runner, knowledge) -> None:
    cape = knowledge.regimens.regimens["capecitabine"]
    facts = {
        "diagnoses": [cancer()],
        "exposures": [oral("capecitabine", "2025-02-01", 120)],
        "visits": [visit("2025-01-20")],
    }
    months = lines_of(run(record(**facts), "2025-06-15"), "treatment-month")
    initial, later = {
        "single-on-off": (2, 1),
        "single-daily": (1, 0),
        "multi-daily": (2, 2),
        "multi-on-off": (4, 3),
    }[cape.oral_pattern]
    assert [m.score.administration for m in months[:2] if m.score] == [initial, later]


def test_drug_not_in_catalog_scores_conservatively_with_warning(run: Runner) -> None:
    facts = folfox_patient()
    facts["exposures"] = [given("", "2025-02-03"), given("", "2025-02-17")]
    month = lines_of(run(record(**facts), "2025-04-01"), "treatment-month")[0]
    assert month.score is not None
    assert (month.score.toxicity, month.score.administration) == (0, 1)  # 2+ at category 0
    assert month.warnings


# --- §6: Active Monitoring --------------------------------------------------------------


def test_pause_within_treatment_is_level_3_without_transition(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer()],
        # 02-01, 02-22, 03-15 (months 1-2), none in month 3 (04-01..04-30), 05-05 (month 4)
        "exposures": cycles(("docetaxel",), "2025-02-01", 21, 3)
        + cycles(("docetaxel",), "2025-05-05", 21, 2),
        "visits": [visit("2025-01-20")],
        "disease_status": [status("2025-03-15", NED)],
    }
    codes = month_codes(run(record(**facts), "2025-07-01"))
    assert codes[3] == ["xx303 final"]
    line = lines_of(run(record(**facts), "2025-07-01"), "active-monitoring")[0]
    assert any("pause" in e for e in line.explanation)


def test_pause_not_yet_known_is_provisional(run: Runner) -> None:
    facts = folfox_patient()
    # as of 2025-08-10 month 7 (08-03..09-02) is open: a pause cannot be excluded
    codes = month_codes(run(record(**facts), "2025-08-10"))
    assert codes[7] == ["xx303 provisional", "xx401 provisional"]


def test_no_visit_in_the_six_months_after_treatment(run: Runner) -> None:
    facts = folfox_patient()
    facts["visits"] = [visit("2025-01-10")]
    codes = month_codes(run(record(**facts), "2026-02-10"))
    # window months 7-12 (2025-08-03 .. 2026-02-02) closed with no visit
    assert codes[8] == ["xx303 not-billable"]
    assert codes[11] == ["xx302 not-billable"]
    codes = month_codes(run(record(**facts), "2025-11-10"))
    assert codes[8] == ["xx303 provisional"]  # the window is still open


def test_level_1_needs_a_visit_in_the_twelve_months(run: Runner) -> None:
    facts = folfox_patient()
    facts["visits"] = [visit("2025-01-10"), visit("2025-08-10")]
    codes = month_codes(run(record(**facts), "2026-09-10"))
    assert codes[13] == ["xx301 final"]  # visit 2025-08-10 within 12 months of 2026-03-02
    assert codes[19] == ["xx301 not-billable"]  # month 19 ends 2026-09-02: none in 12 months


def test_surveillance_horizon_ends_monitoring(run: Runner) -> None:
    facts = folfox_patient(visits=[visit(f"{y}-03-01") for y in range(2026, 2031)])
    timeline = run(record(**facts), "2031-01-01")
    monitoring = lines_of(timeline, "active-monitoring")
    assert monitoring[-1].month == 66  # m = 60 is month 6 + 60
    short = run(record(**facts), "2031-01-01", surveillance_horizon_by_cancer={"colorectal": 24})
    assert lines_of(short, "active-monitoring")[-1].month == 30


def test_metastatic_stays_level_3(run: Runner) -> None:
    facts = folfox_patient(stages=[stage("2025-01-05", "IVA")])
    codes = month_codes(run(record(**facts), "2026-03-10"))
    assert codes[13] == ["xx303 final"]
    assert "xx401" not in " ".join(codes[7])  # completion needs NED


def test_unknown_disease_state_bills_ned_level_provisionally(run: Runner) -> None:
    facts = folfox_patient()
    facts["disease_status"] = []
    timeline = run(record(**facts), "2025-11-10")
    assert month_codes(timeline)[8] == ["xx303 provisional"]
    assert any("NED level" in w for w in lines_of(timeline, "active-monitoring")[0].warnings)


def test_late_effect_keeps_level_2(run: Runner) -> None:
    facts = folfox_patient(diagnoses=[condition("G62.0", "2025-07-20", late_effect=True)])
    codes = month_codes(run(record(**facts), "2026-03-10"))
    assert codes[13] == ["xx302 final"]


# --- §7: Transition ---------------------------------------------------------------------


def test_progression_by_result_and_class_change_with_reason(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer("C34.11", "2025-01-01", cancer_type="lung")],
        "exposures": cycles(("cisplatin", "gemcitabine"), "2025-02-01", 21, 3)
        + cycles(("docetaxel",), "2025-04-20", 21, 3),
        "visits": [visit("2025-01-20"), visit("2025-04-18")],
        "disease_status": [status("2025-04-15", DiseaseState.WORSENED)],
    }
    timeline = run(record(**facts), "2025-07-15")
    transition = lines_of(timeline, "transition")[0]
    assert (transition.code, transition.month, transition.status.value) == ("xx401", 3, "final")
    text = " ".join(transition.explanation)
    assert "progression documented by a result" in text and "change of drug class" in text


def test_class_change_without_reason_is_no_transition(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer("C50.9", "2025-01-01", cancer_type="breast")],
        "exposures": cycles(("doxorubicin", "cyclophosphamide"), "2025-02-01", 21, 4)
        + cycles(("paclitaxel",), "2025-05-01", 7, 6),
        "visits": [visit("2025-01-20"), visit("2025-05-01")],
    }
    timeline = run(record(**facts), "2025-07-15")
    explanations = [" ".join(t.explanation) for t in lines_of(timeline, "transition")]
    assert not any("change of drug class" in text for text in explanations)
    assert any("planned sequence" in w for w in timeline.warnings)
    # The month of the change carries the warning on its own Treatment line too (the hooks
    # show it beside the level).
    changed = [
        t for t in lines_of(timeline, "treatment-month") if t.start <= date(2025, 5, 1) <= t.end
    ]
    assert any("planned sequence" in w for w in changed[0].warnings)
    others = [t for t in lines_of(timeline, "treatment-month") if t not in changed]
    assert not any("planned sequence" in w for t in others for w in t.warnings)


def test_metastasis_present_before_treatment_is_no_progression(run: Runner) -> None:
    facts = folfox_patient(diagnoses=[cancer("C78.7", "2025-01-20", role=CancerRole.SECONDARY)])
    timeline = run(record(**facts), "2025-04-01")
    assert lines_of(timeline, "transition") == []


def test_recurrence_long_after_treatment_with_ned_is_level_2(run: Runner) -> None:
    facts = folfox_patient(
        diagnoses=[cancer("C78.7", "2026-03-10", role=CancerRole.SECONDARY)],
        visits=[visit("2026-03-12")],
    )
    transition = next(
        t for t in lines_of(run(record(**facts), "2026-05-01"), "transition") if t.month == 14
    )
    assert transition.code == "xx402"
    assert "recurrence" in " ".join(transition.explanation)


def test_recurrence_within_six_months_is_level_1(run: Runner) -> None:
    facts = folfox_patient(
        diagnoses=[cancer("C78.7", "2025-10-10", role=CancerRole.SECONDARY)],
        visits=[visit("2025-10-12")],
    )
    codes = month_codes(run(record(**facts), "2025-12-01"))
    assert "xx401 final" in codes[9]


def test_transition_without_visit_in_a_closed_month_is_not_billable(run: Runner) -> None:
    facts = folfox_patient()
    facts["visits"] = [visit("2025-01-10"), visit("2025-10-01")]  # month 8 (09-03..10-02)
    codes = month_codes(run(record(**facts), "2025-11-10"))
    assert codes[7] == ["xx303 final", "xx401 not-billable"]


# --- §8-§9: Clinical Trial, when lines stop -----------------------------------------------


def test_clinical_trial_rides_on_treatment_and_monitoring_months(run: Runner) -> None:
    facts = folfox_patient(trials=[trial("2025-02-01", "2025-09-15")])
    codes = month_codes(run(record(**facts), "2025-11-10"))
    assert "xx500 final" in codes[1] and "xx500 final" in codes[7]
    assert "xx500 final" in codes[8]  # on study until 2025-09-15, in month 8 (09-03..10-02)
    assert all("xx500" not in c for c in codes[9])


def test_off_study_status_earns_nothing(run: Runner) -> None:
    facts = folfox_patient(trials=[trial("2025-02-01", on_study=False)])
    assert lines_of(run(record(**facts), "2025-04-01"), "clinical-trial") == []


def test_no_lines_for_months_starting_after_death(run: Runner) -> None:
    facts = folfox_patient()
    timeline = run(record(death=__import__("datetime").date(2025, 9, 20), **facts), "2026-01-01")
    assert max(line.month or 0 for line in timeline.lines) == 8  # death in month 8 (09-03..)


def test_transfer_of_care_ends_lines(run: Runner) -> None:
    facts = folfox_patient(episodes=[episode("2025-01-10", "2025-10-05")])
    timeline = run(record(**facts), "2026-01-01")
    assert max(line.month or 0 for line in timeline.lines) == 9  # month 9 starts 10-03


def test_last_month_before_a_transfer_is_not_a_pending_pause(run: Runner) -> None:
    # treatment ends in month 6 (07-03..08-02); care transfers on 2025-08-20, in month 7
    facts = folfox_patient(episodes=[episode("2025-01-10", "2025-08-20")])
    codes = month_codes(run(record(**facts), "2026-01-01"))
    assert max(k for k in codes if k is not None) == 7
    assert codes[7] == ["xx303 final", "xx401 final"]


def test_hospice_stops_monitoring_and_treatment_unless_configured(run: Runner) -> None:
    hospice = episode("2025-04-10", kind=EpisodeKind.HOSPICE)
    facts = folfox_patient(episodes=[hospice])
    timeline = run(record(**facts), "2025-12-01")
    assert max(line.month or 0 for line in timeline.lines) == 3  # month 3 starts 04-03
    timeline = run(record(**facts), "2025-12-01", hospice_physician_is_practice_oncologist=True)
    months = {line.month for line in timeline.lines if line.component.value == "treatment-month"}
    assert months == {1, 2, 3, 4, 5, 6}
    assert lines_of(timeline, "active-monitoring") == []


def test_facts_after_as_of_are_not_known(run: Runner) -> None:
    facts = folfox_patient()
    early = run(record(**facts), "2025-03-10")
    assert [line.month for line in lines_of(early, "treatment-month")] == [1, 2]
    assert lines_of(early, "treatment-month")[-1].status.value == "provisional"


def test_not_billable_lines_carry_no_amount_and_say_why(run: Runner) -> None:
    facts = folfox_patient()
    facts["visits"] = [visit("2025-01-10")]
    line = next(x for x in run(record(**facts), "2026-02-10").lines if x.month == 8)
    assert str(line.amount) == "0.00"
    assert any(e.startswith("Not billable: no face-to-face visit") for e in line.explanation)
