"""The value report's pathway measure (value-and-models §12.1): switches on pathway, clinical
trial deviations out of the denominator, "uses a pathway" at 80 % reasons, the IV-A ratings per
cancer type and for the practice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.reports.benchmarks import Benchmark, Benchmarks
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.pathways import DecisionFeedback, PathwayDecision, PathwayLog, StoredDecision
from cpoc_fhir.value.pathway_measure import pathway_cancers, pathway_measure
from cpoc_fhir.value.settings import ValueSettings

WHEN = datetime(2025, 5, 1, 12, tzinfo=UTC)
BENCH = Benchmarks(
    "bench.toml", overall=Benchmark(Decimal("0.80"), Decimal("0.10"), Decimal("0.90"))
)
_n = 0


def decision(
    cancer: str,
    status: str,
    *,
    feedback: str | None = None,
    reason: str | None = None,
    signed: bool = True,
) -> StoredDecision:
    global _n
    _n += 1
    fb = None
    if feedback is not None:
        fb = DecisionFeedback(feedback, WHEN, reason_code=reason)
    return StoredDecision(
        f"Patient/p{_n}|MedicationRequest/m{_n}",
        f"p{_n}",
        "signed" if signed else "selected",
        status,
        WHEN,
        pathway_id=f"{cancer}-pathway" if status in ("on-pathway", "off-pathway") else None,
        cancer=cancer,
        feedback=fb,
    )


def lung_year() -> list[StoredDecision]:
    """lung: 6 on, 1 switch (off + accepted), 2 deviations with a reason (one clinical trial),
    1 without; 1 order never signed; 1 no-pathway order of sarcoma."""
    return [
        *(decision("lung", "on-pathway") for _ in range(6)),
        decision("lung", "off-pathway", feedback="accepted"),
        decision("lung", "off-pathway", feedback="overridden", reason="patient-preference"),
        decision("lung", "off-pathway", feedback="overridden", reason="clinical-trial"),
        decision("lung", "off-pathway"),
        decision("lung", "on-pathway", signed=False),
        decision("sarcoma", "no-pathway"),
    ]


def test_switches_count_on_pathway_and_trial_deviations_leave_the_denominator() -> None:
    measure = pathway_measure(lung_year(), ValueSettings(), BENCH, phase=2)
    lung, sarcoma = measure.cancers
    # on = 6 + 1 switch = 7; deviations 3 (2 with a reason); the trial one leaves the
    # denominator: decisions = 7 + 3 - 1 = 9; rate 7/9 = 0.7778
    assert (lung.on, lung.deviations, lung.with_reason, lung.excluded_trial) == (7, 3, 2, 1)
    assert lung.decisions == 9 and lung.rate == Fraction(7, 9)
    # reasons for 2 of 3 deviations = 66.7 % < 80 %: not used → Low, and the practice Low
    assert not lung.uses(Decimal("0.80"))
    assert lung.rating is not None and lung.rating.label == "Low (not used)"
    assert sarcoma.rating is not None and sarcoma.rating.rating == "Appropriate"
    out = measure.as_json()
    assert out["rate"] == "0.7778" and out["decisions"] == 9 and out["onPathway"] == 7
    assert out["excludedTrial"] == 1 and out["rating"] == "low"
    assert out["byCancer"][0] == {
        "cancer": "lung",
        "rate": "0.7778",
        "decisions": 9,
        "onPathway": 7,
        "excludedTrial": 1,
        "deviations": 3,
        "withReason": 2,
        "uses": False,
        "rating": "low",
    }
    assert out["byCancer"][1]["rating"] == "appropriate"  # no pathway exists (IV-A row 1)


def test_trial_deviations_stay_when_the_setting_is_off() -> None:
    settings_off = ValueSettings(trial_deviations_excluded=False)
    (lung, _) = pathway_measure(lung_year(), settings_off, None, phase=1).cancers
    # decisions = 7 + 3 = 10, rate 0.7
    assert (lung.decisions, lung.excluded_trial, lung.rate) == (10, 0, Fraction(7, 10))


def test_a_lower_reason_share_makes_the_pathway_used_and_phase2_rates_the_rate() -> None:
    share = ValueSettings(pathway_reason_share=Decimal("0.60"))
    measure = pathway_measure(lung_year(), share, BENCH, phase=2)
    lung = measure.cancers[0]
    # 2/3 ≥ 60 %: used. 7/9 = 0.778 ≥ mean - sd = 0.70, < minimum 0.90 → Appropriate
    assert lung.uses(Decimal("0.60"))
    assert lung.rating is not None and lung.rating.rating == "Appropriate"
    assert measure.as_json()["rating"] == "appropriate"
    # phase 1: used → Appropriate whatever the rate
    assert pathway_measure(lung_year(), share, BENCH, phase=1).as_json()["rating"] == "appropriate"


def test_phase2_high_at_the_minimum_and_low_more_than_one_sd_below() -> None:
    high = [
        *(decision("breast", "on-pathway") for _ in range(9)),
        decision("breast", "off-pathway", feedback="overridden", reason="other"),
    ]
    # 9/10 = 0.90 = minimum expected exactly → High
    assert pathway_measure(high, ValueSettings(), BENCH, 2).as_json()["rating"] == "high"
    low = [
        *(decision("breast", "on-pathway") for _ in range(69)),
        *(
            decision("breast", "off-pathway", feedback="overridden", reason="other")
            for _ in range(31)
        ),
    ]
    # 69/100 = 0.69 < 0.70 → Low (more than one SD below)
    assert pathway_measure(low, ValueSettings(), BENCH, 2).as_json()["rating"] == "low"
    # exactly 0.70: not more than one SD below → Appropriate
    edge = [
        *(decision("breast", "on-pathway") for _ in range(7)),
        *(decision("breast", "off-pathway", feedback="overridden", reason="x") for _ in range(3)),
    ]
    assert pathway_measure(edge, ValueSettings(), BENCH, 2).as_json()["rating"] == "appropriate"


def test_a_cancer_type_with_an_available_pathway_and_no_decision_is_not_used() -> None:
    bench = Benchmarks("b.toml", overall=BENCH.overall, available=("dlbcl-line1", "x-unknown"))
    cancers = pathway_cancers(bench, {"dlbcl-line1": "lymphoma", "prostate-mcrpc": "prostate"})
    assert cancers == {"lymphoma"}  # only the available pathways; unknown ids are ignored
    ok = [decision("breast", "on-pathway")]
    measure = pathway_measure(ok, ValueSettings(), bench, 1, cancers)
    out = measure.as_json()
    assert [c["cancer"] for c in out["byCancer"]] == ["breast", "lymphoma"]
    assert out["byCancer"][1] == {
        "cancer": "lymphoma",
        "rate": None,
        "decisions": 0,
        "onPathway": 0,
        "excludedTrial": 0,
        "deviations": 0,
        "withReason": 0,
        "uses": False,
        "rating": "low",
    }
    assert out["rating"] == "low"
    # without `available`: every pathway of the library
    assert pathway_cancers(None, {"a": "lung", "b": "breast"}) == {"lung", "breast"}


def test_without_benchmarks_nothing_is_rated() -> None:
    out = pathway_measure(lung_year(), ValueSettings(), None, 2).as_json()
    assert out["rating"] is None and all(c["rating"] is None for c in out["byCancer"])
    assert out["rate"] == "0.7778"


def test_no_decision_at_all() -> None:
    out = pathway_measure([], ValueSettings(), BENCH, 2).as_json()
    assert out == {
        "rate": None,
        "decisions": 0,
        "onPathway": 0,
        "excludedTrial": 0,
        "byCancer": [],
        "rating": None,
    }


def test_decisions_read_from_the_store(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path}/s.sqlite") as ledger:
        log = PathwayLog(ledger)
        for i, status in enumerate(["on-pathway", "on-pathway", "off-pathway"]):
            log.record(
                PathwayDecision(
                    f"Patient/p{i}|MedicationRequest/m{i}",
                    f"p{i}",
                    "signed",
                    status,
                    WHEN,
                    card_uuid=f"c{i}",
                    pathway_id="nsclc",
                    cancer="lung",
                )
            )
        log.apply_feedback("c2", DecisionFeedback("overridden", WHEN, reason_code="clinical-trial"))
        decisions = log.decisions(date(2025, 1, 1), date(2025, 12, 31), UTC)
    out = pathway_measure(decisions, ValueSettings(), BENCH, 2).as_json()
    # 2 on, 1 trial deviation excluded: 2/2 = 1.0 ≥ 0.90 → High
    assert (out["rate"], out["decisions"], out["excludedTrial"]) == ("1.0000", 2, 1)
    assert out["rating"] == "high"


STATUS = st.sampled_from(["on", "switch", "reason", "trial", "none", "nopathway", "unsigned"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["lung", "breast", "colon"]), STATUS), max_size=40))
def test_counts_add_up(orders: list[tuple[str, str]]) -> None:
    made = []
    for cancer, kind in orders:
        if kind == "on":
            made.append(decision(cancer, "on-pathway"))
        elif kind == "switch":
            made.append(decision(cancer, "off-pathway", feedback="accepted"))
        elif kind in ("reason", "trial"):
            reason = "clinical-trial" if kind == "trial" else "other"
            made.append(decision(cancer, "off-pathway", feedback="overridden", reason=reason))
        elif kind == "none":
            made.append(decision(cancer, "off-pathway"))
        elif kind == "nopathway":
            made.append(decision(cancer, "no-pathway"))
        else:
            made.append(decision(cancer, "on-pathway", signed=False))
    out = pathway_measure(made, ValueSettings(), BENCH, 2).as_json()
    count = {
        k: sum(1 for _, s in orders if s == k) for k in ("on", "switch", "trial", "reason", "none")
    }
    assert out["onPathway"] == count["on"] + count["switch"]
    assert out["excludedTrial"] == count["trial"]
    assert out["decisions"] == count["on"] + count["switch"] + count["reason"] + count["none"]
    assert sum(c["decisions"] for c in out["byCancer"]) == out["decisions"]
    assert sum(c["deviations"] for c in out["byCancer"]) == (
        count["trial"] + count["reason"] + count["none"]
    )
    if out["decisions"]:  # rounded once, to 4 places
        exact = Fraction(out["onPathway"], out["decisions"])
        assert abs(Fraction(out["rate"]) - exact) <= Fraction(1, 20000)
    # the practice is low exactly when a cancer type with a pathway is not used
    unused = [c for c in out["byCancer"] if c["rating"] == "low" and not c["uses"]]
    if unused:
        assert out["rating"] == "low"
