"""Invariants of Q1-Q6 over random FHIR records (hypothesis): per patient the numerator is a
subset of the denominator, the denominator of the initial population, excluded cases are never
in the numerator; counts are never negative and practice rates lie in [0, 1]."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_quality_fhir import (
    PACLITAXEL,
    TAMOXIFEN,
    Resource,
    cancer,
    condition,
    ecog,
    hospice_episode,
    pain,
    patient,
    patient_year,
    phq,
    stage,
    visit,
)
from test_quality_fhir import given as administered

from cpoc_fhir.value.model import (
    DENOMINATOR,
    EXCLUSION,
    INITIAL_POPULATION,
    NUMERATOR,
    MeasureTally,
)
from cpoc_fhir.value.quality import QUALITY_MEASURES
from cpoc_fhir.value.settings import ValueSettings

START = date(2024, 6, 1)
days = st.integers(min_value=0, max_value=600).map(
    lambda n: (START + timedelta(days=n)).isoformat()
)


@st.composite
def records(draw: st.DrawFn) -> list[Resource]:
    out: list[Resource] = [patient(draw(st.none() | days))]
    code = draw(st.sampled_from(["C34.90", "C91.10", "C50.911", "I10"]))
    out.append(cancer(code=code, onset=draw(st.none() | days)))
    for n, day in enumerate(draw(st.lists(days, max_size=4))):
        klass = draw(st.sampled_from(["AMB", "VR", "IMP"]))
        out.append(visit(f"v{n}", day, klass=klass))
    for n, day in enumerate(draw(st.lists(days, max_size=5))):
        drug = draw(st.sampled_from([PACLITAXEL, TAMOXIFEN, "2555"]))
        out.append(administered(f"m{n}", day, drug))
    for n, day in enumerate(draw(st.lists(days, max_size=2))):
        out.append(ecog(f"e{n}", day))
    for n, day in enumerate(draw(st.lists(days, max_size=1))):
        out.append(stage(f"s{n}", day))
    for n, day in enumerate(draw(st.lists(st.none() | days, max_size=3))):
        out.append(pain(f"o{n}", day, draw(st.none() | st.integers(0, 10))))
    for n, day in enumerate(draw(st.lists(days, max_size=2))):
        out.append(phq(f"q{n}", day))
    if draw(st.booleans()):
        out.append(hospice_episode("h1", draw(st.none() | days), draw(st.none() | days)))
    if draw(st.booleans()):
        out.append(condition("d1", "F33.1", draw(days)))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=3), st.sampled_from([2024, 2025]))
def test_populations_nest_and_rates_are_proportions(
    practice: list[list[Resource]], year: int
) -> None:
    tallies = {m.id: MeasureTally(m.id) for m in QUALITY_MEASURES}
    for n, resources in enumerate(practice):
        py = patient_year(resources, year)
        for m in QUALITY_MEASURES:
            found = m.evaluate(py, ValueSettings())
            ip = found.cases.get(INITIAL_POPULATION, [])
            den = found.cases.get(DENOMINATOR, [])
            excl = found.cases.get(EXCLUSION, [])
            num = found.cases.get(NUMERATOR, [])
            assert set(den) <= set(ip), m.id
            assert set(num) <= set(den) and set(excl) <= set(den), m.id
            assert not set(num) & set(excl), m.id
            for cases in (ip, den, excl, num):
                assert len(cases) == len(set(cases)), m.id  # each case counted once
            for population in found.cases:
                assert found.evidence.get(population), (m.id, population)  # never unexplained
            tallies[m.id].add(f"p{n}", found)
    for tally in tallies.values():
        assert all(count >= 0 for count in tally.counts.values())
        rate = tally.rate
        assert rate is None or 0 <= rate <= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.sampled_from([2024, 2025]))
def test_more_documentation_never_lowers_a_numerator(resources: list[Resource], year: int) -> None:
    """A pain score, an ECOG and a PHQ on every visit day and first-dose day only add
    numerator cases (Q1, Q2, Q6), never remove any case of any population."""
    before = patient_year(resources, year)
    days = sorted(
        {r["period"]["start"][:10] for r in resources if r["resourceType"] == "Encounter"}
        | {
            r["effectiveDateTime"][:10]
            for r in resources
            if r["resourceType"] == "MedicationAdministration"
        }
    )
    extra: list[Resource] = []
    for n, day in enumerate(days):
        extra += [pain(f"xo{n}", day), ecog(f"xe{n}", day), phq(f"xq{n}", day)]
    after = patient_year([*resources, *extra], year)
    for m in QUALITY_MEASURES:
        old = m.evaluate(before, ValueSettings())
        new = m.evaluate(after, ValueSettings())
        for population in (INITIAL_POPULATION, DENOMINATOR, EXCLUSION):
            assert new.cases.get(population, []) == old.cases.get(population, []), m.id
        assert set(old.cases.get(NUMERATOR, [])) <= set(new.cases.get(NUMERATOR, [])), m.id
        if m.id in ("Q1", "Q2", "Q6"):  # documented on the day: every eligible case is met
            eligible = set(new.cases.get(DENOMINATOR, [])) - set(new.cases.get(EXCLUSION, []))
            assert set(new.cases.get(NUMERATOR, [])) == eligible, m.id
