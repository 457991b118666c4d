"""A synthetic practice billed under a mix of packs (value-and-models §15; issue 15 item 7).

A 60-patient practice (seed 7, year 2025) with the payer mix
``medicare-eom=0.4,commercial-cpoc=0.4,medicaid-dual=0.1,none=0.1`` is evaluated with the
``[models]`` mapping the generator writes (Medicare → EOM, commercial → CPOC). What each line
must be comes from the generator's truth, never from the files (synthetic/pack_truth.py):

- a line's pack = the pack of the payer of the order-1 Coverage in force on the line's start
  (its billing day); no Coverage → the default, CPOC;
- EOM: episodes start on infusion days (administrations) the pack holds the patient — oral
  drugs are orders only, which trigger nothing (§15.1) — six months each, back to back; a
  month bills when it starts on an EOM day up to the last billable day (as-of 2026-06-30,
  death, hospice start). Amounts (eom.toml, §15.2): $70 for months starting in 2024, $110 from
  2025, +$30 when a Medicaid Coverage (SOPT 2) is in force on the month's first day;
- CPOC: the mixed run's CPOC lines are exactly the CPOC-only run's lines dated on CPOC days
  (CPOC months count from the first treatment whoever paid, cpoc-rules §2).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st
from mixed_support import COMMERCIAL, MEDICARE, MIX, evaluator, switch_day

from cpoc_fhir.config import load_config
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, PatientTimeline
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.synthetic import PracticeTruth, generate_practice
from cpoc_fhir.synthetic.pack_truth import expected_episodes, is_dual, pack_on
from cpoc_fhir.synthetic.payers import SOPT

AS_OF = date(2026, 6, 30)
# eom.toml [meos.amounts]: by the year of the month's first day; dual add-on $30 both years
MEOS = {2024: Decimal("70.00"), 2025: Decimal("110.00"), 2026: Decimal("110.00")}
DUAL_ADD_ON = Decimal("30.00")
PACKS = ["cpoc", "eom", "ocm"]  # OCM ended 2022: on this 2025 practice it bills nothing


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PracticeTruth]:
    folder = tmp_path_factory.mktemp("mixed")
    return folder, generate_practice(folder, 60, seed=7, year=2025, claims=False, payer_mix=MIX)


@pytest.fixture(scope="module")
def records(practice: tuple[Path, PracticeTruth]) -> dict[str, PatientRecord]:
    folder, _ = practice
    reader = evaluator()
    out = {}
    for resources in open_source(folder).patients():
        record = reader.record(resources)
        out[record.patient_ref.removeprefix("Patient/")] = record
    return out


@pytest.fixture(scope="module")
def mixed(
    practice: tuple[Path, PracticeTruth], records: dict[str, PatientRecord]
) -> dict[str, PatientTimeline]:
    _, truth = practice
    under = evaluator(truth.payers)
    return {pid: under.evaluate(r, AS_OF) for pid, r in records.items()}


@pytest.fixture(scope="module")
def cpoc_only(records: dict[str, PatientRecord]) -> dict[str, PatientTimeline]:
    alone = evaluator()  # no mapping: every payer falls to the default, CPOC
    return {pid: alone.evaluate(r, AS_OF) for pid, r in records.items()}


def _digest(folder: Path, name: str) -> str:
    return hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_the_mix_changes_no_clinical_record(
    practice: tuple[Path, PracticeTruth], tmp_path: Path
) -> None:
    """Without a mix nothing about payers is written; with one, every other file is
    byte-identical (the mix draws from its own stream)."""
    folder, _ = practice
    plain = generate_practice(tmp_path, 60, seed=7, year=2025, claims=False)
    assert not (tmp_path / "Coverage.ndjson").exists()
    assert not (tmp_path / "models.toml").exists()
    assert plain.payers == {} and all(p.coverages == [] for p in plain.patients.values())
    assert all(p.payer_entry == "" for p in plain.patients.values())
    for path in tmp_path.glob("*.ndjson"):
        if path.name != "Organization.ndjson":
            assert _digest(folder, path.name) == _digest(tmp_path, path.name), path.name
    assert (folder / "Coverage.ndjson").exists()


def test_same_seed_same_payers_other_seed_others(
    practice: tuple[Path, PracticeTruth], tmp_path: Path
) -> None:
    folder, truth = practice
    again = generate_practice(tmp_path / "a", 60, seed=7, year=2025, claims=False, payer_mix=MIX)
    assert _digest(folder, "Coverage.ndjson") == _digest(tmp_path / "a", "Coverage.ndjson")
    assert [p.coverages for p in again.patients.values()] == [
        p.coverages for p in truth.patients.values()
    ]
    other = generate_practice(tmp_path / "b", 60, seed=8, year=2025, claims=False, payer_mix=MIX)
    assert [p.payer_entry for p in other.patients.values()] != [
        p.payer_entry for p in truth.patients.values()
    ]


def test_the_mix_has_every_entry_switches_and_duals(practice: tuple[Path, PracticeTruth]) -> None:
    _, truth = practice
    entries = Counter(p.payer_entry for p in truth.patients.values())
    assert set(entries) == {"medicare-eom", "commercial-cpoc", "medicaid-dual", "none"}
    # 60 draws at 0.4/0.4/0.1/0.1: each of the big two well above the small two
    assert min(entries["medicare-eom"], entries["commercial-cpoc"]) > max(
        entries["medicaid-dual"], entries["none"]
    )
    switched = [p for p in truth.patients.values() if switch_day(p) is not None]
    assert 1 <= len(switched) <= 20
    for p in truth.patients.values():
        primaries = [c for c in p.coverages if c.order == 1]
        if p.payer_entry == "none":
            assert p.coverages == []
            continue
        # the primaries tile the days from enrolment on: one ends the day before the next starts
        assert primaries[0].start == date(2023, 1, 1)
        assert primaries[-1].end is None
        for a, b in itertools.pairwise(primaries):
            assert a.end is not None and a.end + timedelta(days=1) == b.start
            assert a.payer != b.payer  # a switch changes the payer
            # while treated: 30 days after the first treatment day, 30 before the last
            assert p.treatment_days[0] + timedelta(days=30) <= b.start
            assert b.start <= p.treatment_days[-1] - timedelta(days=30)
        if p.payer_entry == "medicaid-dual":
            (medicaid,) = [c for c in p.coverages if c.order == 2]
            assert (medicaid.payer, medicaid.sopt, medicaid.start) == (
                "Organization/medicaid",
                "2",
                date(2023, 1, 1),
            )
            assert primaries[0].payer == MEDICARE


def test_coverages_and_organizations_are_fhir_r4(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    source = open_source(folder)
    organizations = {
        k.removeprefix("Organization/") for k in source.shared if k.startswith("Organization/")
    }
    assert organizations == {"practice", "medicare", "commercial", "medicaid"}
    written = [json.loads(line) for line in (folder / "Coverage.ndjson").read_text().splitlines()]
    by_id = {c.coverage_id: (pid, c) for pid, p in truth.patients.items() for c in p.coverages}
    assert len(written) == len(by_id) > 40
    for resource in written:
        get_fhir_model_class("Coverage").model_validate(resource)
        pid, cov = by_id[resource["id"]]
        assert resource["status"] == "active"
        assert resource["beneficiary"] == {"reference": f"Patient/{pid}"}
        assert resource["payor"][0]["reference"] == cov.payer
        assert resource["order"] == cov.order
        (coding,) = resource["type"]["coding"]
        assert (coding["system"], coding["code"]) == (SOPT, cov.sopt)
        assert resource["period"].get("end") == (cov.end.isoformat() if cov.end else None)
    for resource in source.shared.values():
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_models_toml_is_the_mapping(practice: tuple[Path, PracticeTruth]) -> None:
    folder, truth = practice
    assert truth.payers == {MEDICARE: "eom", COMMERCIAL: "cpoc"}  # Medicaid: secondary only
    config = load_config(folder / "models.toml", environ={})
    assert dict(config.models.payers) == truth.payers
    assert config.models.default == "cpoc"


def test_every_line_is_billed_by_the_truths_pack(
    practice: tuple[Path, PracticeTruth], mixed: dict[str, PatientTimeline]
) -> None:
    """Every line's model is its billing day's pack, and its day lies in a span of it."""
    _, truth = practice
    models: Counter[str] = Counter()
    for pid, timeline in mixed.items():
        patient = truth.patients[pid]
        for line in timeline.lines:
            assert line.model == pack_on(patient, line.start, truth.payers), (pid, line.start)
            spans = timeline.models or ()
            if spans:  # no line outside its model's days
                assert any(s.model == line.model and s.holds(line.start) for s in spans)
            models[line.model] += 1
    assert models["cpoc"] > 50 and models["eom"] > 50


def test_eom_lines_are_the_expected_episode_months(
    practice: tuple[Path, PracticeTruth], mixed: dict[str, PatientTimeline]
) -> None:
    """EOM lines are MEOS M0010 only, one per expected episode month, at the year's amount
    (+$30 on a dual-eligible month); oral-only patients on EOM bill nothing."""
    _, truth = practice
    duals = episodes = 0
    for pid, timeline in mixed.items():
        patient = truth.patients[pid]
        eom = [line for line in timeline.lines if line.model == "eom"]
        for line in eom:
            assert (line.code, line.component, line.level) == ("M0010", Component.MEOS, None)
        expected = expected_episodes(patient, AS_OF, truth.payers)
        want = [
            (n, k, start)
            for n, e in enumerate(expected, start=1)
            for k, start in zip(e.month_indexes, e.month_starts, strict=True)
        ]
        assert [(line.episode, line.month, line.start) for line in eom] == want, pid
        assert [e.start for e in timeline.episodes if e.model == "eom"] == [
            e.start for e in expected
        ]
        episodes += len(expected)
        for line in eom:
            dual = is_dual(patient, line.start)
            assert line.amount == MEOS[line.start.year] + (DUAL_ADD_ON if dual else 0)
            assert any("dual-eligible" in text for text in line.explanation) == dual
            duals += dual
        if not patient.infusion_days:
            assert eom == []
    # seed 7: 18 episodes, 18 dual-eligible months — enough that neither check is vacuous
    assert episodes >= 15 and duals >= 10


def test_cpoc_lines_are_the_cpoc_only_lines_on_cpoc_days(
    practice: tuple[Path, PracticeTruth],
    mixed: dict[str, PatientTimeline],
    cpoc_only: dict[str, PatientTimeline],
) -> None:
    _, truth = practice
    cpoc_codes = set(load_pack("cpoc").codes)
    throughout = 0
    for pid, timeline in mixed.items():
        patient = truth.patients[pid]
        mine = [line for line in timeline.lines if line.model == "cpoc"]
        assert all(line.code in cpoc_codes and line.component != Component.MEOS for line in mine)
        want = [
            line
            for line in cpoc_only[pid].lines
            if pack_on(patient, line.start, truth.payers) == "cpoc"
        ]
        assert mine == want, pid
        if all(pack_on(patient, d, truth.payers) == "cpoc" for d in patient.treatment_days):
            throughout += 1
            assert timeline.lines == cpoc_only[pid].lines
    assert throughout > 20


def test_switched_patients_have_both_packs(
    practice: tuple[Path, PracticeTruth],
    mixed: dict[str, PatientTimeline],
    cpoc_only: dict[str, PatientTimeline],
) -> None:
    """A switcher bills the old pack's months before the switch and the new one's after."""
    _, truth = practice
    both = 0
    for pid, timeline in mixed.items():
        patient = truth.patients[pid]
        switch = switch_day(patient)
        if switch is None:
            continue
        before = {line.model for line in timeline.lines if line.start < switch}
        after = {line.model for line in timeline.lines if line.start >= switch}
        old, new = (pack_on(patient, d, truth.payers) for d in (switch - timedelta(1), switch))
        assert before <= {old} and after <= {new}
        assert len(timeline.models) >= 2
        both += before == {old} and after == {new} and old != new
    assert both >= 2


def test_totals_per_pack_are_the_sum_of_the_expected_lines(
    practice: tuple[Path, PracticeTruth],
    mixed: dict[str, PatientTimeline],
    cpoc_only: dict[str, PatientTimeline],
) -> None:
    """Per pack: the EOM total is the sum over the truth's episode months of the year's MEOS
    (+$30 dual); the CPOC total is the CPOC-only run's lines on CPOC days; nothing else."""
    _, truth = practice
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for timeline in mixed.values():
        for line in timeline.lines:
            totals[line.model] += line.amount
    eom = Decimal(0)
    cpoc = Decimal(0)
    for pid, patient in truth.patients.items():
        for episode in expected_episodes(patient, AS_OF, truth.payers):
            for start in episode.month_starts:
                eom += MEOS[start.year] + (DUAL_ADD_ON if is_dual(patient, start) else 0)
        cpoc += sum(
            (
                line.amount
                for line in cpoc_only[pid].lines
                if pack_on(patient, line.start, truth.payers) == "cpoc"
            ),
            Decimal(0),
        )
    assert dict(totals) == {"eom": eom, "cpoc": cpoc}
    assert eom > 0 and cpoc > 0


