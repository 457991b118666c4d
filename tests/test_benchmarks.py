"""The benchmarks file (pathways, quality, ER: common shape of every value measure) and
``cpoc report benchmarks`` (mean, population SD, minimum expected level across practices)."""

from __future__ import annotations

import json
import statistics
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.cli import main
from cpoc_fhir.errors import InputError
from cpoc_fhir.reports.benchmarks import example_benchmarks_path, load_benchmarks
from cpoc_fhir.reports.benchmarks_cli import mean, percentile, population_sd
from cpoc_fhir.value.model import DistanceBand, MeasureBenchmark

ADHERENCE_FILE = Path(__file__).parent / "data" / "adherence-benchmarks.toml"


def test_the_shipped_example_fills_every_section_and_says_it_is_illustrative() -> None:
    b = load_benchmarks(example_benchmarks_path())
    assert b.illustrative is True and b.year == 2024
    assert "illustrative" in b.source and "made-up" in b.source
    assert b.overall is not None and b.overall.minimum_expected == Decimal("0.85")
    assert set(b.quality) == {"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"}
    assert b.quality["Q4"] == MeasureBenchmark(Decimal("0.10"), Decimal("0.05"))
    assert b.er is not None and b.er.reference_rate == Decimal("6.0")
    assert b.er.comorbidity == {0: Decimal("1.0"), 1: Decimal("1.15"), 2: Decimal("1.3")}
    assert b.er.toxicity == {0: Decimal("1.0"), 2: Decimal("1.2"), 4: Decimal("1.5")}
    assert b.er.distance == (
        DistanceBand(Decimal(25), Decimal("1.0")),
        DistanceBand(Decimal(75), Decimal("1.1")),
        DistanceBand(None, Decimal("1.25")),
    )
    assert "nsclc-stage4-pdl1-high" in b.available
    assert b.header_json() == {"year": 2024, "illustrative": True, "source": b.source}


