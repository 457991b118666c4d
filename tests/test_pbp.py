"""Performance-based payment of the episode models (value-and-models §15.1 OCM, §15.2 EOM):
target price, actual spend per episode, the quality multiplier, one- and two-sided risk with
their limits, periods by episode start, the payer file's errors, and ``cpoc report pbp`` end
to end on FHIR JSON. Goldens derived by hand in each test's comment."""

from __future__ import annotations

import ast
import json
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ocm_fhir import (
    OXALIPLATIN,
    TAMOXIFEN,
    administration,
    colon_patient,
    dispense,
    episode_of_care,
    patient,
    write_bundle,
)

from cpoc_fhir.cli import main
from cpoc_fhir.economics.claims import ClaimLine
from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import Diagnosis, PatientRecord
from cpoc_fhir.errors import InputError
from cpoc_fhir.packs import performance
from cpoc_fhir.packs.performance_data import (
    Arrangement,
    ModelPbp,
    PbpFile,
    parse,
    parse_period,
)
from cpoc_fhir.reports.pbp_cli import EXAMPLE_FILE, load_pbp_file

D = Decimal
AS_OF = date(2027, 12, 31)


def _file(text: str, where: str = "pbp.toml") -> PbpFile:
    return parse(tomllib.loads(text), where)


OCM_FILE = """
[ocm]
arrangement = "one-sided"
exclude_codes = ["G9678"]
[ocm.arrangements.one-sided]
discount = "0.04"
[ocm.arrangements.two-sided]
discount = "0.0275"
two_sided = true
stop_gain = "0.20"
stop_loss = "0.02"
[ocm.quality]
measures = ["OCM-1", "OCM-2"]
[[ocm.quality.tiers]]
min_score = "0"
multiplier = "0.5"
[[ocm.quality.tiers]]
min_score = "0.5"
multiplier = "0.8"
recoupment_multiplier = "0.9"
[[ocm.quality.tiers]]
min_score = "0.9"
multiplier = "1"
[ocm.cancer_types]
breast = ["C50"]
[ocm.periods.2019H1]
trend = "1.03"
[ocm.periods.2019H1.baseline]
default = "25000.00"
breast = "18000.00"
[ocm.periods.2019H1.quality]
"OCM-1" = "0.70"
"OCM-2" = "0.60"
"""


def _ocm(arrangement: str = "one-sided") -> ModelPbp:
    text = OCM_FILE.replace('arrangement = "one-sided"', f'arrangement = "{arrangement}"')
    return _file(text).model("ocm")


def _episode(start: date, end: date, index: int = 1, model: str = "ocm") -> Episode:
    return Episode(model, index, start, end, "MedicationAdministration/a1")


def _item(on: date, amount: str | None, code: str = "99214", n: int = 1) -> ClaimLine:
    cpt = "http://www.ama-assn.org/go/cpt"
    value = None if amount is None else D(amount)
    return ClaimLine("p1", on, cpt, code, D(1), value, f"ExplanationOfBenefit/e#item{n}", "paid")


EP = _episode(date(2019, 3, 4), date(2019, 9, 3))


