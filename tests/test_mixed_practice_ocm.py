"""The mixed-practice generator's edges (value-and-models §15): a bad ``--payer-mix``, claims
under a mix, and OCM in the mix (a 2020 practice: OCM ran 2016-2022). The truth is reasoned as
in tests/test_mixed_practice.py (synthetic/pack_truth.py)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from mixed_support import COMMERCIAL, MEDICARE, MIX, evaluator, switch_day

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.synthetic.pack_truth import ModelWindow, expected_episodes, pack_on
from cpoc_fhir.synthetic.payers import parse_mix


def test_bad_payer_mix_is_an_input_error() -> None:
    for text in ("medicare-eom", "nobody=1", "medicare-eom=x", "none=0", "none=1,none=1"):
        with pytest.raises(InputError):
            parse_mix(text)
    assert parse_mix("medicare-eom=1").mapping() == {MEDICARE: "eom"}


def test_claims_name_the_primary_coverage_of_their_day(tmp_path: Path) -> None:
    """With claims, a covered patient's generic Coverage is replaced by the mix's and each
    claim's insurer and insurance are the order-1 Coverage in force on its service day; a
    patient of the ``none`` entry keeps the generic one (a claim needs an insurance), whose
    unmapped payer falls to the default pack."""
    truth = generate_practice(tmp_path, 40, seed=7, year=2025, claims=True, payer_mix=MIX)
    coverages = [json.loads(x) for x in (tmp_path / "Coverage.ndjson").read_text().splitlines()]
    ids = {c["id"] for c in coverages}
    checked = 0
    for line in (tmp_path / "ExplanationOfBenefit.ndjson").read_text().splitlines():
        eob = json.loads(line)
        patient = truth.patients[eob["patient"]["reference"].removeprefix("Patient/")]
        (insurance,) = eob["insurance"]
        assert insurance["coverage"]["reference"].removeprefix("Coverage/") in ids
        if patient.payer_entry == "none":
            assert eob["insurer"] == {"reference": "Organization/example-payer"}
            continue
        day = date.fromisoformat(eob["billablePeriod"]["start"])
        (primary,) = [c for c in patient.coverages if c.order == 1 and c.holds(day)]
        assert eob["insurer"] == {"reference": primary.payer}
        assert insurance["coverage"] == {"reference": f"Coverage/{primary.coverage_id}"}
        checked += 1
    assert checked > 100
    generic = {c["id"] for c in coverages if c["payor"][0]["reference"].endswith("example-payer")}
    assert generic == {
        f"{pid}-coverage" for pid, p in truth.patients.items() if p.payer_entry == "none"
    }


# OCM (§15.1) ran 2016-2022: a practice year 2020 (treatment from 2019-01-01 to mid-2020) with
# Medicare in OCM. ocm.toml: episodes start 2016-07-01 .. 2022-01-01, no month starts after
# 2022-06-30, MEOS G9678 $160 a month (no dual add-on).
OCM_MIX = "medicare-ocm=0.5,commercial-cpoc=0.4,none=0.1"
OCM_WINDOW = ModelWindow(date(2016, 7, 1), date(2022, 1, 1), date(2022, 6, 30))
OCM_AS_OF = date(2022, 12, 31)


@pytest.fixture(scope="module")
def ocm_practice(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PracticeTruth, dict[str, PatientTimeline], dict[str, PatientTimeline]]:
    folder = tmp_path_factory.mktemp("ocm")
    truth = generate_practice(folder, 60, seed=11, year=2020, claims=False, payer_mix=OCM_MIX)
    mixed, alone = evaluator(truth.payers), evaluator()
    both: tuple[dict[str, PatientTimeline], dict[str, PatientTimeline]] = ({}, {})
    for resources in open_source(folder).patients():
        record = mixed.record(resources)
        pid = record.patient_ref.removeprefix("Patient/")
        both[0][pid] = mixed.evaluate(record, OCM_AS_OF)
        both[1][pid] = alone.evaluate(record, OCM_AS_OF)
    return truth, *both


def test_an_ocm_practice_bills_ocm_months_and_cpoc_months(
    ocm_practice: tuple[PracticeTruth, dict[str, PatientTimeline], dict[str, PatientTimeline]],
) -> None:
    truth, mixed, cpoc_only = ocm_practice
    assert truth.payers == {"Organization/medicare-ocm": "ocm", COMMERCIAL: "cpoc"}
    counts: Counter[str] = Counter()
    switched_both = 0
    for pid, timeline in mixed.items():
        patient = truth.patients[pid]
        for line in timeline.lines:
            assert line.model == pack_on(patient, line.start, truth.payers)
            counts[line.model] += 1
        ocm = [line for line in timeline.lines if line.model == "ocm"]
        assert all(
            (line.code, line.component, line.amount) == ("G9678", Component.MEOS, Decimal("160.00"))
            for line in ocm
        )
        expected = expected_episodes(patient, OCM_AS_OF, truth.payers, "ocm", window=OCM_WINDOW)
        want = [
            (n, k, start)
            for n, e in enumerate(expected, start=1)
            for k, start in zip(e.month_indexes, e.month_starts, strict=True)
        ]
        assert [(line.episode, line.month, line.start) for line in ocm] == want, pid
        cpoc = [line for line in timeline.lines if line.model == "cpoc"]
        assert cpoc == [
            line
            for line in cpoc_only[pid].lines
            if pack_on(patient, line.start, truth.payers) == "cpoc"
        ]
        switched_both += switch_day(patient) is not None and bool(ocm) and bool(cpoc)
    assert counts["ocm"] > 50 and counts["cpoc"] > 50
    assert switched_both >= 1


def test_switch_share_in_the_mix(tmp_path: Path) -> None:
    """``switch=1``: every covered patient treated ≥ 60 days (first to last treatment day)
    switches; ``switch=0``: none does."""
    everyone = generate_practice(tmp_path / "a", 40, claims=False, payer_mix=MIX + ",switch=1")
    for patient in everyone.patients.values():
        days = patient.treatment_days
        long_enough = bool(days) and (days[-1] - days[0]).days >= 60
        want = patient.payer_entry != "none" and long_enough
        assert (switch_day(patient) is not None) == want, patient.patient_id
    nobody = generate_practice(tmp_path / "b", 40, claims=False, payer_mix=MIX + ",switch=0")
    assert all(switch_day(p) is None for p in nobody.patients.values())
    with pytest.raises(InputError):
        parse_mix(MIX + ",switch=2")