def test_an_adherence_file_without_header_stays_valid() -> None:
    b = load_benchmarks(ADHERENCE_FILE)
    assert (b.year, b.illustrative, b.quality, b.er) == (None, False, {}, None)
    assert b.source == str(ADHERENCE_FILE) == b.where
    assert len(b.available) == 6 and b.overall is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[benchmarks]\nyear = 'last'\n[overall]\n", "benchmarks.year: must be a year"),
        ("[benchmarks]\nillustrative = 1\n[quality.Q1]\nmean=0.5\nsd=0.1\n", "illustrative"),
        ("[benchmarks]\nowner = 'x'\n", "benchmarks.owner: unknown key"),
        ("[quality.Q1]\nmean = 85\nsd = 0.1\n", "quality.Q1.mean: must be a fraction"),
        ("[quality.Q1]\nmean = 0.85\n", "quality.Q1.sd: missing"),
        ("[quality.Q1]\nmean = 0.85\nsd = 0.1\nmin = 0.9\n", "quality.Q1.min: unknown key"),
        ("[er]\nmean = 6\nsd = 1\n", "er.reference_rate: missing"),
        ("[er]\nmean = -6\nsd = 1\nreference_rate = 6\n", "er.mean: must be 0 or more"),
        ("[er]\nmean = 6\nsd = 1\nreference_rate = 0\n", "er.reference_rate: must be more than 0"),
        (
            "[er]\nmean = 6\nsd = 1\nreference_rate = 6\n[er.factors.comorbidity]\nx = 1.0\n",
            "er.factors.comorbidity.x: a key is a whole number of points",
        ),
        (
            "[er]\nmean = 6\nsd = 1\nreference_rate = 6\n[er.factors.age]\n",
            "er.factors.age: unknown key",
        ),
        (
            '[er]\nmean = 6\nsd = 1\nreference_rate = 6\n[er.factors.toxicity]\n"2" = 0\n',
            'er.factors.toxicity."2": must be more than 0',
        ),
        (
            "[er]\nmean=6\nsd=1\nreference_rate=6\n[[er.distance]]\nfactor=1\n"
            "[[er.distance]]\nmax_km=5\nfactor=1\n",
            "er.distance[0].max_km: only the last band may omit max_km",
        ),
        (
            "[er]\nmean=6\nsd=1\nreference_rate=6\n[[er.distance]]\nmax_km=50\nfactor=1\n"
            "[[er.distance]]\nmax_km=25\nfactor=1\n",
            "er.distance[1].max_km: bands go in increasing max_km",
        ),
        ("[er]\nmean=6\nsd=1\nreference_rate=6\ndistance = 5\n", "er.distance: must be a list"),
        ("quality = 3\n", "quality: must be a table"),
    ],
)
def test_a_bad_file_names_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.toml"
    path.write_text(content)
    with pytest.raises(InputError) as raised:
        load_benchmarks(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


# --- cpoc report benchmarks ------------------------------------------------------------------
def value_report(
    year: int, q1: float | None, pathways: str | None, er: str | None, months: int
) -> dict[str, Any]:
    return {
        "year": year,
        "measures": [
            {"id": "Q1", "rate": q1, "inComposite": q1 is not None},
            {"id": "Q4", "rate": 0.5, "inComposite": False},  # under the minimum: left out
        ],
        "pathways": {"rate": pathways},
        "er": {
            "riskAdjustedRate": er,
            "weightedVisits": "3.0" if er else "0",
            "patientMonths": months,
        },
    }


def write_reports(tmp_path: Path, reports: list[dict[str, Any]]) -> list[str]:
    paths = []
    for i, r in enumerate(reports):
        path = tmp_path / f"practice{i}.json"
        path.write_text(json.dumps(r))
        paths.append(str(path))
    return paths


def test_benchmarks_from_three_practices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_reports(
        tmp_path,
        [
            value_report(2025, 0.8, "0.7000", "5.0000", 50),
            value_report(2025, 0.9, "0.8000", "6.0000", 100),
            value_report(2025, None, "0.9000", None, 0),
            value_report(2024, 0.1, "0.1000", "1.0000", 10),  # another year: --year leaves it
        ],
    )
    out = tmp_path / "next.toml"
    argv = ["report", "benchmarks", *paths, "--year", "2025", "--out", str(out)]
    argv += ["--factors", str(example_benchmarks_path())]
    assert main(argv) == 0
    assert "benchmarks of 2025 from 3 practices" in capsys.readouterr().out
    b = load_benchmarks(out)
    assert b.year == 2025 and b.illustrative is False
    # pathways 0.7, 0.8, 0.9: mean 0.8; population SD sqrt(((0.1)² + 0 + (0.1)²) / 3) = 0.0816;
    # 75th percentile: rank (3 − 1) × 0.75 = 1.5 → 0.8 + 0.5 × (0.9 − 0.8) = 0.85
    assert b.overall is not None
    assert (b.overall.mean, b.overall.sd) == (Decimal("0.8000"), Decimal("0.0816"))
    assert b.overall.minimum_expected == Decimal("0.8500")
    # Q1 of the two practices with it in the composite: 0.8, 0.9 → mean 0.85, SD 0.05; Q4 was
    # never in a composite: no benchmark
    assert b.quality == {"Q1": MeasureBenchmark(Decimal("0.8500"), Decimal("0.0500"))}
    # ER: 5 and 6 → mean 5.5, SD 0.5; reference = pooled observed (3 + 3) / (50 + 100) × 100
    # = 4.0; the factors and bands carried over from the example file
    assert b.er is not None
    assert (b.er.mean, b.er.sd, b.er.reference_rate) == (
        Decimal("5.5000"),
        Decimal("0.5000"),
        Decimal("4.0000"),
    )
    example = load_benchmarks(example_benchmarks_path())
    assert example.er is not None
    assert b.er.performance == example.er.performance
    assert b.er.distance == example.er.distance
    assert b.available == example.available


def test_percentile_is_a_flag_and_the_file_can_be_marked_illustrative(tmp_path: Path) -> None:
    paths = write_reports(
        tmp_path, [value_report(2025, 0.8, f"0.{r}000", None, 0) for r in (6, 7, 8, 9)]
    )
    out = tmp_path / "next.toml"
    argv = ["report", "benchmarks", *paths, "--out", str(out), "--minimum-percentile", "50"]
    assert main([*argv, "--illustrative", "--source", "test practices"]) == 0
    b = load_benchmarks(out)
    # median of 0.6, 0.7, 0.8, 0.9: rank 1.5 → 0.75; no ER rates: no [er]; no factors: none
    assert b.overall is not None and b.overall.minimum_expected == Decimal("0.7500")
    assert b.er is None and b.illustrative and b.source == "test practices"


@pytest.mark.parametrize(
    ("reports", "args", "message"),
    [
        ([value_report(2025, 0.8, None, None, 0), value_report(2024, 0.8, None, None, 0)],
         [], "year 2024, the others 2025 (choose one: --year)"),
        ([value_report(2025, 0.8, None, None, 0)], ["--year", "2023"], "no value report of"),
        ([{"measures": []}], [], "not a value report"),
        ([{**value_report(2025, 0.8, "high", None, 0)}], [], "pathways.rate: not a number"),
    ],
)  # fmt: skip
def test_bad_reports_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    reports: list[dict[str, Any]],
    args: list[str],
    message: str,
) -> None:
    paths = write_reports(tmp_path, reports)
    assert main(["report", "benchmarks", *paths, "--out", str(tmp_path / "o.toml"), *args]) == 2
    assert message in capsys.readouterr().err


RATES = st.lists(
    st.decimals(min_value=0, max_value=1, places=4, allow_nan=False), min_size=1, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(RATES, st.integers(min_value=0, max_value=100))
def test_statistics_agree_with_the_standard_library(values: list[Decimal], p: int) -> None:
    floats = [float(v) for v in values]
    assert float(mean(values)) == pytest.approx(statistics.fmean(floats), abs=1e-9)
    assert float(population_sd(values)) == pytest.approx(statistics.pstdev(floats), abs=1e-9)
    q = percentile(values, p)
    assert min(values) <= q <= max(values)
    if len(values) > 1 and 0 < p < 100:
        # statistics.quantiles "inclusive" is the same linear rule at the n-1 cut points
        n = 100
        cuts = statistics.quantiles(floats, n=n, method="inclusive")
        assert float(q) == pytest.approx(cuts[p - 1], abs=1e-9)