def test_target_actual_and_pbp_of_one_episode_by_hand() -> None:
    # benchmark = 25 000.00 × 1.03 = 25 750.00; target = 25 750.00 × (1 − 0.04) = 24 720.00.
    # actual: 12 000.00 (03-04, the first day) + 9 000.00 (09-03, the last day) = 21 000.00;
    # 500.00 on 09-04 is after the episode and the MEOS G9678 160.00 is excluded.
    # savings 3 720.00; aggregate score (0.70 + 0.60) / 2 = 0.65 → tier 0.5 → multiplier 0.8;
    # PBP = 3 720.00 × 1 × 0.8 = 2 976.00.
    model = _ocm()
    data = model.period("2019H1", "test")
    items = [
        _item(date(2019, 3, 4), "12000.00", n=1),
        _item(date(2019, 9, 3), "9000.00", n=2),
        _item(date(2019, 9, 4), "500.00", n=3),
        _item(date(2019, 4, 4), "160.00", code="G9678", n=4),
    ]
    result = performance.episode_result("Patient/p1", EP, None, items, model, data, AS_OF)
    assert (result.benchmark, result.target, result.actual) == (
        D("25750.00"),
        D("24720.0000"),
        D("21000.00"),
    )
    assert (result.items, result.excluded) == (2, 1)
    period = performance.period_result(model, data, [result])
    assert period.quality.score == D("0.65")
    assert period.quality.multiplier == D("0.8")
    settlement = period.settlement
    assert settlement is not None
    assert (settlement.target, settlement.savings, settlement.pbp) == (
        D("24720.00"),
        D("3720.00"),
        D("2976.00"),
    )
    assert settlement.recoupment == D("0.00")


def test_one_sided_risk_owes_nothing_when_actual_is_above_target() -> None:
    # target 24 720.00 (above); actual 26 000.00 → savings −1 280.00: PBP 0, no recoupment.
    model = _ocm()
    data = model.period("2019H1", "test")
    result = performance.episode_result(
        "Patient/p1", EP, None, [_item(date(2019, 5, 1), "26000.00")], model, data, AS_OF
    )
    settlement = performance.period_result(model, data, [result]).settlement
    assert settlement is not None
    assert (settlement.savings, settlement.pbp, settlement.recoupment) == (
        D("-1280.00"),
        D("0.00"),
        D("0.00"),
    )
    assert "one-sided" in settlement.reason


def test_two_sided_recoupment_with_its_share_and_the_stop_loss() -> None:
    # Two-sided: target = 25 750.00 × (1 − 0.0275) = 25 041.875. Actual 25 500.00 → loss
    # 458.125 × loss share 1 × recoupment multiplier 0.9 (tier 0.5) = 412.3125 → 412.31;
    # the stop-loss 0.02 × 25 750.00 = 515.00 does not bite.
    model = _ocm("two-sided")
    data = model.period("2019H1", "test")

    def settle(actual: str) -> performance.Settlement:
        result = performance.episode_result(
            "Patient/p1", EP, None, [_item(date(2019, 5, 1), actual)], model, data, AS_OF
        )
        out = performance.period_result(model, data, [result]).settlement
        assert out is not None
        return out

    small = settle("25500.00")
    assert (small.target, small.recoupment, small.pbp, small.capped) == (
        D("25041.88"),
        D("412.31"),
        D("0.00"),
        "",
    )
    # Actual 30 000.00 → loss 4 958.125 × 0.9 = 4 462.3125, above the stop-loss: 515.00.
    big = settle("30000.00")
    assert big.recoupment == D("515.00")
    assert big.capped.startswith("stop-loss")
    # Actual 10 000.00 → savings 15 041.875 × 0.8 = 12 033.50, above the stop-gain
    # 0.20 × 25 750.00 = 5 150.00: PBP 5 150.00.
    gain = settle("10000.00")
    assert (gain.pbp, gain.recoupment) == (D("5150.00"), D("0.00"))
    assert gain.capped.startswith("stop-gain")


def test_episodes_belong_to_the_period_their_start_falls_in() -> None:
    # H1 2019 is 01-01 … 06-30: an episode starting 06-30 is in it (though it ends in
    # December); 2018-12-31 and 07-01 are not; another model's episode is not either.
    model = _ocm()
    data = model.period("2019H1", "test")
    episodes = [
        _episode(date(2018, 12, 31), date(2019, 6, 30), 1),
        _episode(date(2019, 1, 1), date(2019, 6, 30), 2),
        _episode(date(2019, 6, 30), date(2019, 12, 29), 3),
        _episode(date(2019, 7, 1), date(2019, 12, 31), 4),
        _episode(date(2019, 2, 1), date(2019, 7, 31), 1, model="eom"),
    ]
    assert [e.index for e in performance.in_period(episodes, "ocm", data)] == [2, 3]
    assert parse_period("2019H2").start == date(2019, 7, 1)
    assert parse_period("2019H2").end == date(2019, 12, 31)
    assert parse_period("2019h1").name == "2019H1"
    with pytest.raises(InputError, match="YYYYH1 or YYYYH2"):
        parse_period("2019H3")


