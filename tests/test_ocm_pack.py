"""The OCM pack (value-and-models §15.1): six-month episodes from any anti-cancer fill or
administration for a cancer (hormonal included), MEOS G9678 $160 per episode month, the
model's episode-start window, death, hospice, back-to-back episodes and a payer switch.
Goldens derived by hand in each test's comment (months cut as cpoc-rules §2)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from episode_facts import administered as _given
from episode_facts import evaluate
from episode_facts import supplied as _oral
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.config import load_payer
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
from cpoc_fhir.packs.ocm.pack import load_data
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.packs.settings import ModelSettings

OCM = ModelSettings(default="ocm")
EOM = ModelSettings(default="eom")
AS_OF = date(2026, 12, 31)
G9678 = "G9678"
MEOS = Decimal("160.00")


def _cancer(icd10: str, cancer_type: str, onset: date = date(2015, 1, 1)) -> Diagnosis:
    return Diagnosis(
        "Condition/c1",
        icd10=(icd10,),
        onset=onset,
        cancer_role=CancerRole.PRIMARY,
        cancer_type=cancer_type,
    )


COLON = _cancer("C180", "colorectal")
BREAST = _cancer("C509", "breast")


def _evaluate(
    record: PatientRecord, models: ModelSettings = OCM, as_of: date = AS_OF
) -> PatientTimeline:
    return evaluate(record, models, as_of)


def _record(*drugs: MedicationExposure, dx: Diagnosis = COLON, **kw: object) -> PatientRecord:
    return PatientRecord("Patient/p1", diagnoses=(dx,), exposures=drugs, **kw)  # type: ignore[arg-type]


def test_the_shipped_data_and_the_pack() -> None:
    pack = load_pack("ocm")
    assert (pack.id, pack.short_name, pack.name) == ("ocm", "OCM", "Oncology Care Model")
    assert set(pack.codes) == {G9678}
    assert not pack.replaces_fee_for_service
    data = load_data()
    assert (data.amount, data.currency) == (MEOS, "USD")
    assert (data.first_episode_start, data.last_episode_start, data.model_end) == (
        date(2016, 7, 1),
        date(2022, 1, 1),
        date(2022, 6, 30),
    )


def test_chemo_on_the_31st_anchors_every_month_on_the_months_last_day() -> None:
    # Oxaliplatin 2019-01-31. S_1 = 01-31; an anchor on the 31st puts every later S_k on its
    # month's last day (cpoc-rules §2): S_2 02-28 (2019 not leap), S_3 03-31, S_4 04-30,
    # S_5 05-31, S_6 06-30, S_7 07-31, so the episode ends 2019-07-30. Six MEOS of $160.
    timeline = _evaluate(_record(_given("a1", "oxaliplatin", date(2019, 1, 31))))
    (episode,) = timeline.episodes
    assert (episode.start, episode.end, episode.model) == (
        date(2019, 1, 31),
        date(2019, 7, 30),
        "ocm",
    )
    assert episode.cancer_type == "colorectal"
    assert [(line.start, line.end) for line in timeline.lines] == [
        (date(2019, 1, 31), date(2019, 2, 27)),
        (date(2019, 2, 28), date(2019, 3, 30)),
        (date(2019, 3, 31), date(2019, 4, 29)),
        (date(2019, 4, 30), date(2019, 5, 30)),
        (date(2019, 5, 31), date(2019, 6, 29)),
        (date(2019, 6, 30), date(2019, 7, 30)),
    ]
    assert {(line.code, line.amount, line.model) for line in timeline.lines} == {
        (G9678, MEOS, "ocm")
    }
    assert sum(line.amount for line in timeline.lines) == Decimal("960.00")  # 6 × 160
    pack = load_pack("ocm")
    assert pack.title(timeline.lines[2], "USD") == "OCM episode 1, month 3: MEOS G9678 $160.00"


def test_a_second_episode_starts_the_day_after_the_first_ends_while_the_supply_continues() -> None:
    # Capecitabine dispensed to cover 2019-03-01 .. 2019-09-10. Episode 1: 2019-03-01, S_7 =
    # 2019-09-01, ends 2019-08-31. The supply covers 09-01, so episode 2 starts 2019-09-01,
    # S_7 = 2020-03-01, ends 2020-02-29 (2020 leap). 12 months × $160 = $1920.
    supply = _oral("d1", "capecitabine", date(2019, 3, 1), date(2019, 9, 10))
    timeline = _evaluate(_record(supply))
    assert [(e.index, e.start, e.end) for e in timeline.episodes] == [
        (1, date(2019, 3, 1), date(2019, 8, 31)),
        (2, date(2019, 9, 1), date(2020, 2, 29)),
    ]
    second = [line.start for line in timeline.lines if line.episode == 2]
    assert second == [date(2019, 9, 1) + _months(k) for k in range(6)]
    assert sum(line.amount for line in timeline.lines) == Decimal("1920.00")
    assert load_pack("ocm").title(timeline.lines[6], "USD") == (
        "OCM episode 2, month 1: MEOS G9678 $160.00"
    )


def _months(k: int) -> timedelta:
    # The first of the month k months after 2019-09-01, as an offset from it.
    year, month = 2019 + (8 + k) // 12, (8 + k) % 12 + 1
    return date(year, month, 1) - date(2019, 9, 1)


def test_death_mid_episode_bills_the_month_containing_death_and_none_after() -> None:
    # Oxaliplatin 2019-03-04; months start 03-04, 04-04, 05-04, 06-04, …; death 2019-05-20
    # falls in month 3 (05-04 .. 06-03): months 1-3 bill, 4-6 start after death.
    timeline = _evaluate(
        _record(_given("a1", "oxaliplatin", date(2019, 3, 4)), death=date(2019, 5, 20))
    )
    assert [line.start for line in timeline.lines] == [
        date(2019, 3, 4),
        date(2019, 4, 4),
        date(2019, 5, 4),
    ]
    (episode,) = timeline.episodes
    assert episode.end == date(2019, 9, 3)  # S_7 2019-09-04 minus a day: the episode's span
    assert episode.note == "death on 2019-05-20"


def test_hospice_start_mid_episode_stops_the_months_after_it() -> None:
    # Oxaliplatin 2019-03-04; hospice from 2019-06-10 falls in month 4 (06-04 .. 07-03):
    # months 1-4 bill (03-04, 04-04, 05-04, 06-04), months 5-6 start after hospice began.
    hospice = CareEpisode("EpisodeOfCare/h1", EpisodeKind.HOSPICE, date(2019, 6, 10))
    timeline = _evaluate(
        _record(_given("a1", "oxaliplatin", date(2019, 3, 4)), episodes=(hospice,))
    )
    assert [line.start for line in timeline.lines] == [
        date(2019, 3, 4),
        date(2019, 4, 4),
        date(2019, 5, 4),
        date(2019, 6, 4),
    ]
    assert timeline.episodes[0].note == "hospice care from 2019-06-10"


def test_hormonal_only_breast_triggers_ocm_but_not_eom() -> None:
    # Tamoxifen 2021-08-02 .. 08-31 then anastrozole 2021-09-01 .. 09-30 for breast cancer:
    # OCM counts hormonal therapy, so one episode from 2021-08-02 (S_7 2022-02-02, ends
    # 2022-02-01; the supplies end before it, so no second episode). EOM (§15.2) excludes
    # breast patients on hormonal therapy alone: no EOM episode on the same record.
    record = _record(
        _oral("t1", "tamoxifen", date(2021, 8, 2), date(2021, 8, 31)),
        _oral("t2", "anastrozole", date(2021, 9, 1), date(2021, 9, 30)),
        dx=BREAST,
    )
    ocm = _evaluate(record)
    assert [(e.start, e.end, e.cancer_type) for e in ocm.episodes] == [
        (date(2021, 8, 2), date(2022, 2, 1), "breast")
    ]
    assert len(ocm.lines) == 6
    assert _evaluate(record, EOM).episodes == ()


def test_a_fill_triggers_and_an_order_alone_does_not() -> None:
    # The same capecitabine days as a MedicationRequest (an order: no fill) start nothing;
    # as a MedicationDispense they start an episode on 2019-05-06.
    days = (date(2019, 5, 6), date(2019, 5, 19))
    assert (
        _evaluate(_record(_oral("r1", "capecitabine", *days, "MedicationRequest"))).episodes == ()
    )
    assert _evaluate(_record(_oral("r1", "capecitabine", *days, "MedicationStatement"))).lines == ()
    (episode,) = _evaluate(_record(_oral("d1", "capecitabine", *days))).episodes
    assert (episode.start, episode.trigger) == (date(2019, 5, 6), "MedicationDispense/d1")


def test_a_drug_day_without_an_active_cancer_starts_nothing() -> None:
    # Oxaliplatin 2019-03-04; the colon cancer's onset is 2019-04-01 (after the drug day) and
    # a non-cancer diagnosis holds: no episode. A second dose on 2019-04-08 starts one then.
    late = _cancer("C180", "colorectal", onset=date(2019, 4, 1))
    first = _given("a1", "oxaliplatin", date(2019, 3, 4))
    assert _evaluate(_record(first, dx=late)).episodes == ()
    not_cancer = Diagnosis("Condition/d", icd10=("E1122",), onset=date(2010, 1, 1))
    assert _evaluate(_record(first, dx=not_cancer)).episodes == ()
    (episode,) = _evaluate(
        _record(first, _given("a2", "oxaliplatin", date(2019, 4, 8)), dx=late)
    ).episodes
    assert episode.start == date(2019, 4, 8)


@pytest.mark.parametrize(
    ("day", "starts"),
    [
        (date(2016, 6, 30), False),  # the day before OCM's first episodes
        (date(2016, 7, 1), True),  # the first episode-start day
        (date(2022, 1, 1), True),  # the last episode-start day (ends 2022-06-30)
        (date(2022, 1, 2), False),  # after the last episode start
        (date(2023, 3, 1), False),  # long after the model ended
    ],
)
def test_only_triggers_inside_the_models_episode_window_start_an_episode(
    day: date, starts: bool
) -> None:
    timeline = _evaluate(_record(_given("a1", "carboplatin", day)))
    assert [e.start for e in timeline.episodes] == ([day] if starts else [])


def test_the_last_episode_ends_with_the_model() -> None:
    # Oxaliplatin 2022-01-01: months 01-01 … 06-01, S_7 2022-07-01, ends 2022-06-30 — the
    # model's end; six MEOS lines. Continuing chemotherapy 2022-07-01 starts no episode 2.
    timeline = _evaluate(
        _record(
            _given("a1", "oxaliplatin", date(2022, 1, 1)),
            _given("a2", "oxaliplatin", date(2022, 7, 1)),
        )
    )
    assert [(e.start, e.end) for e in timeline.episodes] == [(date(2022, 1, 1), date(2022, 6, 30))]
    assert [line.start for line in timeline.lines] == [date(2022, m, 1) for m in range(1, 7)]


def test_a_supply_running_into_the_window_starts_on_its_first_day() -> None:
    # Capecitabine covering 2016-06-20 .. 2016-07-10: days before 07-01 start nothing; the
    # first day inside the window, 2016-07-01, starts the episode.
    supply = _oral("d1", "capecitabine", date(2016, 6, 20), date(2016, 7, 10))
    (episode,) = _evaluate(_record(supply)).episodes
    assert episode.start == date(2016, 7, 1)


def test_payer_switch_bills_ocm_before_and_cpoc_after() -> None:
    # Medicare (Organization/cms → ocm) to 2019-06-30, then Organization/acme (→ cpoc) from
    # 2019-07-01. Oxaliplatin 2019-03-04 and 2019-07-08. The OCM episode from 2019-03-04 has
    # months starting 03-04, 04-04, 05-04, 06-04 on Medicare days (07-04 and 08-04 fall under
    # acme, so are dropped): four G9678 lines. Every CPOC line is dated on or after 07-01.
    models = ModelSettings(payers={"Organization/cms": "ocm", "Organization/acme": "cpoc"})
    record = _record(
        _given("a1", "oxaliplatin", date(2019, 3, 4)),
        _given("a2", "oxaliplatin", date(2019, 7, 8)),
        coverages=(
            CoverageFact("Coverage/m", "Organization/cms", None, date(2019, 6, 30)),
            CoverageFact("Coverage/c", "Organization/acme", date(2019, 7, 1), None),
        ),
    )
    timeline = _evaluate(record, models, as_of=date(2019, 12, 31))
    ocm = [line for line in timeline.lines if line.model == "ocm"]
    assert [(line.start, line.code) for line in ocm] == [
        (date(2019, m, 4), G9678) for m in (3, 4, 5, 6)
    ]
    cpoc = [line for line in timeline.lines if line.model == "cpoc"]
    assert cpoc and all(line.start >= date(2019, 7, 1) for line in cpoc)
    assert [s.model for s in timeline.models] == ["ocm", "cpoc"]


def test_a_practices_data_file_overrides_amount_and_dates(tmp_path) -> None:
    # A practice file paying $170 with episodes allowed to start from 2016-01-01: a trigger on
    # 2016-03-01 starts an episode; six months × $170 = $1020.
    text = (
        '[meos]\ncode = "G9678"\namount = "170.00"\n'
        + "[model]\nfirst_episode_start = 2016-01-01\nlast_episode_start = 2022-01-01\n"
        + "model_end = 2022-06-30\n"
    )
    path = tmp_path / "ocm-practice.toml"
    path.write_text(text, encoding="utf-8")
    models = ModelSettings(default="ocm", data_files={"ocm": str(path)})
    timeline = _evaluate(_record(_given("a1", "oxaliplatin", date(2016, 3, 1))), models)
    assert sum(line.amount for line in timeline.lines) == Decimal("1020.00")


@pytest.mark.parametrize(
    "body",
    [
        '[meos]\ncode = "G9678"\n',  # no amount, no [model]
        '[meos]\ncode = "G9678"\namount = "x"\n[model]\nfirst_episode_start = 2016-07-01\n'
        "last_episode_start = 2022-01-01\nmodel_end = 2022-06-30\n",
        '[meos]\ncode = "G9678"\namount = "160"\n[model]\nfirst_episode_start = 2022-07-01\n'
        "last_episode_start = 2022-01-01\nmodel_end = 2022-06-30\n",  # dates out of order
        "not toml [",
    ],
)
def test_a_bad_data_file_is_an_input_error(tmp_path, body: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match="cannot read the OCM data"):
        load_data(path)


@settings(max_examples=25, deadline=None)
@given(start=st.dates(date(2016, 7, 1), date(2022, 1, 1)))
def test_any_trigger_in_the_window_bills_six_160_months_within_its_episode(start: date) -> None:
    # Invariant: one episode from the trigger, ending before the model's end; six lines of
    # $160, each dated inside the episode, consecutive months without gap.
    timeline = _evaluate(_record(_given("a1", "carboplatin", start)))
    (episode,) = timeline.episodes
    assert episode.start == start and episode.end <= date(2022, 6, 30)
    assert len(timeline.lines) == 6
    assert all(line.amount == MEOS for line in timeline.lines)
    assert timeline.lines[0].start == start and timeline.lines[-1].end == episode.end
    for before, after in zip(timeline.lines, timeline.lines[1:], strict=False):
        assert after.start == before.end + timedelta(days=1)


def test_cpoc_timeline_model_ocm_bills_g9678_lines_from_fhir(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # FHIR R4: colon cancer (C18.0, from 2018-12-01) and oxaliplatin given 2019-01-31. Under
    # --model ocm: months anchored on the 31st start 01-31, 02-28, 03-31, 04-30, 05-31, 06-30
    # (as in the facts test above), each G9678 $160.00, episode 1.
    from ocm_fhir import OXALIPLATIN, administration, patient, write_bundle

    from cpoc_fhir.cli import main

    monkeypatch.delenv("CPOC_CONFIG", raising=False)
    bundle = write_bundle(
        tmp_path / "bundle.json",
        [
            *patient("p1", "C18.0", "2018-12-01"),
            administration("p1", "ox1", OXALIPLATIN, "2019-01-31"),
        ],
    )
    args = ["timeline", str(bundle), "--model", "ocm", "--as-of", "2019-12-31", "--format", "json"]
    assert main(args) == 0
    (result,) = json.loads(capsys.readouterr().out)["patients"]
    lines = [
        (x["code"], x["start"], x["amount"], x["model"], x["episode"]) for x in result["lines"]
    ]
    assert lines == [
        ("G9678", day, "160.00", "ocm", 1)
        for day in (
            "2019-01-31",
            "2019-02-28",
            "2019-03-31",
            "2019-04-30",
            "2019-05-31",
            "2019-06-30",
        )
    ]
    assert main(["timeline", str(bundle), "--model", "ocm", "--as-of", "2019-12-31"]) == 0
    assert "G9678" in capsys.readouterr().out


def test_a_metastatic_only_diagnosis_is_a_cancer_for_ocm() -> None:
    # Only a secondary (metastatic, C78.7 liver) diagnosis on record: OCM's cancer diagnosis
    # is there, so oxaliplatin 2019-03-04 starts an episode; its type shows as "other".
    mets = Diagnosis(
        "Condition/m", icd10=("C787",), onset=date(2019, 1, 1), cancer_role=CancerRole.SECONDARY
    )
    (episode,) = _evaluate(_record(_given("a1", "oxaliplatin", date(2019, 3, 4)), dx=mets)).episodes
    assert (episode.start, episode.cancer_type) == (date(2019, 3, 4), "other")


def test_a_cancer_abated_before_the_drug_day_starts_nothing() -> None:
    # Breast cancer abated 2019-02-28; tamoxifen dispensed 2019-03-01 .. 03-30: no cancer
    # holds on any drug day, so no episode.
    abated = Diagnosis(
        "Condition/b",
        icd10=("C509",),
        onset=date(2018, 1, 1),
        abatement=date(2019, 2, 28),
        cancer_role=CancerRole.PRIMARY,
        cancer_type="breast",
    )
    supply = _oral("t1", "tamoxifen", date(2019, 3, 1), date(2019, 3, 30))
    assert _evaluate(_record(supply, dx=abated)).episodes == ()


def test_a_planned_infusion_starts_a_provisional_episode() -> None:
    # Oxaliplatin planned (ordered, not yet given) for 2019-03-04: the episode and its months
    # are provisional until the administration is recorded.
    planned = MedicationExposure(
        ref="MedicationRequest/o1",
        drug="oxaliplatin",
        drug_name="oxaliplatin",
        role=DrugRole.ANTICANCER,
        route=Route.PARENTERAL,
        kind=ExposureKind.PLANNED,
        start=date(2019, 3, 4),
        end=date(2019, 3, 4),
    )
    timeline = _evaluate(_record(planned), as_of=date(2019, 3, 10))
    (episode,) = timeline.episodes
    assert not episode.confirmed
    (line,) = timeline.lines  # only month 1 (03-04 .. 04-03) has begun by 03-10
    assert line.status is LineStatus.PROVISIONAL


def test_death_on_a_months_first_day_bills_that_month() -> None:
    # Oxaliplatin 2019-03-04; death on 2019-05-04 = S_3: month 3 starts on (not after) the
    # day of death, so it bills; months 4-6 do not. Lines: 03-04, 04-04, 05-04.
    record = _record(_given("a1", "oxaliplatin", date(2019, 3, 4)), death=date(2019, 5, 4))
    assert [line.start for line in _evaluate(record).lines] == [
        date(2019, 3, 4),
        date(2019, 4, 4),
        date(2019, 5, 4),
    ]


def test_a_supply_running_across_a_switch_to_medicare_starts_on_the_first_medicare_day() -> None:
    # acme (→ cpoc) to 2019-06-30, Medicare (Organization/cms → ocm) from 2019-07-01;
    # capecitabine dispensed for 2019-06-10 .. 2019-07-20. Drug days before 07-01 are not OCM
    # days, so the OCM episode starts 2019-07-01 (months 07-01 … 12-01, ends 2019-12-31).
    models = ModelSettings(payers={"Organization/cms": "ocm", "Organization/acme": "cpoc"})
    record = _record(
        _oral("d1", "capecitabine", date(2019, 6, 10), date(2019, 7, 20)),
        coverages=(
            CoverageFact("Coverage/c", "Organization/acme", None, date(2019, 6, 30)),
            CoverageFact("Coverage/m", "Organization/cms", date(2019, 7, 1), None),
        ),
    )
    timeline = _evaluate(record, models, as_of=date(2020, 3, 31))
    ocm = [e for e in timeline.episodes if e.model == "ocm"]
    assert [(e.start, e.end) for e in ocm] == [(date(2019, 7, 1), date(2019, 12, 31))]
    assert [line.start for line in timeline.lines if line.model == "ocm"] == [
        date(2019, m, 1) for m in range(7, 13)
    ]


@settings(max_examples=40, deadline=None)
@given(
    start=st.dates(date(2016, 7, 1), date(2022, 1, 1)),
    died_after=st.integers(0, 200),
    hospice=st.booleans(),
)
def test_no_month_starts_after_death_or_hospice_and_the_month_containing_it_bills(
    start: date, died_after: int, hospice: bool
) -> None:
    # Invariant: with death (or hospice start) on day D, the lines are exactly the episode
    # months starting on or before D — the month containing D included, none after it.
    day = start + timedelta(days=died_after)
    kw: dict[str, object] = (
        {"episodes": (CareEpisode("EpisodeOfCare/h", EpisodeKind.HOSPICE, day),)}
        if hospice
        else {"death": day}
    )
    timeline = _evaluate(_record(_given("a1", "carboplatin", start), **kw))
    (episode,) = timeline.episodes
    starts = [line.start for line in timeline.lines]
    assert starts and all(s <= day for s in starts)
    assert len(starts) == 6 or timeline.lines[-1].end >= day
    assert len(starts) == 6 or episode.note.startswith(("death on", "hospice care from"))
    assert sum(line.amount for line in timeline.lines) == MEOS * len(starts)


def test_the_charge_item_of_a_g9678_line_validates_with_the_hcpcs_coding() -> None:
    # Month 1 of an episode from 2019-03-04 as a FHIR R4 ChargeItem: HCPCS G9678, $160.00.
    from datetime import UTC, datetime

    from fhir.resources.R4B.chargeitem import ChargeItem

    from cpoc_fhir.fhir.write import ChargeContext, PublishSettings, build_charge_item
    from cpoc_fhir.packs.base import HCPCS

    line = _evaluate(_record(_given("a1", "oxaliplatin", date(2019, 3, 4)))).lines[0]
    context = ChargeContext(
        patient_ref="Patient/p1",
        episode_ref=None,
        diagnosis=None,
        entered=datetime(2019, 3, 4, 9, tzinfo=UTC),
        payer=load_payer(None),
        settings=PublishSettings(),
    )
    item = build_charge_item(line, context)
    ChargeItem.model_validate(item)
    coding = item["code"]["coding"][0]
    assert (coding["system"], coding["code"]) == (HCPCS, G9678)
    assert "Oncology Care Model" in coding.get("display", "")
    assert (str(item["priceOverride"]["value"]), item["priceOverride"]["currency"]) == (
        "160.00",
        "USD",
    )
