"""The CPC+ pack (value-and-models §15.3): one care management fee per calendar month of
attribution, by track and tier; the payer's tier or a Charlson proxy; the model's dates;
identifier vs reference match; a bad attribution file. Goldens derived by hand in comments."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpoc_fhir.cli import main
from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import CoverageFact, Diagnosis, PatientRecord
from cpoc_fhir.engine.lines import ModelSpan, PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.base import PackEnvironment
from cpoc_fhir.packs.cpcplus import rules
from cpoc_fhir.packs.cpcplus.attribution import Attribution
from cpoc_fhir.packs.cpcplus.pack import DATA_FILE, bind_with, load_data
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator

MBI = "http://hl7.org/fhir/sid/us-mbi"
HEADER = "patient,practice_id,practice_name,track,from,to,tier\n"
KNOWLEDGE = load_knowledge()
DATA = load_data()
ALWAYS = (ModelSpan("cpcplus", None, None, "test"),)


@pytest.fixture(autouse=True)
def _no_env_attribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPOC_CPCPLUS_ATTRIBUTION", raising=False)


def _data_file(tmp_path: Path, rows: str, model_end: str | None = None) -> Path:
    """A copy of the shipped data file naming ``attr.csv`` (next to it) as its attribution."""
    (tmp_path / "attr.csv").write_text(HEADER + rows, encoding="utf-8")
    text = DATA_FILE.read_text(encoding="utf-8").replace(
        '# attribution = "cpcplus-attribution.csv"', 'attribution = "attr.csv"'
    )
    if model_end is not None:
        text = text.replace("model_end = 2021-12-31", f"model_end = {model_end}")
    path = tmp_path / "cpcplus.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _evaluate(
    record: PatientRecord, data_file: Path, as_of: date = date(2021, 12, 31), **models: object
) -> PatientTimeline:
    config = load_config(environ={})
    settings = ModelSettings(
        default=str(models.get("default", "cpcplus")),
        payers=models.get("payers", {}),  # type: ignore[arg-type]
        data_files={"cpcplus": str(data_file)},
    )
    evaluator = Evaluator(KNOWLEDGE, config.rules, load_payer(None), models=settings)
    return evaluator.evaluate(record, as_of)


def _dx(ref: str, icd10: str, onset: date = date(2018, 1, 1)) -> Diagnosis:
    return Diagnosis(f"Condition/{ref}", icd10=(icd10,), onset=onset)


# CHF I50.9 (congestive_heart_failure 1) + E11.22 (diabetes_complicated 2) + colon C18.0
# (malignancy 2), Charlson 1987 weights: index 1 + 2 + 2 = 5.
SICK = (_dx("chf", "I509"), _dx("dm", "E1122"), _dx("crc", "C180"))


def test_the_payer_tier_from_the_file_wins_over_the_charlson_proxy(tmp_path: Path) -> None:
    # Row 2: Track 1 tier 1 for Jan-Mar 2019 → three months at Track 1 tier 1 = $6.00 each,
    # although the proxy (index 5, below) would give tier 4.
    data_file = _data_file(tmp_path, "Patient/p1,PC1,Main St,1,2019-01-01,2019-03-31,1\n")
    timeline = _evaluate(PatientRecord("Patient/p1", diagnoses=SICK), data_file)
    assert [(line.start, line.code, line.amount) for line in timeline.lines] == [
        (date(2019, 1, 1), "CPCP-T1-1", Decimal("6.00")),
        (date(2019, 2, 1), "CPCP-T1-1", Decimal("6.00")),
        (date(2019, 3, 1), "CPCP-T1-1", Decimal("6.00")),
    ]
    line = timeline.lines[0]
    assert line.component is Component.CARE_MANAGEMENT and line.model == "cpcplus"
    assert line.end == date(2019, 1, 31) and line.level == 1
    assert "tier 1 from the attribution file (row 2)" in line.explanation[1]
    assert "Main St (PC1), Track 1" in line.explanation[0]


@pytest.mark.parametrize(
    ("track", "extra", "code", "amount", "index"),
    [
        # index 5 (see SICK): Track 1 thresholds 0/1/3/5 → tier 4, $30.00.
        ("1", (), "CPCP-T1-4", "30.00", 5),
        # Track 2 thresholds 0/1/3/5/8: index 5 → tier 4, $33.00.
        ("2", (), "CPCP-T2-4", "33.00", 5),
        # + liver metastasis C78.7 (metastatic_solid_tumor 6, which makes malignancy moot):
        # 1 + 2 + 6 = 9 ≥ 8 → Track 2 complex tier 5, $100.00.
        ("2", (_dx("met", "C787"),), "CPCP-T2-5", "100.00", 9),
    ],
)
def test_without_a_payer_tier_the_charlson_proxy_sets_it(
    tmp_path: Path, track: str, extra: tuple[Diagnosis, ...], code: str, amount: str, index: int
) -> None:
    data_file = _data_file(tmp_path, f"Patient/p1,PC1,Main St,{track},2019-05-01,2019-05-31,\n")
    record = PatientRecord("Patient/p1", diagnoses=SICK + extra)
    (line,) = _evaluate(record, data_file).lines
    assert (line.start, line.code, line.amount) == (date(2019, 5, 1), code, Decimal(amount))
    assert f"Charlson proxy: index {index} (" in line.explanation[1]
    assert "illustrative" in line.explanation[1]
    assert set(line.evidence) >= {"Condition/chf", "Condition/dm", "Condition/crc"}


def test_the_proxy_counts_only_diagnoses_active_in_the_lookback() -> None:
    # CHF abated 2018-03-31: in the 365 days to 2019-03-01 (from 2018-03-01) it counts (index
    # 1 → tier 2); to 2019-04-01 (from 2018-04-01) it no longer does (index 0 → tier 1).
    chf = Diagnosis("Condition/chf", icd10=("I509",), onset=date(2017, 1, 1),
                    abatement=date(2018, 3, 31), active=False)  # fmt: skip
    record = PatientRecord("Patient/p1", diagnoses=(chf,))
    row = Attribution("Patient/p1", "PC1", "Main St", 1, date(2019, 3, 1), None, None, 2)
    lines = rules.cmf_lines(record, [row], DATA, KNOWLEDGE.charlson, date(2019, 5, 1), ALWAYS)
    assert [(line.start, line.level) for line in lines] == [
        (date(2019, 3, 1), 2),
        (date(2019, 4, 1), 1),
        (date(2019, 5, 1), 1),
    ]


def test_months_outside_the_model_dates_are_not_billed(tmp_path: Path) -> None:
    # Row 2 from 2016-11-15: the model starts 2017-01-01 → first month 2017-01 (Nov and Dec
    # 2016 are before the model). Row 3 from 2021-10-01 to 2022-03-31: the model (Round 1)
    # ends 2021-12-31 → Oct, Nov, Dec 2021 only. No diagnoses: index 0 → tier 1, $6.00.
    data_file = _data_file(
        tmp_path,
        "Patient/p1,PC1,Main St,1,2016-11-15,2017-02-28,\n"
        "Patient/p1,PC1,Main St,1,2021-10-01,2022-03-31,\n",
    )
    timeline = _evaluate(PatientRecord("Patient/p1"), data_file, as_of=date(2022, 6, 30))
    assert [line.start for line in timeline.lines] == [
        date(2017, 1, 1),
        date(2017, 2, 1),
        date(2021, 10, 1),
        date(2021, 11, 1),
        date(2021, 12, 1),
    ]
    assert sum(line.amount for line in timeline.lines) == Decimal("30.00")  # 5 × $6.00
    # A Round 2 practice's data file (model_end 2022-12-31) bills Jan-Mar 2022 too.
    late = _evaluate(
        PatientRecord("Patient/p1"),
        _data_file(tmp_path, "Patient/p1,PC1,Main St,1,2021-10-01,2022-03-31,\n", "2022-12-31"),
        as_of=date(2022, 6, 30),
    )
    assert [line.start for line in late.lines][-1] == date(2022, 3, 1) and len(late.lines) == 6


def test_attribution_must_hold_on_the_first_day_and_not_after_as_of_or_death() -> None:
    # From 2019-01-15: January's first day is not attributed → first month 2019-02. Death on
    # 2019-04-01: April still counts (attributed and alive on its 1st), May does not.
    row = Attribution("Patient/p1", "PC1", "Main St", 1, date(2019, 1, 15), None, None, 2)
    record = PatientRecord("Patient/p1", death=date(2019, 4, 1))
    lines = rules.cmf_lines(record, [row], DATA, KNOWLEDGE.charlson, date(2019, 12, 31), ALWAYS)
    assert [line.start for line in lines] == [date(2019, 2, 1), date(2019, 3, 1), date(2019, 4, 1)]
    # as_of 2019-02-28: March is not yet known.
    alive = PatientRecord("Patient/p1")
    lines = rules.cmf_lines(alive, [row], DATA, KNOWLEDGE.charlson, date(2019, 2, 28), ALWAYS)
    assert [line.start for line in lines] == [date(2019, 2, 1)]


def test_a_new_attribution_supersedes_an_overlapping_one() -> None:
    # Row 2 Track 1 tier 2 from 2019-01-01 open-ended; row 3 Track 2 tier 3 from 2019-03-01:
    # Jan, Feb CPCP-T1-2 $8.00; from March CPCP-T2-3 $19.00.
    rows = [
        Attribution("Patient/p1", "PC1", "Main St", 1, date(2019, 1, 1), None, 2, 2),
        Attribution("Patient/p1", "PC2", "Elm St", 2, date(2019, 3, 1), None, 3, 3),
    ]
    record = PatientRecord("Patient/p1")
    lines = rules.cmf_lines(record, rows, DATA, KNOWLEDGE.charlson, date(2019, 4, 30), ALWAYS)
    assert [(line.code, line.amount) for line in lines] == [
        ("CPCP-T1-2", Decimal("8.00")),
        ("CPCP-T1-2", Decimal("8.00")),
        ("CPCP-T2-3", Decimal("19.00")),
        ("CPCP-T2-3", Decimal("19.00")),
    ]
    assert "Elm St (PC2)" in lines[2].explanation[0]


def test_a_row_matches_by_identifier_or_by_reference_and_no_other_patient(tmp_path: Path) -> None:
    # Row 2 names the MBI of p1, row 3 the reference Patient/p2; p3 has another MBI.
    data_file = _data_file(
        tmp_path,
        f"{MBI}|1EG4TE5MK73,PC1,Main St,1,2019-01-01,2019-01-31,2\n"
        "Patient/p2,PC1,Main St,1,2019-01-01,2019-01-31,2\n",
    )
    by_mbi = PatientRecord("Patient/p1", identifiers=(f"{MBI}|1EG4TE5MK73",))
    by_ref = PatientRecord("Patient/p2")
    other = PatientRecord("Patient/p3", identifiers=(f"{MBI}|9XX9XX9XX99",))
    (line,) = _evaluate(by_mbi, data_file).lines
    assert (line.amount, line.start) == (Decimal("8.00"), date(2019, 1, 1))
    assert "(attribution row 2)" in line.explanation[0]
    assert [line.amount for line in _evaluate(by_ref, data_file).lines] == [Decimal("8.00")]
    assert _evaluate(other, data_file).lines == ()


def test_only_the_days_the_pack_holds_the_patient_are_billed(tmp_path: Path) -> None:
    # Coverage of Organization/cpc from 2019-03-01 maps to cpcplus; before it the default
    # (cpoc, which bills nothing here: no cancer). Attributed all of 2019 → months 2019-03…06.
    data_file = _data_file(tmp_path, "Patient/p1,PC1,Main St,1,2019-01-01,2019-06-30,2\n")
    coverage = CoverageFact("Coverage/c1", "Organization/cpc", start=date(2019, 3, 1))
    record = PatientRecord("Patient/p1", coverages=(coverage,))
    timeline = _evaluate(record, data_file, default="cpoc", payers={"Organization/cpc": "cpcplus"})
    assert [line.start for line in timeline.lines] == [
        date(2019, 3, 1),
        date(2019, 4, 1),
        date(2019, 5, 1),
        date(2019, 6, 1),
    ]


@pytest.mark.parametrize(
    ("rows", "where", "problem"),
    [
        ("Patient/p1,PC1,Main St,3,2019-01-01,,\n", "row 2", "track must be 1 or 2"),
        (
            "Patient/p1,PC1,Main St,1,2019-01-01,,\nPatient/p2,PC1,Main St,1,2019-13-01,,\n",
            "row 3",
            "from is not a date",
        ),
        ("Patient/p1,PC1,Main St,1,2019-01-01,,5\n", "row 2", "tier must be one of [1, 2, 3, 4]"),
        (",PC1,Main St,1,2019-01-01,,\n", "row 2", "patient is empty"),
        ("Patient/p1,PC1,Main St,1,2019-05-01,2019-01-31,\n", "row 2", "to is before from"),
    ],
)
def test_a_bad_attribution_row_is_an_input_error_naming_file_and_row(
    tmp_path: Path, rows: str, where: str, problem: str
) -> None:
    data_file = _data_file(tmp_path, rows)
    with pytest.raises(InputError) as caught:
        _evaluate(PatientRecord("Patient/p1"), data_file)
    assert caught.value.where == f"{tmp_path / 'attr.csv'} {where}"
    assert caught.value.problem.startswith(problem)
    assert "Patient/p" not in caught.value.problem  # the patient column is never repeated


def test_a_missing_column_or_file_is_an_input_error(tmp_path: Path) -> None:
    env = PackEnvironment(KNOWLEDGE, load_config(environ={}).rules, None)
    bad = tmp_path / "bad.csv"
    bad.write_text("patient,practice_id,from\nPatient/p1,PC1,2019-01-01\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv row 1: missing column\(s\) track"):
        bind_with(env, bad)
    with pytest.raises(InputError, match=r"nowhere\.csv: cannot read the CPC\+ attribution"):
        bind_with(env, tmp_path / "nowhere.csv")


def test_without_an_attribution_file_nothing_is_billed_and_a_warning_says_why() -> None:
    config = load_config(environ={})
    evaluator = Evaluator(
        KNOWLEDGE, config.rules, load_payer(None), models=ModelSettings(default="cpcplus")
    )
    timeline = evaluator.evaluate(PatientRecord("Patient/p1"), date(2019, 12, 31))
    assert timeline.lines == ()
    assert any("CPC+: no attribution file" in w for w in timeline.warnings)


def test_the_pack_is_registered_and_keeps_fee_for_service() -> None:
    pack = load_pack("cpcplus")
    assert pack.replaces_fee_for_service is False and pack.short_name == "CPC+"
    assert sorted(pack.codes) == [
        "CPCP-T1-1", "CPCP-T1-2", "CPCP-T1-3", "CPCP-T1-4",
        "CPCP-T2-1", "CPCP-T2-2", "CPCP-T2-3", "CPCP-T2-4", "CPCP-T2-5",
    ]  # fmt: skip
    assert all(code.system is None for code in pack.codes.values())  # the practice's codes
    assert DATA.amounts[(2, 5)] == Decimal("100.00") and DATA.amounts[(1, 1)] == Decimal("6.00")


_DAYS = st.dates(min_value=date(2016, 6, 1), max_value=date(2022, 6, 30))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(start=_DAYS, length=st.integers(0, 900), tier=st.none() | st.integers(1, 4))
def test_one_line_per_attributed_month_within_the_model(
    start: date, length: int, tier: int | None
) -> None:
    end = start + timedelta(days=length)
    row = Attribution("Patient/p1", "PC1", "Main St", 1, start, end, tier, 2)
    record = PatientRecord("Patient/p1", diagnoses=SICK)
    lines = rules.cmf_lines(record, [row], DATA, KNOWLEDGE.charlson, date(2023, 1, 1), ALWAYS)
    expected = [
        d
        for d in rules.month_starts(date(2016, 6, 1), date(2022, 12, 1))
        if start <= d <= end and DATA.model_start <= d <= DATA.model_end
    ]
    assert [line.start for line in lines] == expected
    assert [line.month for line in lines] == list(range(1, len(lines) + 1))
    for line in lines:
        assert line.amount == DATA.amounts[(1, line.level or 0)]
        assert line.end.month == line.start.month and (line.end + timedelta(days=1)).day == 1


def test_cpoc_timeline_model_cpcplus_reads_the_patient_identifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Patient p1 carries its MBI in Patient.identifier; the attribution row names that MBI,
    # Track 2 tier 2, 2019-01-01..2019-02-28 → two lines CPCP-T2-2 $11.00 (Jan, Feb 2019).
    attribution = tmp_path / "attr.csv"
    attribution.write_text(
        HEADER + f"{MBI}|1EG4TE5MK73,PC9,Oak Family Medicine,2,2019-01-01,2019-02-28,2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CPOC_CPCPLUS_ATTRIBUTION", str(attribution))
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "http://example.org/mrn", "value": "M-1"},
            {"system": MBI, "value": "1EG4TE5MK73"},
        ],
    }
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
        ),
        encoding="utf-8",
    )
    settings_file = tmp_path / "cpoc.toml"
    settings_file.write_text("", encoding="utf-8")
    code = main(
        ["timeline", str(bundle), "--model", "cpcplus", "--as-of", "2019-12-31",
         "--format", "json", "--config", str(settings_file)]
    )  # fmt: skip
    assert code == 0
    (timeline,) = json.loads(capsys.readouterr().out)["patients"]
    assert [(x["start"], x["code"], x["amount"], x["model"]) for x in timeline["lines"]] == [
        ("2019-01-01", "CPCP-T2-2", "11.00", "cpcplus"),
        ("2019-02-01", "CPCP-T2-2", "11.00", "cpcplus"),
    ]
    assert "1EG4TE5MK73" not in json.dumps(timeline)  # the identifier is matched, not shown


def test_the_reader_fills_identifiers_and_warns_on_an_unreadable_one() -> None:
    from cpoc_fhir.fhir.read import read_record
    from cpoc_fhir.fhir.read.resources import PatientResources

    # The second identifier has no system (kept bare), the third no value (left out).
    identifiers = [{"system": MBI, "value": "X1"}, {"value": "bare"}, {"system": MBI}]
    good = {"resourceType": "Patient", "id": "p1", "identifier": identifiers}
    record = read_record(PatientResources("Patient/p1", [good]), KNOWLEDGE)
    assert record.identifiers == (f"{MBI}|X1", "bare")
    bad = {"resourceType": "Patient", "id": "p2", "identifier": [{"system": MBI, "value": 7}]}
    record = read_record(PatientResources("Patient/p2", [bad]), KNOWLEDGE)
    assert record.identifiers == ()
    assert any("identifier" in w and "not matched" in w for w in record.warnings)


def test_the_charge_item_of_a_cmf_line_validates_with_the_practice_code_system() -> None:
    # Track 2 tier 5 (payer's) for 2019-06 → CPCP-T2-5 $100.00, coded in the practice's
    # CodeSystem ([publish] codesystem_url): CPC+ has no HCPCS code for the CMF.
    from datetime import UTC, datetime

    from fhir.resources.R4B.chargeitem import ChargeItem

    from cpoc_fhir.fhir.write import ChargeContext, PublishSettings, build_charge_item

    row = Attribution("Patient/p1", "PC1", "Main St", 2, date(2019, 6, 1), None, 5, 2)
    (line,) = rules.cmf_lines(
        PatientRecord("Patient/p1"), [row], DATA, KNOWLEDGE.charlson, date(2019, 6, 30), ALWAYS
    )
    settings = PublishSettings()
    context = ChargeContext(
        patient_ref="Patient/p1",
        episode_ref=None,
        diagnosis=None,
        entered=datetime(2019, 6, 1, 9, tzinfo=UTC),
        payer=load_payer(None),
        settings=settings,
    )
    item = build_charge_item(line, context)
    ChargeItem.model_validate(item)
    coding = item["code"]["coding"][0]
    assert (coding["system"], coding["code"]) == (settings.codesystem_url, "CPCP-T2-5")
    assert load_pack("cpcplus").title(line, "USD") == (
        "CPC+ care management fee 2019-06: CPCP-T2-5 $100.00"
    )


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('amount = "100.00"', 'amount = "-1.00"', "repeated or negative"),
        ("{ track = 2, min_score = 8, tier = 5 }", "{ track = 2, min_score = 8, tier = 6 }",
         "track 2 has no tier 6"),
        ("model_end = 2021-12-31", "model_end = 2016-12-31", "model_end is before"),
    ],
)  # fmt: skip
def test_a_bad_data_file_is_an_input_error_naming_it(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    path = tmp_path / "cpcplus.toml"
    text = DATA_FILE.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError, match=problem) as caught:
        load_data(path)
    assert caught.value.where == str(path)


def test_the_proxy_can_leave_cancer_out(tmp_path: Path) -> None:
    # include_cancer = false: SICK's index drops malignancy → 1 + 2 = 3 → Track 1 tier 3, $16.
    data_file = _data_file(tmp_path, "Patient/p1,PC1,Main St,1,2019-05-01,2019-05-31,\n")
    data_file.write_text(
        data_file.read_text(encoding="utf-8").replace(
            "include_cancer = true", "include_cancer = false"
        ),
        encoding="utf-8",
    )
    (line,) = _evaluate(PatientRecord("Patient/p1", diagnoses=SICK), data_file).lines
    assert (line.code, line.amount) == ("CPCP-T1-3", Decimal("16.00"))
    assert "index 3 (congestive_heart_failure, diabetes_complicated;" in line.explanation[1]
    assert "Condition/crc" not in line.evidence