def test_an_episode_ending_after_as_of_is_shown_and_not_counted() -> None:
    # Episode 1 ended 2019-09-03 (counted: target 24 720.00, actual 20 000.00 → 4 720.00);
    # episode 2 ends 2019-12-29, after as-of 2019-10-01: not in the sums.
    # PBP = 4 720.00 × 0.8 = 3 776.00.
    model = _ocm()
    data = model.period("2019H1", "test")
    as_of = date(2019, 10, 1)
    later = _episode(date(2019, 6, 30), date(2019, 12, 29), 2)
    items = [_item(date(2019, 5, 1), "20000.00"), _item(date(2019, 10, 15), "99999.00", n=2)]
    results = [
        performance.episode_result("Patient/p1", ep, None, items, model, data, as_of)
        for ep in (EP, later)
    ]
    assert [r.complete for r in results] == [True, False]
    # A provisional episode (its trigger an infusion planned, not given) is not counted either.
    planned = Episode(
        "ocm", 1, date(2019, 2, 1), date(2019, 7, 31), "MedicationRequest/r", confirmed=False
    )
    results.append(performance.episode_result("Patient/p2", planned, None, [], model, data, as_of))
    assert [r.not_counted for r in results] == [
        None,
        "open: ends after as-of",
        "provisional: its trigger is planned, not given",
    ]
    period = performance.period_result(model, data, results)
    settlement = period.settlement
    assert settlement is not None
    assert (settlement.actual, settlement.pbp) == (D("20000.00"), D("3776.00"))
    summary = period.as_json()
    assert (summary["counted"], summary["notCountedEpisodes"]) == (1, 2)


def test_the_baseline_of_the_cancer_type_the_diagnoses_give() -> None:
    # A breast diagnosis (C50.9 read as C509) active on the start: baseline 18 000.00 →
    # benchmark 18 540.00, target 17 798.40; a diagnosis abated before the start is ignored.
    model = _ocm()
    data = model.period("2019H1", "test")
    record = PatientRecord(
        "Patient/p1",
        diagnoses=(
            Diagnosis(
                "Condition/old", icd10=("C50",), onset=date(2010, 1, 1), abatement=date(2012, 1, 1)
            ),
        ),
    )
    assert performance.cancer_type(record, EP, model.cancer_types) is None
    record = PatientRecord(
        "Patient/p1", diagnoses=(Diagnosis("Condition/c", icd10=("C509",), onset=date(2019, 1, 1)),)
    )
    kind = performance.cancer_type(record, EP, model.cancer_types)
    assert kind == "breast"
    result = performance.episode_result("Patient/p1", EP, kind, [], model, data, AS_OF)
    assert (result.baseline_basis, result.benchmark, result.target) == (
        "breast",
        D("18540.00"),
        D("17798.4000"),
    )


