"""``cpoc report episodes`` (value-and-models §14.5): episodes worked by hand on two patients,
the Appendix A (FOLFOX) and Appendix B (NSCLC) examples, priced by the illustrative payer file
(New Patient 1000.00, xx204 800.00, xx203 610.00, xx401 300.00, xx303 250.00)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.economics.episodes import add_months, price_row, stage_group
from cpoc_fhir.economics.episodes_cli import episodes_table

AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two")
    for name in ("appendix-a-folfox", "appendix-b-nsclc"):
        shutil.copy(bundled_examples() / f"{name}.json", folder)
    return folder


def report(capsys: pytest.CaptureFixture[str], folder: Path, *args: str) -> dict[str, Any]:
    code = main(["report", "episodes", str(folder), "--as-of", AS_OF, "--format", "json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def by_patient(out: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(e["patient"].removeprefix("Patient/"), e["line"]): e for e in out["list"]}


def test_six_months_from_the_first_treatment(two: Path, capsys) -> None:
    out = report(capsys, two)
    found = by_patient(out)
    a = found[("appendix-a-folfox", 1)]
    # A: first Treatment Month 2025-03-03 → six months to 2025-09-02. New Patient 2025-02-18
    # (1000.00, before the start: the first episode's) + months 1-6 xx204 6 × 800.00 = 5800.00;
    # month 7 (2025-09-03: xx303, xx401) starts after the window.
    assert (a["start"], a["end"], a["amount"], a["complete"]) == (
        "2025-03-03",
        "2025-09-02",
        "5800.00",
        True,
    )
    assert [ln["code"] for ln in a["lines"]] == ["xx100"] + ["xx204"] * 6
    assert (a["cancer"], a["stage"]) == ("colorectal", "III")
    b = found[("appendix-b-nsclc", 1)]
    # B: first Treatment Month 2025-04-01 → 2025-09-30: New Patient 1000 + 800 + 800 + 610 +
    # 300 (xx401) + 800 + 610 + 610 + 300 (xx401) = 5830.00; the Monitoring months follow.
    assert (b["start"], b["end"], b["amount"]) == ("2025-04-01", "2025-09-30", "5830.00")
    assert (b["cancer"], b["stage"], b["treatmentMonths"]) == ("lung", "IV", 6)
    # Two groups of one; overall mean (5800 + 5830) / 2 = 5815.00; sample SD
    # sqrt((15² + 15²) / 1) = sqrt(450) = 21.2132… → 21.21.
    assert out["overall"] == {
        "count": 2,
        "mean": "5815.00",
        "sd": "21.21",
        "min": "5800.00",
        "max": "5830.00",
        "total": "11630.00",
        "meanTreatmentMonths": "6.00",
    }
    assert [
        (g["cancer"], g["stage"], g["line"], g["count"], g["mean"], g["sd"]) for g in out["groups"]
    ] == [
        ("colorectal", "III", 1, 1, "5800.00", None),
        ("lung", "IV", 1, 1, "5830.00", None),
    ]
    assert (out["episodes"], out["incomplete"]) == (2, 0)


def test_treatment_only_leaves_new_patient_and_monitoring_outside(two: Path, capsys) -> None:
    out = report(capsys, two, "--treatment-only")
    found = by_patient(out)
    # A: 6 × 800 = 4800.00 (no New Patient); B: 5830 − 1000 = 4830.00 (Transition lines stay).
    assert found[("appendix-a-folfox", 1)]["amount"] == "4800.00"
    assert found[("appendix-b-nsclc", 1)]["amount"] == "4830.00"
    assert out["overall"]["mean"] == "4815.00"
    assert all(ln["code"] != "xx100" for e in out["list"] for ln in e["lines"])


def test_lines_of_therapy(two: Path, capsys) -> None:
    out = report(capsys, two, "--period", "line")
    found = by_patient(out)
    # A: one line (FOLFOX), its months 2025-03-03 … 2025-09-02: 1000 + 6 × 800 = 5800.00.
    assert found[("appendix-a-folfox", 1)]["amount"] == "5800.00"
    # B line 1 (cisplatin + gemcitabine) 2025-04-01 … 2025-05-31: 1000 + 800 + 800 = 2600.00.
    # Line 2 (docetaxel, first dose 2025-06-08) from the billing month holding it, 2025-06-01,
    # to the month of its last dose (ends 2025-09-30): 610 + 300 + 800 + 610 + 610 + 300 =
    # 3230.00. June is in line 2 only: a month belongs to one line.
    b1, b2 = found[("appendix-b-nsclc", 1)], found[("appendix-b-nsclc", 2)]
    assert (b1["start"], b1["end"], b1["amount"]) == ("2025-04-01", "2025-05-31", "2600.00")
    assert (b2["start"], b2["end"], b2["amount"]) == ("2025-06-01", "2025-09-30", "3230.00")
    # (5800 + 2600 + 3230) / 3 = 3876.666… → 3876.67.
    assert out["overall"]["mean"] == "3876.67"
    groups = {(g["cancer"], g["line"]): g["count"] for g in out["groups"]}
    assert groups == {("colorectal", 1): 1, ("lung", 1): 1, ("lung", 2): 1}
    # Treatment only: B line 1 = 1600.00 (no New Patient).
    only = by_patient(report(capsys, two, "--period", "line", "--treatment-only"))
    assert only[("appendix-b-nsclc", 1)]["amount"] == "1600.00"


def test_open_episodes_are_left_out_and_counted(two: Path, capsys) -> None:
    code = main(["report", "episodes", str(two), "--as-of", "2025-08-15", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    # As of 2025-08-15 neither six-month window (to 2025-09-02, 2025-09-30) has ended.
    assert (out["episodes"], out["incomplete"]) == (0, 2)
    assert out["overall"]["mean"] is None and out["overall"]["count"] == 0


def test_from_to_select_by_the_episode_start(two: Path, capsys) -> None:
    out = report(capsys, two, "--from", "2025-03-15", "--to", "2025-12-31")
    assert [e["patient"] for e in out["list"]] == ["Patient/appendix-b-nsclc"]


def test_bad_dates_exit_2(two: Path, capsys) -> None:
    code = main(["report", "episodes", str(two), "--from", "2025-05-01", "--to", "2025-01-01"])
    assert code == 2 and "--from" in capsys.readouterr().err


def test_table_fits_80_columns(two: Path, capsys) -> None:
    data = report(capsys, two)
    table = episodes_table(data)
    assert "5815.00" in table
    assert max(len(line) for line in table.splitlines()) <= 80  # issue 17 item 6 (was 100)
    # --wide (width None): the same figures, the amounts 12 wide as before, no line wrapped
    wide = episodes_table(data, None)
    assert wide.split() == table.split() and "5815.00" in wide
    assert max(len(line) for line in wide.splitlines()) > 80


def test_stage_groups() -> None:
    assert [stage_group(s) for s in ("IIIB", "3B", "Stage IVA", "0", "I", "T2N0", "")] == [
        "III",
        "III",
        "IV",
        "0",
        "I",
        "T2N0",
        "unknown",
    ]


def test_add_months_keeps_the_day_or_the_month_end() -> None:
    assert add_months(date(2025, 3, 3), 6) == date(2025, 9, 3)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30))
def test_price_row_bounds(cents: list[int]) -> None:
    from cpoc_fhir.economics.episodes import Episode
    from cpoc_fhir.engine.components import Component
    from cpoc_fhir.engine.lines import BillingLine, LineStatus

    def episode(amount: Decimal) -> Episode:
        line = BillingLine(
            "xx204",
            Component.TREATMENT_MONTH,
            4,
            1,
            date(2025, 1, 1),
            date(2025, 1, 31),
            LineStatus.FINAL,
            amount,
            (),
            (),
        )
        return Episode("p", "lung", "IV", 1, date(2025, 1, 1), date(2025, 6, 30), True, (line,))

    row = price_row([episode(Decimal(c) / 100) for c in cents])
    # The mean lies between min and max; the count is the number of episodes.
    assert row["count"] == len(cents)
    assert Decimal(row["min"]) <= Decimal(row["mean"]) <= Decimal(row["max"])
    assert (row["sd"] is None) == (len(cents) < 2)
