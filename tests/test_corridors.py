"""``cpoc report corridors``: hand-derived quarters over the Appendix A patient (§14.4).

The patient's lines of 2025 (timeline as of 2025-12-31, the illustrative payer file: New
Patient 1000.00, so a line pays 10 × its relative value):

    Q1  xx100 2025-02-18 1000.00, xx204 03-03 800.00                         P = 1800.00
    Q2  xx204 04-03, 05-03, 06-03, 800.00 each                                P = 2400.00
    Q3  xx204 07-03, 08-03 800.00 each; xx303 09-03 250.00; xx401 09-03 300.00 P = 2150.00
    Q4  xx303 10-03, 11-03 250.00 each; xx302 12-03 100.00 (provisional)       P =  600.00

The FFS charges recorded in parallel (EOB items, paid amounts), each in one of those lines:

    Q1  99205 02-18 1200.00, 96413 03-03 800.00 (+ J9263 03-03 45.90, a drug: not F)  F = 2000
    Q2  99214 04-03 1000.00, 96413 05-05 1000.00, 96413 06-03 450.00                   F = 2450
    Q3  96413 07-03 1000.00, 96413 08-04 700.00, 99213 09-03 300.00                    F = 2000
    Q4  99213 10-03 300.00, 99213 11-03 320.00, 99213 12-10 150.00                     F =  770
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.chargeitem import ChargeItem
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from hypothesis import given, settings
from hypothesis import strategies as st
from test_claims import HCPCS, eob, eob_item

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.economics.corridor_rates import load_corridors
from cpoc_fhir.economics.corridors import settle
from cpoc_fhir.errors import InputError

PATIENT = "appendix-a-folfox"
RECORD = bundled_examples() / f"{PATIENT}.json"
CHARGES_2025 = (
    ("2025-02-18", "99205", "1200.00"),
    ("2025-03-03", "96413", "800.00"),
    ("2025-04-03", "99214", "1000.00"),
    ("2025-05-05", "96413", "1000.00"),
    ("2025-06-03", "96413", "450.00"),
    ("2025-07-03", "96413", "1000.00"),
    ("2025-08-04", "96413", "700.00"),
    ("2025-09-03", "99213", "300.00"),
    ("2025-10-03", "99213", "300.00"),
    ("2025-11-03", "99213", "320.00"),
    ("2025-12-10", "99213", "150.00"),
)


def claims(rows: tuple[tuple[str, str, str], ...] = CHARGES_2025) -> list[dict[str, Any]]:
    items = [eob_item(i + 1, code, float(paid), on=on) for i, (on, code, paid) in enumerate(rows)]
    drug = eob_item(len(rows) + 1, "J9263", 45.90, system=HCPCS, units=170, on="2025-03-03")
    return [eob("parallel", PATIENT, *items, drug)]


def write_bundle(path: Path, resources: list[dict[str, Any]]) -> Path:
    bundle = {"resourceType": "Bundle", "type": "collection"}
    bundle["entry"] = [{"resource": r} for r in resources]  # type: ignore[assignment]
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def corridors(
    capsys: pytest.CaptureFixture[str], *args: str, record: Path = RECORD
) -> dict[str, Any]:
    code = main(["report", "corridors", str(record), "--format", "json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def by_quarter(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{q['quarter']} {q['payer']}": q for q in data["quarters"]}


@pytest.fixture
def ffs(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "ffs.json", claims())


def test_quarters_below_inside_and_above_the_band(ffs: Path, capsys) -> None:
    data = corridors(capsys, "--year", "2025", "--ffs", str(ffs))
    assert data["corridor"] == "0.03" and data["participationYear"] == 1
    q = {row["quarter"]: row for row in data["quarters"]}
    assert set(q) == {"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"}
    assert {row["payer"] for row in data["quarters"]} == {"example-illustrative"}
    # Q1: F 2000 × 0.97 = 1940.00 > P 1800.00 → the payer adds 140.00.
    assert (q["2025-Q1"]["cpoc"], q["2025-Q1"]["ffs"]) == ("1800.00", "2000.00")
    assert (q["2025-Q1"]["lower"], q["2025-Q1"]["upper"]) == ("1940.00", "2060.00")
    assert (q["2025-Q1"]["outcome"], q["2025-Q1"]["supplement"]) == ("supplement", "140.00")
    # Q2: 2450 × 0.97 = 2376.50 ≤ P 2400.00 ≤ 2450 × 1.03 = 2523.50 → nothing.
    assert (q["2025-Q2"]["cpoc"], q["2025-Q2"]["ffs"]) == ("2400.00", "2450.00")
    assert (q["2025-Q2"]["lower"], q["2025-Q2"]["upper"]) == ("2376.50", "2523.50")
    assert (q["2025-Q2"]["outcome"], q["2025-Q2"]["supplement"], q["2025-Q2"]["recovery"]) == (
        "inside",
        "0.00",
        "0.00",
    )
    # Q3: P 2150.00 > 2000 × 1.03 = 2060.00 → the payer recovers 90.00.
    assert (q["2025-Q3"]["cpoc"], q["2025-Q3"]["ffs"]) == ("2150.00", "2000.00")
    assert (q["2025-Q3"]["outcome"], q["2025-Q3"]["recovery"]) == ("recovery", "90.00")
    # Q4: 770 × 0.97 = 746.90 > P 600.00 → 146.90 (the provisional December line counts).
    assert (q["2025-Q4"]["cpoc"], q["2025-Q4"]["ffs"]) == ("600.00", "770.00")
    assert (q["2025-Q4"]["outcome"], q["2025-Q4"]["supplement"]) == ("supplement", "146.90")
    for row in data["quarters"]:
        assert (row["patientsRecorded"], row["patientsEstimated"]) == (1, 0)
        assert row["ffsEstimated"] == "0.00" and row["linesWithoutFfs"] == 0
    assert [row["lines"] for row in data["quarters"]] == [2, 3, 4, 3]
    assert data["totals"]["supplement"] == "286.90" and data["totals"]["recovery"] == "90.00"
    assert data["totals"]["cpoc"] == "6950.00" and data["totals"]["ffs"] == "7220.00"
    assert data["corridors"]["illustrative"] is True and data["warnings"] == []


def test_the_boundary_exactly_at_the_lower_edge_is_inside(tmp_path: Path, capsys) -> None:
    # A 4 % corridor: Q4 F = 300 + 325 = 625.00, 625 × 0.96 = 600.00 = P → nothing; one cent
    # more (325.01) makes the edge 600.0096 > 600 → a supplement of 0.0096, rounded once: 0.01.
    table = tmp_path / "c.toml"
    table.write_text(
        '[corridors]\nid = "four"\nname = "4 %"\nsource = "test"\nillustrative = true\n'
        '[[corridor]]\nparticipation_year = 1\nrate = "0.04"\n',
        encoding="utf-8",
    )
    q4 = (("2025-10-03", "99213", "300.00"), ("2025-11-03", "99213", "325.00"))
    ffs = write_bundle(tmp_path / "q4.json", claims(q4))
    data = corridors(capsys, "--year", "2025", "--ffs", str(ffs), "--corridors", str(table))
    row = by_quarter(data)["2025-Q4 example-illustrative"]
    assert (row["cpoc"], row["ffs"], row["lower"]) == ("600.00", "625.00", "600.00")
    assert (row["outcome"], row["supplement"], row["recovery"]) == ("inside", "0.00", "0.00")
    q4 = (("2025-10-03", "99213", "300.00"), ("2025-11-03", "99213", "325.01"))
    ffs = write_bundle(tmp_path / "q4b.json", claims(q4))
    data = corridors(capsys, "--year", "2025", "--ffs", str(ffs), "--corridors", str(table))
    row = by_quarter(data)["2025-Q4 example-illustrative"]
    assert (row["outcome"], row["supplement"]) == ("supplement", "0.01")
    # Q1-Q3 have no recorded charge and no baseline: their lines have no F, left out of both.
    assert by_quarter(data)["2025-Q1 example-illustrative"]["linesWithoutFfs"] == 2
    assert by_quarter(data)["2025-Q1 example-illustrative"]["outcome"] == "inside"
    assert any("left out of both P and F" in w for w in data["warnings"])


def test_no_corridor_in_participation_year_four(ffs: Path, capsys) -> None:
    data = corridors(capsys, "--year", "2025", "--ffs", str(ffs), "--participation-year", "4")
    assert data["corridor"] is None
    for row in data["quarters"]:
        assert row["outcome"] == "no-corridor" and row["lower"] is None
        assert (row["supplement"], row["recovery"]) == ("0.00", "0.00")
    assert by_quarter(data)["2025-Q1 example-illustrative"]["ffs"] == "2000.00"
    assert any("has no corridor" in w for w in data["warnings"])


def test_the_baseline_estimate_worked_by_hand(ffs: Path, capsys) -> None:
    # Baseline 2025 (the charges above, lines as of 2025-12-31): xx100 1 line 1200.00;
    # xx204 6 lines 800 + 1000 + 1000 + 450 + 1000 + 700 = 4950 → 825.00 a line; xx303 3 lines
    # (09-03 with 99213 300.00, 10-03 300.00, 11-03 320.00) 920 → 306.67; xx401 09-03 1 line,
    # its day's charge went to xx303 (the first line of the month, engine.ffs) → 0.00;
    # xx302 12-03 1 line 150.00.
    # 2026, participation year 2 (5 %), no charge recorded: every line is estimated.
    # Q1 xx302 01-03, 02-03 (100.00 each) → F 2 × 150.00 = 300.00; xx301 03-03 has no
    # baseline line → left out of P and F. P 200.00 < 300 × 0.95 = 285.00 → 85.00.
    data = corridors(
        capsys,
        "--year",
        "2026",
        "--baseline",
        str(ffs),
        "--baseline-year",
        "2025",
        "--participation-year",
        "2",
    )
    table = {row["code"]: row for row in data["baseline"]["byCode"]}
    assert {code: (r["lines"], r["perLine"]) for code, r in table.items()} == {
        "xx100": (1, "1200.00"),
        "xx204": (6, "825.00"),
        "xx303": (3, "306.67"),
        "xx401": (1, "0.00"),
        "xx302": (1, "150.00"),
    }
    q1 = by_quarter(data)["2026-Q1 example-illustrative"]
    assert (q1["cpoc"], q1["ffs"], q1["ffsEstimated"], q1["ffsRecorded"]) == (
        "200.00",
        "300.00",
        "300.00",
        "0.00",
    )
    assert (q1["patientsEstimated"], q1["lines"], q1["linesWithoutFfs"]) == (1, 2, 1)
    assert (q1["cpocWithoutFfs"], q1["outcome"], q1["supplement"]) == (
        "20.00",
        "supplement",
        "85.00",
    )
    q2 = by_quarter(data)["2026-Q2 example-illustrative"]
    assert (q2["lines"], q2["linesWithoutFfs"], q2["outcome"]) == (0, 3, "inside")
    assert data["corridor"] == "0.05"


def coverage(cid: str, payer: str, start: str | None, end: str | None) -> dict[str, Any]:
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    return {
        "resourceType": "Coverage",
        "id": cid,
        "status": "active",
        "beneficiary": {"reference": f"Patient/{PATIENT}"},
        "payor": [{"reference": payer}],
        **({"period": period} if period else {}),
    }


def two_payers(tmp_path: Path) -> Path:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    record["entry"] += [
        {"resource": coverage("a", "Organization/payer-a", None, "2025-05-31")},
        {"resource": coverage("b", "Organization/payer-b", "2025-06-01", None)},
        {"resource": coverage("old", "Organization/payer-c", None, None) | {"status": "cancelled"}},
    ]
    record["entry"] += [{"resource": r} for r in claims()]
    path = tmp_path / "two-payers.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_two_payers_in_a_quarter_split_the_lines_by_date(tmp_path: Path, capsys) -> None:
    # Payer A until 2025-05-31, payer B from 06-01: Q2's 04-03 and 05-03 lines are A's
    # (F 1000 + 1000 = 2000, P 1600 < 1940.00 → A adds 340.00), the 06-03 line B's
    # (F 450.00, P 800.00 > 463.50 → B recovers 336.50). The records hold the charges.
    record = two_payers(tmp_path)
    data = corridors(capsys, "--year", "2025", record=record)
    q = by_quarter(data)
    assert set(q) == {
        "2025-Q1 Organization/payer-a",
        "2025-Q2 Organization/payer-a",
        "2025-Q2 Organization/payer-b",
        "2025-Q3 Organization/payer-b",
        "2025-Q4 Organization/payer-b",
    }
    a, b = q["2025-Q2 Organization/payer-a"], q["2025-Q2 Organization/payer-b"]
    assert (a["cpoc"], a["ffs"], a["outcome"], a["supplement"]) == (
        "1600.00",
        "2000.00",
        "supplement",
        "340.00",
    )
    assert (b["cpoc"], b["ffs"], b["upper"], b["outcome"], b["recovery"]) == (
        "800.00",
        "450.00",
        "463.50",
        "recovery",
        "336.50",
    )
    assert q["2025-Q1 Organization/payer-a"]["supplement"] == "140.00"


def test_settlements_as_fhir(tmp_path: Path, capsys) -> None:
    record = two_payers(tmp_path)
    out = tmp_path / "settle"
    assert main(["report", "corridors", str(record), "--year", "2025", "--format", "json",
                 "--charge-items", str(out)]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in out.iterdir())
    assert (
        names
        == sorted(data["settlementFiles"])
        == [
            "ChargeItem-corridor-2025-Q1-Organization-payer-a.json",
            "ChargeItem-corridor-2025-Q2-Organization-payer-a.json",
            "ChargeItem-corridor-2025-Q4-Organization-payer-b.json",
            "PaymentReconciliation-corridor-2025-Q2-Organization-payer-b.json",
            "PaymentReconciliation-corridor-2025-Q3-Organization-payer-b.json",
        ]
    )
    item = json.loads((out / names[1]).read_text(), parse_float=Decimal)
    ChargeItem.model_validate(item)
    assert item["code"]["coding"][0]["code"] == "corridor-supplement"
    assert item["code"]["coding"][0]["display"] == "Risk corridor supplement"
    assert item["priceOverride"] == {"value": Decimal("340.00"), "currency": "USD"}
    assert item["occurrencePeriod"] == {"start": "2025-04-01", "end": "2025-06-30"}
    assert item["subject"] == {"reference": "#patients"}
    assert item["contained"][0]["member"] == [{"entity": {"reference": f"Patient/{PATIENT}"}}]
    assert item["status"] == "billable"
    recon = json.loads((out / names[3]).read_text(), parse_float=Decimal)
    PaymentReconciliation.model_validate(recon)
    assert recon["paymentIssuer"] == {"reference": "Organization/payer-b"}
    assert recon["paymentAmount"]["value"] == Decimal("-336.50")
    assert recon["detail"][0]["amount"]["value"] == Decimal("-336.50")
    assert recon["detail"][0]["type"]["coding"][1]["code"] == "corridor-recovery"
    assert recon["period"] == {"start": "2025-04-01", "end": "2025-06-30"}
    assert recon["status"] == "draft"


def test_the_code_system_has_the_settlement_codes() -> None:
    from cpoc_fhir.fhir.write import PublishSettings, code_system

    concepts = {c["code"]: c for c in code_system(PublishSettings())["concept"]}
    assert concepts["corridor-supplement"]["display"] == "Risk corridor supplement"
    assert concepts["corridor-recovery"]["display"] == "Risk corridor recovery"


def test_the_table_format(ffs: Path, capsys) -> None:
    assert main(["report", "corridors", str(RECORD), "--year", "2025", "--ffs", str(ffs)]) == 0
    text = capsys.readouterr().out
    assert "corridor 3 %" in text and "2025-Q3" in text and "recovery" in text
    assert "illustrative" in text


def test_the_shipped_corridors_are_the_rules_illustrative_figures() -> None:
    table = load_corridors()
    assert [table.rate(n) for n in (1, 2, 3, 4, 9)] == [
        Decimal("0.03"),
        Decimal("0.05"),
        Decimal("0.08"),
        None,
        None,
    ]
    assert table.illustrative and "§14.4" in table.source


HEAD = "[corridors]\nid='x'\nname='x'\nsource='s'\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (HEAD + "[[corridor]]\nparticipation_year=0\nrate='0.03'\n", "participation_year"),
        (HEAD + "[[corridor]]\nparticipation_year=1\nrate='1.5'\n", "rate must be"),
        (HEAD + "[[corridor]]\nparticipation_year=1\nrate='x'\n", "not a number"),
        (HEAD + "[[corridor]]\nparticipation_year=1\nrate='0.03'\n" * 2, "listed twice"),
        ("[[corridor]]\nparticipation_year=1\nrate='0.03'\n", "[corridors] is required"),
    ],
)
def test_a_bad_corridors_file_names_the_file_and_field(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_corridors(path)
    assert problem in str(caught.value) and "bad.toml" in str(caught.value)


def test_bad_usage_exits_2(capsys) -> None:
    assert main(["report", "corridors", "--year", "2025"]) == 2
    assert "INPUT" in capsys.readouterr().err
    assert main(["report", "corridors", str(RECORD), "--year", "2025", "--baseline", "x"]) == 2
    assert "--baseline-year" in capsys.readouterr().err


money = st.decimals(min_value=0, max_value=100_000, places=2)
rates = st.sampled_from([None, Decimal("0"), Decimal("0.03"), Decimal("0.05"), Decimal("0.08")])


@settings(max_examples=300, deadline=None)
@given(money, money, rates)
def test_the_settlement_brings_p_into_the_band(ffs: Decimal, cpoc: Decimal, c) -> None:
    result = settle(ffs, cpoc, c)
    assert result.supplement >= 0 and result.recovery >= 0
    assert result.supplement == 0 or result.recovery == 0
    if c is None:
        assert result.outcome == "no-corridor" and result.supplement == result.recovery == 0
        return
    paid = cpoc + result.supplement - result.recovery
    # After the settlement P lies in the band, to within the one rounding (half a cent).
    assert ffs * (1 - c) - Decimal("0.005") <= paid <= ffs * (1 + c) + Decimal("0.005")
    if ffs * (1 - c) <= cpoc <= ffs * (1 + c):
        assert result.outcome == "inside"


def test_quarter_periods() -> None:
    from cpoc_fhir.economics.corridors import quarter_of, quarter_period

    assert quarter_of(date(2025, 12, 31)) == "2025-Q4"
    assert quarter_period("2025-Q1") == (date(2025, 1, 1), date(2025, 3, 31))
    assert quarter_period("2024-Q4") == (date(2024, 10, 1), date(2024, 12, 31))


def test_the_html_page(tmp_path: Path, capsys) -> None:
    out = tmp_path / "corridors.html"
    record = two_payers(tmp_path)
    argv = ["report", "corridors", str(record), "--year", "2025", "--format", "html"]
    assert main([*argv, "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""
    # one band chart per payer (wide and narrow), the settlement bars, no script
    assert 'id="chart-band-organization-payer-a"' in page
    assert 'id="chart-band-organization-payer-b-narrow"' in page
    assert 'id="chart-settlement"' in page and "<script" not in page
    assert "Supplements <strong>626.90</strong>" in page  # 140.00 + 340.00 + 146.90
    assert "recoveries <strong>426.50</strong>" in page  # 336.50 + 90.00
    assert "the payer recovers" in page and "corridor 3 %" in page


def test_charges_of_a_patient_not_in_the_records_are_named(tmp_path: Path, capsys) -> None:
    stranger = eob("stranger", "someone-else", eob_item(1, "99213", 80.0, on="2025-03-03"))
    ffs = write_bundle(tmp_path / "ffs.json", [*claims(), stranger])
    data = corridors(capsys, "--year", "2025", "--ffs", str(ffs))
    assert by_quarter(data)["2025-Q1 example-illustrative"]["ffs"] == "2000.00"
    assert any("Patient/someone-else" in w for w in data["warnings"])


def test_the_table_fits_80_columns_and_wide_keeps_one_line_a_row(tmp_path: Path, capsys) -> None:
    # Issue 17 item 6: the table was some 120 columns; fitted it is two (billed against FFS,
    # then the corridor and its settlement), each row in both; --wide: the one table. With
    # two payers the payer is in both tables, each (quarter, payer) row then named twice.
    record = two_payers(tmp_path)
    assert main(["report", "corridors", str(record), "--year", "2025"]) == 0
    fitted = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in fitted) <= 80
    assert main(["report", "corridors", str(record), "--year", "2025", "--wide"]) == 0
    wide = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in wide) > 80
    data = corridors(capsys, "--year", "2025", record=record)
    for key, q in by_quarter(data).items():
        quarter, payer = key.split()
        (row,) = [line.split() for line in wide if line.startswith(f"{quarter}  {payer} ")]
        named = [line.split() for line in fitted if line.startswith(f"{quarter}  {payer} ")]
        assert len(named) == 2  # the billed row and the settled row
        # the same figures: the wide row's, the outcome beside P and F, the key repeated
        assert named[0] == [*row[:6], row[8]] and named[1] == [*row[:2], *row[6:8], *row[9:]]
        assert named[0][4:7] == [q["cpoc"], q["ffs"], q["outcome"]]
