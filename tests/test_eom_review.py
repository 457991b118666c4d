"""The EOM review's fixes (docs/notes/eomfix.md; value-and-models §15.1, §15.2): the
antiandrogen class, unclassified drugs for breast/prostate, leucovorin, anal cancer, the model
window, a hospice stay that ended (EOM and OCM), a missing Coverage.order and SOPT 24.
Goldens derived by hand in each test's comment (months cut as cpoc-rules §2)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from episode_facts import administered as _drug
from episode_facts import evaluate
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.engine.episodes import Stop, Trigger, cut_episodes, episode_end
from cpoc_fhir.engine.facts import (
    CancerRole,
    CareEpisode,
    CoverageFact,
    Diagnosis,
    DrugRole,
    EpisodeKind,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    Route,
)
from cpoc_fhir.engine.lines import LineStatus, PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.eom import rules
from cpoc_fhir.packs.eom.pack import DATA_FILE, load_data
from cpoc_fhir.packs.settings import ModelSettings

EOM = ModelSettings(default="eom")
OCM = ModelSettings(default="ocm")
SOPT_OID = "urn:oid:2.16.840.1.113883.3.221.5"
AS_OF = date(2026, 12, 31)


def _record(icd10: str, *drugs: MedicationExposure, **kw: object) -> PatientRecord:
    dx = Diagnosis(
        "Condition/c1", icd10=(icd10,), onset=date(2015, 1, 1), cancer_role=CancerRole.PRIMARY
    )
    return PatientRecord("Patient/p1", diagnoses=(dx,), exposures=drugs, **kw)  # type: ignore[arg-type]


def _evaluate(
    record: PatientRecord, models: ModelSettings = EOM, as_of: date = AS_OF
) -> PatientTimeline:
    return evaluate(record, models, as_of)


def _data_file(tmp_path: Path, old: str, new: str) -> ModelSettings:
    text = DATA_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "eom.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return ModelSettings(default="eom", data_files={"eom": str(path)})


# ---- finding 1: bicalutamide is an antiandrogen ---------------------------------------------


def test_adt_plus_bicalutamide_for_prostate_starts_no_episode() -> None:
    # Leuprolide (gnrh-agonist) 2025-03-03 and bicalutamide (antiandrogen) 2025-03-03 onwards:
    # both hormonal, prostate only → no episode (it used to give one and 6 × $110).
    bicalutamide = MedicationExposure(
        ref="MedicationDispense/b1",
        drug="bicalutamide",
        drug_name="bicalutamide",
        role=DrugRole.ANTICANCER,
        route=Route.ORAL,
        kind=ExposureKind.SUPPLY,
        start=date(2025, 3, 3),
        end=date(2025, 4, 1),
    )
    record = _record("C61", _drug("l1", "leuprolide", date(2025, 3, 3)), bicalutamide)
    timeline = _evaluate(record)
    assert timeline.episodes == () and timeline.lines == ()


def test_a_hormonal_class_no_catalog_drug_has_is_refused_at_bind(tmp_path: Path) -> None:
    models = _data_file(tmp_path, '"antiandrogen",', '"anti-androgen",')
    record = _record("C180", _drug("a1", "oxaliplatin", date(2025, 3, 3)))
    with pytest.raises(InputError, match="hormonal_classes entry 'anti-androgen'"):
        _evaluate(record, models)


# ---- finding 3: unclassified drugs, leucovorin ----------------------------------------------


def test_an_uncatalogued_drug_for_prostate_starts_a_provisional_episode_with_a_warning() -> None:
    # An anti-cancer drug outside the catalog (drug "") on 2025-03-03, prostate only: hormonal
    # or not is unknown → one episode 2025-03-03 .. 2025-09-02, six PROVISIONAL $110 lines and
    # a warning naming the resource id.
    timeline = _evaluate(_record("C61", _drug("u1", "", date(2025, 3, 3))))
    (episode,) = timeline.episodes
    assert (episode.start, episode.end, episode.confirmed) == (
        date(2025, 3, 3),
        date(2025, 9, 2),
        False,
    )
    assert [line.status for line in timeline.lines] == [LineStatus.PROVISIONAL] * 6
    assert all(line.amount == Decimal("110.00") for line in timeline.lines)
    assert any("not in the regimen catalog" in e for e in timeline.lines[0].explanation)
    (warning,) = [w for w in timeline.warnings if "EOM episode provisional" in w]
    assert warning.startswith("MedicationAdministration/u1: ")


def test_an_uncatalogued_drug_for_lung_cancer_starts_a_confirmed_episode() -> None:
    # Lung has no hormonal-only exclusion: the unknown drug initiates as any anti-cancer drug.
    timeline = _evaluate(_record("C3490", _drug("u1", "", date(2025, 3, 3))))
    (episode,) = timeline.episodes
    assert episode.confirmed and {line.status for line in timeline.lines} == {LineStatus.FINAL}
    assert not any("EOM episode provisional" in w for w in timeline.warnings)


def test_a_catalog_drug_the_same_day_wins_over_an_uncatalogued_one() -> None:
    # Breast: the unknown drug (ref u1 sorts before x1) and docetaxel both on 2025-03-03: the
    # episode is docetaxel's, confirmed, and no provisional warning is given.
    record = _record(
        "C509", _drug("u1", "", date(2025, 3, 3)), _drug("x1", "docetaxel", date(2025, 3, 3))
    )
    timeline = _evaluate(record)
    (episode,) = timeline.episodes
    assert episode.trigger == "MedicationAdministration/x1" and episode.confirmed
    assert not any("EOM episode provisional" in w for w in timeline.warnings)


def test_leucovorin_alone_starts_no_eom_or_ocm_episode_but_with_its_partner_one() -> None:
    # Leucovorin rescue (lymphoma C83.3) 2025-03-03: not cancer-directed → no EOM episode.
    # With fluorouracil the same day the episode starts (fluorouracil's).
    rescue = _drug("lv1", "leucovorin", date(2025, 3, 3))
    assert _evaluate(_record("C8330", rescue)).episodes == ()
    with_5fu = _record("C180", rescue, _drug("f1", "fluorouracil", date(2025, 3, 3)))
    (episode,) = _evaluate(with_5fu).episodes
    assert episode.trigger == "MedicationAdministration/f1"
    # OCM (2019, inside its window): the same.
    ocm_rescue = _drug("lv1", "leucovorin", date(2019, 3, 4))
    assert _evaluate(_record("C8330", ocm_rescue), OCM).episodes == ()
    ocm_5fu = _record("C180", ocm_rescue, _drug("f1", "fluorouracil", date(2019, 3, 4)))
    assert len(_evaluate(ocm_5fu, OCM).episodes) == 1


# ---- finding 4: anal cancer -----------------------------------------------------------------


def test_anal_cancer_starts_no_episode_rectal_cancer_does() -> None:
    oxali = _drug("a1", "oxaliplatin", date(2025, 3, 3))
    assert _evaluate(_record("C210", oxali)).episodes == ()
    assert len(_evaluate(_record("C20", oxali)).episodes) == 1


# ---- finding 6: the model window ------------------------------------------------------------


def test_a_trigger_before_1_july_2023_starts_no_episode_one_on_it_does() -> None:
    # 2023-03-01: before EOM's first episodes → none. 2023-07-01: one, 2023-07-01 ..
    # 2023-12-31, six lines at the 2023 amount $70.
    assert _evaluate(_record("C180", _drug("a1", "oxaliplatin", date(2023, 3, 1)))).episodes == ()
    timeline = _evaluate(_record("C180", _drug("a1", "oxaliplatin", date(2023, 7, 1))))
    (episode,) = timeline.episodes
    assert (episode.start, episode.end) == (date(2023, 7, 1), date(2023, 12, 31))
    assert [line.amount for line in timeline.lines] == [Decimal("70.00")] * 6


def test_the_last_episode_starts_by_1_january_2030_and_ends_with_the_model() -> None:
    # 2030-01-01: the last six-month episode, 01-01 .. 06-30 (months on the 1st, $110 each);
    # 2030-01-02 is past the last episode start → none.
    as_of = date(2031, 1, 1)
    last = _evaluate(_record("C180", _drug("a1", "oxaliplatin", date(2030, 1, 1))), as_of=as_of)
    (episode,) = last.episodes
    assert episode.end == date(2030, 6, 30)
    assert [line.start for line in last.lines] == [date(2030, m, 1) for m in range(1, 7)]
    late = _record("C180", _drug("a1", "oxaliplatin", date(2030, 1, 2)))
    assert _evaluate(late, as_of=as_of).episodes == ()


def test_amounts_that_do_not_cover_the_window_are_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "eom.toml"
    text = DATA_FILE.read_text(encoding="utf-8")
    path.write_text(text.replace("from_year = 2023", "from_year = 2024"), encoding="utf-8")
    with pytest.raises(InputError, match=r"meos\.amounts must start by 2023"):
        load_data(path)


def test_amount_for_a_year_before_the_amounts_is_an_input_error_not_a_value_error() -> None:
    data = load_data()
    with pytest.raises(InputError, match="no MEOS amount for 2020") as caught:
        data.amount_for(date(2020, 1, 1))
    assert not isinstance(caught.value, ValueError)
    assert data.amount_for(date(2023, 7, 1)).amount == Decimal("70.00")


# ---- finding 10: a hospice stay that ended --------------------------------------------------


def _hospice(start: date, end: date | None) -> tuple[CareEpisode, ...]:
    return (CareEpisode("EpisodeOfCare/h1", EpisodeKind.HOSPICE, start, end),)


def test_eom_revoked_hospice_stops_one_episode_and_a_later_trigger_starts_another() -> None:
    # Oxaliplatin 2024-01-08 → episode 1, 2024-01-08 .. 2024-07-07. Hospice 2024-04-20 ..
    # 2024-08-31 (revoked): months 01-08, 02-08, 03-08 and 04-08 (contains 04-20) bill.
    # Oxaliplatin 2024-08-05 falls in the stay → nothing. Oxaliplatin 2024-09-09, after the
    # stay → episode 2, 2024-09-09 .. 2025-03-08: 09-09 .. 12-09 at $70, 2025-01-09 and
    # 2025-02-09 at $110.
    drugs = [
        _drug(f"a{i}", "oxaliplatin", d)
        for i, d in enumerate((date(2024, 1, 8), date(2024, 8, 5), date(2024, 9, 9)))
    ]
    record = _record("C180", *drugs, episodes=_hospice(date(2024, 4, 20), date(2024, 8, 31)))
    timeline = _evaluate(record)
    first, second = timeline.episodes
    assert first.note == "hospice care from 2024-04-20" and len(first.months) == 4
    assert (second.start, second.end) == (date(2024, 9, 9), date(2025, 3, 8))
    assert [(line.episode, line.start, line.amount) for line in timeline.lines] == [
        (1, date(2024, 1, 8), Decimal("70.00")),
        (1, date(2024, 2, 8), Decimal("70.00")),
        (1, date(2024, 3, 8), Decimal("70.00")),
        (1, date(2024, 4, 8), Decimal("70.00")),
        (2, date(2024, 9, 9), Decimal("70.00")),
        (2, date(2024, 10, 9), Decimal("70.00")),
        (2, date(2024, 11, 9), Decimal("70.00")),
        (2, date(2024, 12, 9), Decimal("70.00")),
        (2, date(2025, 1, 9), Decimal("110.00")),
        (2, date(2025, 2, 9), Decimal("110.00")),
    ]


def test_eom_an_ongoing_hospice_stay_still_blocks_every_later_episode() -> None:
    drugs = (
        _drug("a1", "oxaliplatin", date(2024, 1, 8)),
        _drug("a2", "oxaliplatin", date(2024, 9, 9)),
    )
    timeline = _evaluate(_record("C180", *drugs, episodes=_hospice(date(2024, 4, 20), None)))
    (episode,) = timeline.episodes
    assert len(episode.months) == 4


def test_eom_a_past_hospice_stay_does_not_block_a_later_first_episode() -> None:
    # The review's probe: hospice January 2024, discharged 2024-01-31; chemotherapy
    # 2025-03-03 → one episode with six lines.
    record = _record(
        "C180",
        _drug("a1", "oxaliplatin", date(2025, 3, 3)),
        episodes=_hospice(date(2024, 1, 2), date(2024, 1, 31)),
    )
    assert len(_evaluate(record).lines) == 6


def test_ocm_revoked_hospice_stops_one_episode_and_a_later_trigger_starts_another() -> None:
    # OCM: carboplatin 2019-03-04 → episode 1, 2019-03-04 .. 2019-09-03; hospice 2019-06-10 ..
    # 2019-10-15: months 03-04, 04-04, 05-04, 06-04 (contains 06-10) bill at $160.
    # Carboplatin 2019-10-01 falls in the stay → nothing; 2019-10-16, the day after it ends →
    # episode 2 from 2019-10-16 (six months: 10-16 .. 2020-03-16).
    drugs = [
        _drug(f"c{i}", "carboplatin", d)
        for i, d in enumerate((date(2019, 3, 4), date(2019, 10, 1), date(2019, 10, 16)))
    ]
    record = _record("C3490", *drugs, episodes=_hospice(date(2019, 6, 10), date(2019, 10, 15)))
    timeline = _evaluate(record, OCM)
    first, second = timeline.episodes
    assert [m.start for m in first.months] == [date(2019, m, 4) for m in (3, 4, 5, 6)]
    assert second.start == date(2019, 10, 16)
    assert [line.start for line in timeline.lines if line.episode == 2] == [
        date(2019, 10, 16),
        date(2019, 11, 16),
        date(2019, 12, 16),
        date(2020, 1, 16),
        date(2020, 2, 16),
        date(2020, 3, 16),
    ]
    assert {line.amount for line in timeline.lines} == {Decimal("160.00")}


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.integers(0, 900), min_size=1, max_size=8),
    stay_start=st.integers(0, 900),
    stay_days=st.one_of(st.none(), st.integers(0, 200)),
)
def test_no_episode_starts_inside_a_stay_and_none_bills_a_month_after_its_start(
    days: list[int], stay_start: int, stay_days: int | None
) -> None:
    # Invariant of the shared cut: no episode starts after a stay's first day up to its end;
    # an episode holding the stay's first day bills no month starting after it; episodes
    # never overlap.
    base = date(2024, 1, 1)
    start = base + timedelta(days=stay_start)
    stop = Stop(start, None if stay_days is None else start + timedelta(days=stay_days), "h")
    triggers = [Trigger(base + timedelta(days=d), f"X/{d}") for d in days]
    episodes = cut_episodes("t", triggers, date(2030, 1, 1), stops=(stop,))
    for episode in episodes:
        assert not stop.blocks(episode.start)
        assert episode.end == episode_end(episode.start)
        if episode.start <= stop.start <= episode.end:
            assert all(m.start <= stop.start for m in episode.months)
            assert episode.note == "h" or len(episode.months) == 6
        else:
            assert len(episode.months) == 6
    for earlier, later in itertools.pairwise(episodes):
        assert earlier.end < later.start


# ---- finding 5: Coverage.order missing; finding 11: SOPT 24 ----------------------------------


def _coverage(
    ref: str, payer: str, code: str, system: str = SOPT_OID, **kw: object
) -> CoverageFact:
    return CoverageFact(ref, payer, type_codes=(f"{system}|{code}",), **kw)  # type: ignore[arg-type]


MEDICARE_EOM = ModelSettings(payers={"Organization/cms": "eom"})


@pytest.mark.parametrize("system", [SOPT_OID, "https://nahdo.org/sopt"])
def test_without_order_medicare_is_primary_to_medicaid_and_a_warning_says_so(system: str) -> None:
    # "Coverage/a-medicaid" sorts before "Coverage/b-medicare" by id; with no order on either
    # Medicare (SOPT 1) is ranked first → EOM holds the patient: oxaliplatin 2025-03-03 gives
    # six M0010 lines (Medicaid in force: $110 + $30 dual where the SOPT system is the one the
    # EOM data file reads; the amount is not what this test checks).
    coverages = (
        _coverage("Coverage/a-medicaid", "Organization/state", "2", system),
        _coverage("Coverage/b-medicare", "Organization/cms", "1", system),
    )
    record = _record("C180", _drug("a1", "oxaliplatin", date(2025, 3, 3)), coverages=coverages)
    timeline = _evaluate(record, MEDICARE_EOM)
    assert [line.code for line in timeline.lines] == ["M0010"] * 6
    assert (
        "Coverage order missing; Medicare ranked before Medicaid "
        "(Coverage/b-medicare before Coverage/a-medicaid)"
    ) in timeline.warnings


def test_an_explicit_order_is_kept_and_gives_no_warning() -> None:
    # Medicaid order 1, Medicare order 2: Medicaid is primary as coded → payer not mapped →
    # default CPOC, no EOM line; no order warning.
    coverages = (
        _coverage("Coverage/a-medicaid", "Organization/state", "2", order=1),
        _coverage("Coverage/b-medicare", "Organization/cms", "1", order=2),
    )
    record = _record("C180", _drug("a1", "oxaliplatin", date(2025, 3, 3)), coverages=coverages)
    timeline = _evaluate(record, MEDICARE_EOM)
    assert not any(line.model == "eom" for line in timeline.lines)
    assert not any("Coverage order missing" in w for w in timeline.warnings)


@pytest.mark.parametrize(("code", "amount"), [("24", "110.00"), ("2", "140.00"), ("23", "140.00")])
def test_a_medicaid_applicant_is_not_dual_eligible(code: str, amount: str) -> None:
    # Medicaid Coverage of SOPT code 24 (applicant) all along: $110 a month, not $140;
    # 2 (Medicaid) and 23 (Medicaid/SCHIP) are dual: $110 + $30.
    coverages = (_coverage("Coverage/md", "Organization/state", code),)
    record = _record("C180", _drug("a1", "oxaliplatin", date(2025, 3, 3)), coverages=coverages)
    assert {line.amount for line in _evaluate(record).lines} == {Decimal(amount)}


def test_catalog_problems_names_each_unknown_entry() -> None:
    data = rules.parse(
        {
            "meos": {
                "code": "M",
                "amounts": [{"from_year": 2023, "amount": "1", "dual_add_on": "0"}],
            },
            "cancers": {},
            "hormonal_classes": ["serm", "anti-androgen"],
            "not_cancer_directed": ["leucovorin", "folic-acid"],
            "model": {
                "first_episode_start": "2023-07-01",
                "last_episode_start": "2030-01-01",
                "model_end": "2030-06-30",
            },
        },
        "t.toml",
    )
    assert rules.catalog_problems(data, {"serm"}, {"leucovorin"}) == [
        "hormonal_classes entry 'anti-androgen' is not the class of any regimen-catalog drug",
        "not_cancer_directed entry 'folic-acid' is not a regimen-catalog drug",
    ]


@pytest.mark.parametrize(
    ("icd10", "drug", "wording"),
    [
        ("C61", "goserelin", "Zoladex 10.8 mg implant"),
        ("C61", "triptorelin", "Trelstar 22.5 mg"),
        ("C61", "flutamide", "flutamide 250 mg capsule"),
        ("C61", "nilutamide", "Nilandron 150 mg"),
        ("C509", "toremifene", "Fareston 60 mg tablet"),
    ],
)
def test_the_added_hormonal_drugs_are_recognised_and_start_no_episode(
    icd10: str, drug: str, wording: str
) -> None:
    # Catalog: the wording resolves to the drug, whose classes are all hormonal; EOM: the
    # drug alone for prostate/breast starts nothing (before, as an unknown drug, it started
    # a full episode).
    catalog = load_knowledge().regimens
    found = catalog.resolve([], wording).drug
    assert found is not None and found.id == drug
    assert set(found.classes) <= load_data().hormonal_classes
    assert _evaluate(_record(icd10, _drug("h1", drug, date(2025, 3, 3)))).episodes == ()


def test_ocm_refuses_a_not_cancer_directed_entry_the_catalog_lacks(tmp_path: Path) -> None:
    from cpoc_fhir.packs.ocm.pack import DATA_FILE as OCM_FILE

    path = tmp_path / "ocm.toml"
    text = OCM_FILE.read_text(encoding="utf-8")
    path.write_text(text.replace('["leucovorin"]', '["folinic"]'), encoding="utf-8")
    models = ModelSettings(default="ocm", data_files={"ocm": str(path)})
    record = _record("C180", _drug("a1", "oxaliplatin", date(2019, 3, 4)))
    with pytest.raises(InputError, match="folinic"):
        _evaluate(record, models)