def test_an_unpriced_item_is_left_out_and_named() -> None:
    model = _ocm()
    data = model.period("2019H1", "test")
    result = performance.episode_result(
        "Patient/p1", EP, None, [_item(date(2019, 4, 1), None, n=7)], model, data, AS_OF
    )
    assert result.actual == D(0)
    assert result.unpriced == ("ExplanationOfBenefit/e#item7",)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('discount = "0.04"', 'discount = "4%"', "ocm.arrangements.one-sided.discount"),
        ('discount = "0.04"', "discount = 0.04", "ocm.arrangements.one-sided.discount"),
        ('discount = "0.04"', 'discount = "1.5"', "ocm.arrangements.one-sided.discount"),
        ('trend = "1.03"', 'trend = "0"', "ocm.periods.2019H1.trend"),
        ('trend = "1.03"', "", "ocm.periods.2019H1.trend: missing"),
        ('arrangement = "one-sided"', 'arrangement = "RA3"', "ocm.arrangement"),
        ("[ocm.periods.2019H1]", "[ocm.periods.2019Q1]", "2019Q1"),
        ('"OCM-2" = "0.60"', "", "no score for 'OCM-2'"),
        ('default = "25000.00"', 'default = "-1"', "ocm.periods.2019H1.baseline.default"),
        ('min_score = "0"\n', 'min_score = "0.1"\n', "the lowest min_score must be 0"),
        ('stop_loss = "0.02"', 'stop_los = "0.02"', "ocm.arrangements.two-sided.stop_los"),
        ('trend = "1.03"', 'trend = "1.03"\ntrends = "1"', "ocm.periods.2019H1.trends"),
        ('"OCM-1" = "0.70"\n"OCM-2" = "0.60"', "", "no scores and no multiplier"),
        ("[ocm]\n", "[cpcplus]\n[ocm]\n", "cpcplus: not a known key"),
    ],
)
def test_a_bad_payer_file_names_the_key(old: str, new: str, key: str) -> None:
    assert old in OCM_FILE
    with pytest.raises(InputError) as caught:
        _file(OCM_FILE.replace(old, new, 1), "practice-pbp.toml")
    assert caught.value.where == "practice-pbp.toml"
    assert key in caught.value.problem


def test_a_stop_loss_on_a_one_sided_arrangement_is_refused() -> None:
    text = OCM_FILE.replace('discount = "0.04"', 'discount = "0.04"\nstop_loss = "0.1"', 1)
    with pytest.raises(InputError, match="one-sided arrangement owes nothing"):
        _file(text)


def test_the_example_payer_file_parses_and_says_it_is_illustrative() -> None:
    # 2019H1's six OCM scores average (0.80 + 0.70 + 0.60 + 0.90 + 0.75 + 0.65) / 6 =
    # 4.40 / 6 = 0.7333… → the 0.50 tier → multiplier 0.75.
    example = load_pbp_file(None)
    assert example.where == str(EXAMPLE_FILE)
    assert example.illustrative
    ocm = example.model("ocm")
    assert ocm.arrangement.discount == D("0.04")
    grade = performance.quality(ocm, ocm.period("2019H1", "test"))
    assert grade.multiplier == D("0.75")
    assert performance.quality(ocm, ocm.period("2019H2", "test")).multiplier == D("0.80")
    eom = example.model("eom")
    assert eom.arrangement.two_sided
    with pytest.raises(InputError, match="no '2030H1'"):
        eom.period("2030H1", "--period")


MONEY = st.decimals(min_value=0, max_value=200_000, places=2, allow_nan=False)
FRACTION = st.decimals(min_value=0, max_value=1, places=3, allow_nan=False)


@given(
    bench=MONEY,
    actual=MONEY,
    discount=st.decimals(min_value=0, max_value="0.1", places=4),
    share=FRACTION,
    multiplier=FRACTION,
    recoup=FRACTION,
    two_sided=st.booleans(),
    limit=st.one_of(st.none(), FRACTION),
)
def test_pbp_never_exceeds_savings_and_one_sided_never_negative(
    bench: Decimal,
    actual: Decimal,
    discount: Decimal,
    share: Decimal,
    multiplier: Decimal,
    recoup: Decimal,
    two_sided: bool,
    limit: Decimal | None,
) -> None:
    arrangement = Arrangement(
        "x",
        discount,
        two_sided,
        savings_share=share,
        loss_share=share,
        stop_gain=limit,
        stop_loss=limit if two_sided else None,
    )
    grade = performance.Quality(None, multiplier, recoup, "test")
    target = performance.target_price(bench, arrangement)
    out = performance.settle(bench, target, actual, arrangement, grade)
    savings = performance.cents(target - actual)
    assert out.pbp >= 0 and out.recoupment >= 0
    assert out.pbp <= max(savings, D(0))
    assert out.recoupment <= max(-savings, D(0))
    assert out.pbp == 0 or out.recoupment == 0
    if not two_sided:
        assert out.recoupment == 0
    if limit is not None:
        assert out.pbp <= performance.cents(limit * bench)


