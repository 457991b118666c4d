"""Quality (§12.2, IV-B) and emergency-visit (§12.3, IV-C) ratings: z-scores, the composite,
the phase tables and their boundaries, compared exactly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.value.model import (
    DENOMINATOR,
    EXCLUSION,
    NUMERATOR,
    Contribution,
    ErBenchmarks,
    MeasureBenchmark,
    MeasureTally,
    Rating,
)
from cpoc_fhir.value.ratings import (
    er_reduced,
    measure_z,
    quality_rating,
    rate_er,
    rate_quality,
)
from cpoc_fhir.value.settings import ValueSettings

HIGH, APPROPRIATE, LOW = Rating.HIGH, Rating.APPROPRIATE, Rating.LOW
SETTINGS = ValueSettings()


@dataclass(frozen=True)
class Measure:
    id: str
    improvement: str


MEASURES = (Measure("Q1", "increase"), Measure("Q4", "decrease"), Measure("Q6", "increase"))


def tally(measure_id: str, denominator: int, numerator: int, exclusions: int = 0) -> MeasureTally:
    """A tally of ``denominator`` one-case patients, the first ``numerator`` in the numerator
    and the last ``exclusions`` excluded."""
    t = MeasureTally(measure_id)
    for i in range(denominator):
        c = Contribution()
        c.add(DENOMINATOR, f"Patient/p{i}")
        if i < numerator:
            c.add(NUMERATOR, f"Patient/p{i}")
        if i >= denominator - exclusions:
            c.add(EXCLUSION, f"Patient/p{i}")
        t.add(f"p{i}", c)
    return t


def bench(mean: str, sd: str) -> MeasureBenchmark:
    return MeasureBenchmark(Decimal(mean), Decimal(sd))


# --- per-measure z ----------------------------------------------------------------------------
def test_z_is_sign_corrected_by_improvement() -> None:
    # Q1: 18/20 = 0.9 against mean 0.8, sd 0.05 → (0.9 − 0.8) / 0.05 = +2 (higher is better)
    assert measure_z(Fraction(9, 10), bench("0.8", "0.05"), "increase") == 2
    # Q4: 2/12 = 1/6 against mean 0.10, sd 0.05 → (1/6 − 1/10) / (1/20) = (1/15)·20 = 4/3,
    # and lower is better, so −4/3
    assert measure_z(Fraction(2, 12), bench("0.10", "0.05"), "decrease") == Fraction(-4, 3)


def test_z_is_none_without_rate_benchmark_or_spread() -> None:
    assert measure_z(None, bench("0.8", "0.1"), "increase") is None
    assert measure_z(Fraction(1, 2), None, "increase") is None
    assert measure_z(Fraction(1, 2), bench("0.8", "0"), "increase") is None
    with pytest.raises(ValueError, match="improvement"):
        measure_z(Fraction(1, 2), bench("0.8", "0.1"), "higher")


# --- composite --------------------------------------------------------------------------------
def test_composite_is_the_mean_of_the_comparable_measures() -> None:
    tallies = [tally("Q1", 20, 18), tally("Q4", 12, 2), tally("Q6", 9, 9)]
    benchmarks = {
        "Q1": bench("0.8", "0.05"),
        "Q4": bench("0.10", "0.05"),
        "Q6": bench("0.5", "0.1"),
    }
    result = rate_quality(tallies, MEASURES, benchmarks, 2, True, SETTINGS)
    # Q1 z = +2, Q4 z = −4/3 (above); Q6 has denominator 9 < 10: reported (z = (1 − 0.5)/0.1
    # = 5) but not in the composite. Composite = (2 − 4/3) / 2 = 1/3.
    assert result.z == {"Q1": 2, "Q4": Fraction(-4, 3), "Q6": 5}
    assert result.in_composite == {"Q1": True, "Q4": True, "Q6": False}
    assert result.excluded == {"Q6": "denominator 9 is under 10"}
    assert result.composite == Fraction(1, 3)
    assert result.composite_json == 0.3333
    assert result.z_json("Q4") == -1.3333
    assert result.rating is APPROPRIATE  # Phase 2, composite 1/3 is within one SD


def test_denominator_exactly_the_minimum_is_in_the_composite() -> None:
    result = rate_quality(
        [tally("Q1", 10, 10)], MEASURES, {"Q1": bench("0.5", "0.25")}, 2, True, SETTINGS
    )
    # 10/10 = 1 → (1 − 0.5)/0.25 = 2 > 1 → High
    assert result.in_composite == {"Q1": True}
    assert result.composite == 2
    assert result.rating is HIGH


def test_measures_without_a_benchmark_or_rate_are_left_out() -> None:
    tallies = [tally("Q1", 12, 6), tally("Q4", 12, 0, exclusions=12), tally("Q6", 15, 15)]
    result = rate_quality(tallies, MEASURES, {"Q4": bench("0.1", "0.05")}, 3, True, SETTINGS)
    assert result.excluded == {
        "Q1": "no benchmark for the measure",
        "Q4": "no rate: every case in the denominator is excluded",
        "Q6": "no benchmark for the measure",
    }
    assert result.composite is None
    # Nothing comparable: "within one SD" → Appropriate in Phase 3
    assert result.rating is APPROPRIATE


def test_a_spread_of_zero_is_reported_and_left_out() -> None:
    result = rate_quality(
        [tally("Q1", 20, 10)], MEASURES, {"Q1": bench("0.5", "0")}, 2, True, SETTINGS
    )
    assert result.z == {"Q1": None}
    assert result.excluded == {"Q1": "benchmark sd is 0: no z-score"}


def test_without_benchmarks_nothing_is_rated() -> None:
    for phase in (1, 2, 3):
        result = rate_quality([tally("Q1", 20, 18)], MEASURES, None, phase, True, SETTINGS)
        assert result.rating is None
        assert result.composite is None
        assert result.z == {"Q1": None}


def test_minimum_denominator_is_a_setting() -> None:
    result = rate_quality(
        [tally("Q1", 12, 12)],
        MEASURES,
        {"Q1": bench("0.5", "0.25")},
        2,
        True,
        ValueSettings(minimum_denominator=20),
    )
    assert result.excluded == {"Q1": "denominator 12 is under 20"}


def test_bad_phase_and_unknown_measure() -> None:
    with pytest.raises(ValueError, match="quality phase"):
        rate_quality([], MEASURES, {}, 4, True, SETTINGS)
    with pytest.raises(ValueError, match="Q9"):
        rate_quality([tally("Q9", 12, 1)], MEASURES, {}, 2, True, SETTINGS)


# --- the IV-B table ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("composite", "phase", "submitting", "expected"),
    [
        # row 1: does not submit
        (None, 1, False, APPROPRIATE),
        (Fraction(2), 2, False, LOW),
        (Fraction(2), 3, False, LOW),
        # row 2: submits, more than one SD below
        (Fraction(-3, 2), 1, True, HIGH),
        (Fraction(-3, 2), 2, True, APPROPRIATE),
        (Fraction(-3, 2), 3, True, LOW),
        # row 3: within one SD, boundaries included (exactly ±1 is not "more than")
        (Fraction(-1), 1, True, HIGH),
        (Fraction(-1), 2, True, APPROPRIATE),
        (Fraction(-1), 3, True, APPROPRIATE),
        (Fraction(1), 2, True, APPROPRIATE),
        (Fraction(1), 3, True, APPROPRIATE),
        (Fraction(0), 3, True, APPROPRIATE),
        # row 4: more than one SD above
        (Fraction(1) + Fraction(1, 10**12), 1, True, HIGH),
        (Fraction(1) + Fraction(1, 10**12), 2, True, HIGH),
        (Fraction(1) + Fraction(1, 10**12), 3, True, HIGH),
        (Fraction(-1) - Fraction(1, 10**12), 3, True, LOW),
    ],
)
def test_iv_b_table(
    composite: Fraction | None, phase: int, submitting: bool, expected: Rating
) -> None:
    assert quality_rating(composite, phase, submitting) is expected


def test_boundary_exactly_one_sd_is_exact_not_float() -> None:
    # 0.1 + 0.2 ≠ 0.3 in binary floats; here the rate 3/10 against mean 0.2, sd 0.1 gives
    # z exactly 1 → Appropriate in Phase 2, never "just above 1".
    result = rate_quality(
        [tally("Q1", 10, 3)], MEASURES, {"Q1": bench("0.2", "0.1")}, 2, True, SETTINGS
    )
    assert result.composite == 1
    assert result.rating is APPROPRIATE


# --- the IV-C table ---------------------------------------------------------------------------
ER = ErBenchmarks(mean=Decimal("6.0"), sd=Decimal("1.5"), reference_rate=Decimal("6.0"))


def er(
    rate: str | None, prior: str | None = None, phase: int = 2, home: bool = False
) -> Rating | None:
    return rate_er(
        None if rate is None else Decimal(rate),
        None if prior is None else Decimal(prior),
        ER,
        phase,
        home,
    )


@pytest.mark.parametrize(
    ("rate", "prior", "phase", "home", "expected"),
    [
        # mean 6.0, sd 1.5: "more than 1 SD below" = under 4.5, "above" = over 7.5
        ("4.4999", None, 1, False, HIGH),
        ("4.4999", None, 2, False, HIGH),
        ("4.5", None, 1, False, APPROPRIATE),  # exactly 1 SD below: within
        ("4.5", None, 2, False, APPROPRIATE),
        ("7.5", None, 1, False, APPROPRIATE),  # exactly 1 SD above: within
        ("7.5", None, 2, False, APPROPRIATE),
        ("7.5001", None, 1, False, APPROPRIATE),  # above, not reduced: typical in Phase 1
        ("7.5001", None, 2, False, LOW),
        ("6.0", None, 2, False, APPROPRIATE),
        # medical home: High in Phase 1 whatever the rate, no effect in Phase 2
        ("9.0", None, 1, True, HIGH),
        ("9.0", None, 2, True, LOW),
        ("4.0", None, 2, True, HIGH),
        # reduced: prior 12, mean 6 → gap 6, half 3 → a rate ≤ 9 has fallen enough
        ("9.0", "12.0", 1, False, HIGH),
        ("9.0", "12.0", 2, False, APPROPRIATE),
        ("9.0001", "12.0", 1, False, APPROPRIATE),
        ("9.0001", "12.0", 2, False, LOW),
    ],
)
def test_iv_c_table(rate: str, prior: str | None, phase: int, home: bool, expected: Rating) -> None:
    assert er(rate, prior, phase, home) is expected


def test_er_not_rated_without_benchmarks_or_rate() -> None:
    assert rate_er(Decimal("3"), None, None, 1, True) is None
    assert er(None, phase=2) is None
    assert er(None, phase=1, home=True) is HIGH  # the medical home needs no rate
    with pytest.raises(ValueError, match="ER phase"):
        er("5", phase=3)
    bad = ErBenchmarks(mean=Decimal("6"), sd=Decimal("-1"), reference_rate=Decimal("6"))
    with pytest.raises(KnowledgeError, match=r"er\.sd"):
        rate_er(Decimal("5"), None, bad, 2, False)


def test_reduction_needs_a_prior_rate_above_the_mean() -> None:
    mean = Fraction(6)
    assert not er_reduced(Fraction(8), None, mean)
    assert not er_reduced(Fraction(8), Decimal("6"), mean)  # no gap to close
    assert not er_reduced(Fraction(8), Decimal("5"), mean)  # the rate rose
    assert er_reduced(Fraction(8), Decimal("10"), mean)  # 10 − 8 = 2 ≥ (10 − 6)/2 = 2


@given(
    rate=st.decimals(min_value=0, max_value=30, places=3),
    better=st.decimals(min_value=0, max_value=30, places=3),
    prior=st.one_of(st.none(), st.decimals(min_value=0, max_value=30, places=3)),
    phase=st.sampled_from((1, 2)),
    home=st.booleans(),
)
def test_a_lower_er_rate_never_rates_worse(
    rate: Decimal, better: Decimal, prior: Decimal | None, phase: int, home: bool
) -> None:
    low, high = sorted((rate, better))
    a = rate_er(low, prior, ER, phase, home)
    b = rate_er(high, prior, ER, phase, home)
    assert a is not None and b is not None
    assert a.score >= b.score


@given(
    a=st.fractions(min_value=-5, max_value=5, max_denominator=1000),
    b=st.fractions(min_value=-5, max_value=5, max_denominator=1000),
    phase=st.sampled_from((1, 2, 3)),
    submitting=st.booleans(),
)
def test_a_higher_composite_never_rates_worse(
    a: Fraction, b: Fraction, phase: int, submitting: bool
) -> None:
    low, high = sorted((a, b))
    assert (
        quality_rating(high, phase, submitting).score
        >= quality_rating(low, phase, submitting).score
    )
    # and submitting never rates worse than not submitting
    assert quality_rating(a, phase, True).score >= quality_rating(a, phase, False).score