def _periods_overlap(a: BillingLine, b: BillingLine) -> bool:
    return a.start <= b.end and b.start <= a.end


@settings(max_examples=12, deadline=None)
@given(
    mapping=st.fixed_dictionaries(
        {MEDICARE: st.sampled_from(PACKS), COMMERCIAL: st.sampled_from(PACKS)}
    ),
    default=st.sampled_from(PACKS),
)
def test_any_mapping_moves_lines_but_never_bills_a_day_under_two_packs(
    practice: tuple[Path, PracticeTruth],
    records: dict[str, PatientRecord],
    mapping: dict[str, str],
    default: str,
) -> None:
    """Under any mapping (the reversed one included: Medicare → CPOC, commercial → EOM) each
    line is billed by its billing day's pack, no billing day carries two packs' lines, and two
    packs' periods overlap only across a pack change (the old pack's last month runs on past
    the change while the new one's first begins: at most one month)."""
    _, truth = practice
    under = evaluator(mapping, default)
    for pid, record in records.items():
        patient = truth.patients[pid]
        lines = under.evaluate(record, AS_OF).lines
        by_day: dict[date, set[str]] = defaultdict(set)
        for line in lines:
            assert line.model == pack_on(patient, line.start, mapping, default)
            by_day[line.start].add(line.model)
        assert all(len(models) == 1 for models in by_day.values())
        for a, b in itertools.combinations(sorted(lines, key=BillingLine.sort_key), 2):
            if a.model == b.model or not _periods_overlap(a, b):
                continue
            switch = switch_day(patient)
            assert switch is not None and a.start < switch <= b.start
            assert (a.end - b.start).days < 31