def test_the_pure_modules_do_no_io() -> None:
    forbidden = {"os", "io", "pathlib", "sys", "tomllib", "json", "time", "socket"}
    for name in ("performance.py", "performance_data.py"):
        path = Path(performance.__file__).parent / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert imported.isdisjoint(forbidden), name
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "open" not in calls


# --- End to end: FHIR JSON → cpoc report pbp --------------------------------------------

CPT = "http://www.ama-assn.org/go/cpt"
ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"


def _eob_item(sequence: int, on: str, paid: float) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "servicedDate": on,
        "productOrService": {"coding": [{"system": CPT, "code": "96413"}]},
        "adjudication": [
            {
                "category": {"coding": [{"system": ADJ, "code": "benefit"}]},
                "amount": {"value": paid, "currency": "USD"},
            }
        ],
    }


def _resources(pid: str) -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{pid}"}
    return [
        *colon_patient(pid, "2025-01-10", "2025-03-03"),
        {
            "resourceType": "ExplanationOfBenefit",
            "id": f"{pid}-eob",
            "status": "active",
            "use": "claim",
            "outcome": "complete",
            "patient": subject,
            "billablePeriod": {"start": "2025-03-03"},
            "item": [
                _eob_item(1, "2025-03-03", 12000.00),
                _eob_item(2, "2025-09-02", 4000.00),
                _eob_item(3, "2025-09-03", 9999.00),
            ],
        },
        {
            "resourceType": "Claim",
            "id": f"{pid}-claim",
            "status": "active",
            "use": "claim",
            "patient": subject,
            "billablePeriod": {"start": "2025-05-01"},
            "item": [
                {
                    "sequence": 1,
                    "servicedDate": "2025-05-01",
                    "productOrService": {"coding": [{"system": CPT, "code": "99215"}]},
                    "net": {"value": 3000.00, "currency": "USD"},
                }
            ],
        },
    ]


EOM_FILE = """
illustrative = true
[eom]
arrangement = "RA1"
[eom.arrangements.RA1]
discount = "0.04"
two_sided = true
stop_gain = "0.50"
stop_loss = "0.02"
[eom.quality]
measures = ["EOM-1"]
[[eom.quality.tiers]]
min_score = "0"
multiplier = "0.9"
[eom.cancer_types]
small_intestine_colorectal = ["C18"]
[eom.periods.2025H1]
trend = "1.02"
[eom.periods.2025H1.baseline]
default = "30000.00"
small_intestine_colorectal = "28000.00"
[eom.periods.2025H1.quality]
"EOM-1" = "0.40"
"""


def test_report_pbp_end_to_end_on_fhir_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Colon cancer (C18.0), oxaliplatin 2025-03-03 → EOM episode 2025-03-03 … 2025-09-02
    # (starts in 2025H1). Baseline of small_intestine_colorectal 28 000.00 × 1.02 =
    # 28 560.00 benchmark; target 28 560.00 × 0.96 = 27 417.60. Actual: EOB items 12 000.00
    # (03-03) + 4 000.00 (09-02, the last day) + the Claim's net 3 000.00 (05-01) = 19 000.00;
    # the 9 999.00 on 09-03 is after the episode. Savings 8 417.60 × 0.9 (the only tier) =
    # 7 575.84; the stop-gain 0.50 × 28 560.00 = 14 280.00 does not bite.
    bundle = tmp_path / "bundle.json"
    entries = [{"resource": r} for r in _resources("p1")]
    bundle.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}),
        encoding="utf-8",
    )
    payer_file = tmp_path / "pbp.toml"
    payer_file.write_text(EOM_FILE, encoding="utf-8")
    settings = tmp_path / "cpoc.toml"
    settings.write_text('[models]\ndefault = "eom"\n', encoding="utf-8")
    monkeypatch.setenv("CPOC_CONFIG", str(settings))
    args = [
        "report",
        "pbp",
        str(bundle),
        "--model",
        "eom",
        "--period",
        "2025H1",
        "--payer-file",
        str(payer_file),
        "--as-of",
        "2025-12-31",
        "--config",
        str(settings),
    ]
    assert main([*args, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    (row,) = result["episodes"]
    assert (row["patient"], row["start"], row["end"]) == ("Patient/p1", "2025-03-03", "2025-09-02")
    assert (row["cancerType"], row["benchmark"], row["target"], row["actual"]) == (
        "small_intestine_colorectal",
        "28560.00",
        "27417.60",
        "19000.00",
    )
    assert result["settlement"]["pbp"] == "7575.84"
    assert result["settlement"]["recoupment"] == "0.00"
    assert result["payerFile"]["illustrative"] is True

    assert main([*args, "--format", "csv"]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[-1] == "pbp,7575.84,recoupment,0.00"
    assert main([*args, "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert "performance-based payment 7575.84 USD" in table
    assert "ILLUSTRATIVE" in table
    # issue 17 item 6: 80 columns — the episode's row without end and cancer (the figures
    # worked above), the head wrapped; --wide every column on one row
    assert max(len(line) for line in table.splitlines()) <= 80
    (row_line,) = [line for line in table.splitlines() if line.startswith("Patient/p1 ")]
    assert row_line.split() == ["Patient/p1", "1", "2025-03-03", "28560.00", "27417.60",
                                "19000.00", "8417.60"]  # fmt: skip
    assert main([*args, "--format", "table", "--wide"]) == 0
    wide = capsys.readouterr().out
    (wide_row,) = [line for line in wide.splitlines() if line.startswith("Patient/p1 ")]
    assert "2025-09-02" in wide_row and "small_inte" in wide_row  # end, cancer (cut at 10)
    assert max(len(line) for line in wide.splitlines()) > 80
    out = tmp_path / "pbp.html"
    assert main([*args, "--format", "html", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "7,575.84" in page and "<script" not in page
    assert "ILLUSTRATIVE" in page


def test_report_pbp_names_an_unknown_period_of_the_payer_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payer_file = tmp_path / "pbp.toml"
    payer_file.write_text(EOM_FILE, encoding="utf-8")
    bundle = tmp_path / "empty.json"
    bundle.write_text('{"resourceType": "Bundle", "type": "collection"}', encoding="utf-8")
    code = main(
        [
            "report",
            "pbp",
            str(bundle),
            "--model",
            "eom",
            "--period",
            "2026H2",
            "--payer-file",
            str(payer_file),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "2026H2" in err and "2025H1" in err


def _claim(pid: str, rid: str, on: str, code: str, net: float) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "id": rid,
        "status": "active",
        "use": "claim",
        # Claim's required elements (R4 cardinality 1..1), so a server takes it.
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "created": on,
        "provider": {"display": "the practice"},
        "priority": {"coding": [{"system": PRIORITY, "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Medicare"}}],
        "patient": {"reference": f"Patient/{pid}"},
        "billablePeriod": {"start": on},
        "item": [
            {
                "sequence": 1,
                "servicedDate": on,
                "productOrService": {"coding": [{"system": CPT, "code": code}]},
                "net": {"value": net, "currency": "USD"},
            }
        ],
    }


def test_report_pbp_for_ocm_one_sided_on_fhir_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # OCM pack (merged from branch ocm); every patient under OCM (--all-patients).
    # p1 breast (C50.9), tamoxifen filled 2019-02-04 for 30 days → episode 2019-02-04 …
    #   2019-08-03, cancer type breast: benchmark 18 000.00 × 1.03 = 18 540.00, target
    #   × 0.96 = 17 798.40; actual 1 500.00 (02-04) + 14 000.00 (06-10) = 15 500.00, the MEOS
    #   G9678 160.00 (03-04) left out.
    # p2 colon (C18.0), oxaliplatin 2019-05-06 → episode 2019-05-06 … 2019-11-05, no colorectal
    #   baseline in the file: default 25 000.00 × 1.03 = 25 750.00, target 24 720.00; actual
    #   22 000.00 (05-06).
    # p3 lung, oxaliplatin 2019-07-01: its episode starts in 2019H2, not in this report.
    # Σ target 42 518.40 − Σ actual 37 500.00 = 5 018.40; aggregate score (0.70 + 0.60) / 2
    # = 0.65 → multiplier 0.8: PBP 4 014.72 (stop-gain: none in the one-sided arrangement).
    resources = [
        *patient("p1", "C50.9", "2018-11-01"),
        dispense("p1", "p1-tam", TAMOXIFEN, "2019-02-04", 30),
        _claim("p1", "p1-c1", "2019-02-04", "J9999", 1500.00),
        _claim("p1", "p1-meos", "2019-03-04", "G9678", 160.00),
        _claim("p1", "p1-c2", "2019-06-10", "99223", 14000.00),
        *patient("p2", "C18.0", "2019-04-01"),
        administration("p2", "p2-ox", OXALIPLATIN, "2019-05-06"),
        _claim("p2", "p2-c1", "2019-05-06", "96413", 22000.00),
        *patient("p3", "C34.90", "2019-06-01"),
        administration("p3", "p3-ox", OXALIPLATIN, "2019-07-01"),
        _claim("p3", "p3-c1", "2019-07-01", "96413", 50000.00),
    ]
    bundle = write_bundle(tmp_path / "ocm.json", resources)
    payer_file = tmp_path / "pbp.toml"
    payer_file.write_text(OCM_FILE, encoding="utf-8")
    settings = tmp_path / "cpoc.toml"
    settings.write_text("", encoding="utf-8")
    monkeypatch.setenv("CPOC_CONFIG", str(settings))
    code = main(
        [
            "report",
            "pbp",
            str(bundle),
            "--model",
            "ocm",
            "--period",
            "2019H1",
            "--payer-file",
            str(payer_file),
            "--as-of",
            "2020-06-30",
            "--all-patients",
            "--format",
            "json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    rows = {row["patient"]: row for row in result["episodes"]}
    assert sorted(rows) == ["Patient/p1", "Patient/p2"]
    p1, p2 = rows["Patient/p1"], rows["Patient/p2"]
    assert (p1["start"], p1["end"], p1["cancerType"], p1["baselineBasis"]) == (
        "2019-02-04",
        "2019-08-03",
        "breast",
        "breast",
    )
    assert (p1["target"], p1["actual"], p1["excludedItems"]) == ("17798.40", "15500.00", 1)
    assert (p2["start"], p2["end"], p2["baselineBasis"]) == ("2019-05-06", "2019-11-05", "default")
    assert (p2["target"], p2["actual"]) == ("24720.00", "22000.00")
    settlement = result["settlement"]
    assert (settlement["target"], settlement["actual"], settlement["savings"]) == (
        "42518.40",
        "37500.00",
        "5018.40",
    )
    assert settlement["pbp"] == "4014.72"
    assert result["excludedCodes"] == ["G9678"]


def test_report_pbp_with_claims_in_another_file_and_an_eom_recoupment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The records without claims; the claims in their own Bundle: one EOB item of 30 000.00
    # on 2025-04-01. Target 27 417.60 (as above) → loss 2 582.40 × loss share 1 × recoupment
    # multiplier 1 = 2 582.40, above the RA1 stop-loss 0.02 × 28 560.00 = 571.20: recoupment
    # 571.20, PBP 0.
    records = [
        r for r in _resources("p1") if r["resourceType"] not in ("Claim", "ExplanationOfBenefit")
    ]
    claims = [r for r in _resources("p1") if r["resourceType"] == "ExplanationOfBenefit"]
    claims[0]["item"] = [_eob_item(1, "2025-04-01", 30000.00)]
    stranger = json.loads(json.dumps(claims[0]))
    stranger["id"], stranger["patient"] = "x-eob", {"reference": "Patient/x"}
    claims.append(stranger)  # a patient with no record: named in a warning, left out
    bundle = write_bundle(tmp_path / "records.json", records)
    claims_file = write_bundle(tmp_path / "claims.json", claims)
    payer_file = tmp_path / "pbp.toml"
    payer_file.write_text(EOM_FILE, encoding="utf-8")
    settings = tmp_path / "cpoc.toml"
    settings.write_text('[models]\ndefault = "eom"\n', encoding="utf-8")
    monkeypatch.setenv("CPOC_CONFIG", str(settings))
    code = main(
        [
            "report",
            "pbp",
            str(bundle),
            "--claims",
            str(claims_file),
            "--model",
            "eom",
            "--period",
            "2025H1",
            "--payer-file",
            str(payer_file),
            "--as-of",
            "2025-12-31",
            "--format",
            "json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    (row,) = result["episodes"]
    assert row["actual"] == "30000.00"
    settlement = result["settlement"]
    assert (settlement["savings"], settlement["pbp"], settlement["recoupment"]) == (
        "-2582.40",
        "0.00",
        "571.20",
    )
    assert settlement["capped"].startswith("stop-loss")
    assert any("no record in the input" in w and "Patient/x" in w for w in result["warnings"])


def test_report_pbp_from_a_fhir_server_matches_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # p1 colon (C18.0), oxaliplatin 2019-01-31 → OCM episode 2019-01-31 … 2019-07-30; a Claim
    # of 20 000.00 on 2019-02-01. Default baseline: target 24 720.00; savings 4 720.00 × 0.8 =
    # PBP 3 776.00 — read from a FHIR server (found by its EpisodeOfCare) and from a file.
    from sekmet_server import running_sekmet

    from cds_hooks.embedded_fhir import load_resources

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    settings = tmp_path / "cpoc.toml"
    settings.write_text("", encoding="utf-8")
    monkeypatch.setenv("CPOC_CONFIG", str(settings))
    resources = [
        *patient("p1", "C18.0", "2018-12-01"),
        episode_of_care("p1", "2019-01-10"),
        administration("p1", "p1-ox", OXALIPLATIN, "2019-01-31"),
        _claim("p1", "p1-c1", "2019-02-01", "96413", 20000.00),
    ]
    payer_file = tmp_path / "pbp.toml"
    payer_file.write_text(OCM_FILE, encoding="utf-8")
    tail = ["--model", "ocm", "--period", "2019H1", "--payer-file", str(payer_file)]
    tail += ["--all-patients", "--as-of", "2019-12-31", "--format", "json"]
    bundle = write_bundle(tmp_path / "p1.json", resources)
    assert main(["report", "pbp", str(bundle), *tail]) == 0
    from_file = json.loads(capsys.readouterr().out)
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, resources)
        code = main(["report", "pbp", "--fhir-base", server.base_url, *tail])
    out = capsys.readouterr()
    assert code == 0, out.err
    served = json.loads(out.out)
    assert served["settlement"]["pbp"] == from_file["settlement"]["pbp"] == "3776.00"
    assert served["episodes"] == from_file["episodes"]
