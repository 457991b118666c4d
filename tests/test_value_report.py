"""``cpoc report value``: the pipeline (one pass, every collector fed), the JSON shape, the
table, the options. The measures, the ER collector and the ratings are the pipeline's
parameters; these tests use small ones of their own so that every figure is derived here."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.cli import build_parser, bundled_examples, main
from cpoc_fhir.errors import InputError
from cpoc_fhir.reports import value_cli
from cpoc_fhir.reports.benchmarks import example_benchmarks_path
from cpoc_fhir.reports.value_table import value_table
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.pathways import DecisionFeedback, PathwayDecision, PathwayLog
from cpoc_fhir.value.model import (
    DENOMINATOR,
    INITIAL_POPULATION,
    NUMERATOR,
    Contribution,
    ErBenchmarks,
    MeasureBenchmark,
    MeasureTally,
    PatientYear,
    Rating,
)
from cpoc_fhir.value.report import Phases, ValueComponents
from cpoc_fhir.value.settings import ValueSettings

EXAMPLES = bundled_examples()
# The bundled examples: four patients, each with CPOC lines (tests/test_examples.py).
EXAMPLE_PATIENTS = 4


@dataclass(frozen=True)
class LinesMeasure:
    """Test measure: every patient is in the denominator; in the numerator with ≥ 1 line."""

    id: str = "T1"
    title: str = "Patients with a CPOC line"
    improvement: str = "increase"
    unit: str = "patients"
    source: str = "test"

    def evaluate(self, py: PatientYear, settings: ValueSettings) -> Contribution:
        c = Contribution()
        case = f"Patient/{py.patient_id}"
        c.add(INITIAL_POPULATION, case, case)
        c.add(DENOMINATOR, case, case)
        if py.timeline.lines:
            c.add(NUMERATOR, case, *py.timeline.lines[0].evidence[:1])
        return c


@dataclass
class ErResult:
    patients: int
    risk_adjusted_rate: Decimal | None

    def as_json(self) -> dict[str, Any]:
        rate = None if self.risk_adjusted_rate is None else str(self.risk_adjusted_rate)
        return {
            "visits": 0,
            "weightedVisits": "0.0",
            "patientMonths": self.patients,
            "observedRate": rate,
            "expectedRate": rate,
            "riskAdjustedRate": rate,
            "quarters": [],
            "distance": {"known": 0, "unknown": self.patients},
            "patients": {},
        }


@dataclass
class CountingEr:
    """Test ER collector: counts the patient years it is given (each once)."""

    settings: ValueSettings
    benchmarks: ErBenchmarks | None
    seen: list[str] = field(default_factory=list)

    def add(self, py: PatientYear) -> None:
        self.seen.append(py.patient_id)

    def result(self) -> ErResult:
        return ErResult(len(self.seen), Decimal("5.0000"))


@dataclass(frozen=True)
class QualityResult:
    """Test quality rating, shaped as the pipeline reads one."""

    z: Mapping[str, Fraction | None]
    in_composite: Mapping[str, bool]
    composite: Fraction | None
    rating: Rating | None

    def z_json(self, measure_id: str) -> float | None:
        value = self.z.get(measure_id)
        return None if value is None else round(float(value), 4)

    @property
    def composite_json(self) -> float | None:
        return None if self.composite is None else round(float(self.composite), 4)


def rate_quality(
    tallies: Sequence[MeasureTally],
    measures: Sequence[Any],
    benchmarks: Mapping[str, MeasureBenchmark] | None,
    phase: int,
    submitting: bool,
    settings: ValueSettings,
) -> QualityResult:
    """z = (rate − mean) / sd; in the composite from the minimum denominator; rating high when
    submitting, else appropriate (IV-B phase 1)."""
    z: dict[str, Fraction | None] = {}
    inside = {t.id: t.denominator >= settings.minimum_denominator for t in tallies}
    for t in tallies:
        b = (benchmarks or {}).get(t.id)
        z[t.id] = (
            None if b is None or t.rate is None else (t.rate - Fraction(b.mean)) / Fraction(b.sd)
        )
    zs = [v for k, v in z.items() if v is not None and inside[k]]
    composite = sum(zs, Fraction(0)) / len(zs) if zs else None
    rating = None if benchmarks is None else (Rating.HIGH if submitting else Rating.APPROPRIATE)
    return QualityResult(z, inside, composite, rating)


def rate_er(rate: Any, prior: Any, bench: Any, phase: int, medical_home: bool) -> Rating | None:
    return None if bench is None else (Rating.HIGH if medical_home else Rating.APPROPRIATE)


def adjustment(year: int, ratings: tuple[Rating, Rating, Rating]) -> Decimal:
    return Decimal("0.005") * sum(r.score for r in ratings) * min(year, 7)


COMPONENTS = ValueComponents(
    measures=(LinesMeasure(),),
    er_collector=CountingEr,
    rate_quality=rate_quality,
    rate_er=rate_er,
    adjustment=adjustment,
)


def run_value(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    parsed = build_parser().parse_args(
        ["report", "value", "--store", f"sqlite:///{tmp_path}/s.sqlite", *args]
    )
    assert value_cli.run(parsed, UTC, COMPONENTS) == 0
    out = capsys.readouterr().out
    if "--format" in args and "json" in args and "--out" not in args:
        return dict(json.loads(out))
    return {"text": out}


BENCH = """
[benchmarks]
year = 2024
illustrative = true
source = "test figures"
[overall]
mean = 0.80
sd = 0.10
minimum_expected = 0.90
[quality.T1]
mean = 0.5
sd = 0.25
[er]
mean = 6.0
sd = 1.5
reference_rate = 6.0
"""


def test_without_benchmarks_the_measures_are_reported_and_nothing_is_rated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_value([str(EXAMPLES), "--year", "2025", "--format", "json"], tmp_path, capsys)
    assert set(report) == {
        "year", "participationYear", "asOf", "practice", "benchmarks", "phases", "patients",
        "measures", "quality", "er", "pathways", "ratings", "adjustment", "warnings",
    }  # fmt: skip
    assert (report["year"], report["participationYear"], report["asOf"]) == (2025, 1, "2025-12-31")
    assert report["benchmarks"] is None and report["ratings"] is None
    assert report["adjustment"] is None
    assert report["phases"] == {"pathways": 1, "quality": 1, "er": 1}
    (m,) = report["measures"]
    # every example patient has CPOC lines: 4/4, rate 1.0; under 10: not in the composite
    assert (m["denominator"], m["numerator"], m["exclusions"]) == (EXAMPLE_PATIENTS,) * 2 + (0,)
    assert (m["rate"], m["inComposite"], m["benchmark"], m["z"]) == (1.0, False, None, None)
    assert len(m["patients"]) == EXAMPLE_PATIENTS
    assert report["er"]["patientMonths"] == EXAMPLE_PATIENTS  # each patient fed once
    assert report["pathways"]["decisions"] == 0
    assert any("no benchmarks file" in w for w in report["warnings"])
    # the examples carry no Location: no practice position, said so
    assert report["practice"] == {"location": None}
    assert any("no Location" in w for w in report["warnings"])


def test_with_benchmarks_ratings_and_the_adjustment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text(BENCH)
    with open_ledger(f"sqlite:///{tmp_path}/s.sqlite") as ledger:
        log = PathwayLog(ledger)
        when = datetime(2025, 3, 3, tzinfo=UTC)
        for i in range(9):
            status = "on-pathway" if i < 8 else "off-pathway"
            log.record(
                PathwayDecision(
                    f"Patient/p{i}|MedicationRequest/m{i}", f"p{i}", "signed", status, when,
                    card_uuid=f"c{i}", pathway_id="nsclc-stage4-pdl1-high", cancer="lung",
                )
            )  # fmt: skip
        log.apply_feedback("c8", DecisionFeedback("overridden", when, reason_code="other"))
    report = run_value(
        [
            str(EXAMPLES), "--year", "2025", "--format", "json", "--benchmarks", str(bench),
            "--participation-year", "3", "--phase", "pathways=2,quality=2", "--medical-home",
        ],
        tmp_path,
        capsys,
    )  # fmt: skip
    assert report["benchmarks"] == {"year": 2024, "illustrative": True, "source": "test figures"}
    assert report["phases"] == {"pathways": 2, "quality": 2, "er": 1}
    (m,) = report["measures"]
    # rate 1.0 against mean 0.5, sd 0.25: z = (1.0 - 0.5) / 0.25 = 2.0
    assert m["benchmark"] == {"mean": "0.5", "sd": "0.25"} and m["z"] == 2.0
    # pathways: 8 on / 9 = 0.8889 (the deviation has a reason: used); lung is the only cancer
    # type: ≥ mean - sd 0.70, < minimum 0.90 → appropriate. Shipped pathways of other cancer
    # types with no decision make the practice low (not used).
    p = report["pathways"]
    assert (p["rate"], p["decisions"], p["onPathway"]) == ("0.8889", 9, 8)
    lung = next(c for c in p["byCancer"] if c["cancer"] == "lung")
    assert lung["rating"] == "appropriate" and lung["uses"] is True
    assert p["rating"] == "low"
    # ratings: pathways low (-1), quality high (submitting? no → appropriate 0), er high
    # (medical home, +1): sum 0 → 0.005 × 0 × 3 = 0
    assert report["ratings"] == {"pathways": "low", "quality": "appropriate", "er": "high"}
    assert Decimal(report["adjustment"]) == 0
    assert any("illustrative" in w for w in report["warnings"])


def test_the_table_fits_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text(BENCH)
    text = run_value(
        [str(EXAMPLES), "--year", "2025", "--benchmarks", str(bench)], tmp_path, capsys
    )["text"]
    assert "Value report 2025 as of 2025-12-31, participation year 1" in text
    assert "T1*" in text and "100.0%" in text and "+2.00" in text
    assert "Ratings: pathways low, quality appropriate, er appropriate" in text
    assert max(len(line) for line in text.splitlines()) <= 80  # issue 17 item 6 (was 100)
    wide = run_value(
        [str(EXAMPLES), "--year", "2025", "--benchmarks", str(bench), "--wide"], tmp_path, capsys
    )["text"]
    # --wide: every title whole (the fitted table cuts them with "…"), the same figures
    assert "T1*  Patients with a CPOC line  test" in wide
    assert "T1*  Patients with a…  test" in text  # cut to what 80 columns leave it
    assert "…" not in wide.split("Quality measures")[1].split("composite z")[0]


def test_out_file_and_as_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "value.json"
    run_value(
        [str(EXAMPLES), "--year", "2025", "--format", "json", "--as-of", "2025-06-30",
         "--out", str(out)],
        tmp_path,
        capsys,
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert report["asOf"] == "2025-06-30"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "2025"], "give an INPUT (file or folder) or --fhir-base URL"),
        (["X", "--fhir-base", "http://h/fhir", "--year", "2025"], "give an INPUT"),
        (["{ex}", "--year", "2025", "--phase", "quality=4"], "--phase: quality: phase 1 to 3"),
        (["{ex}", "--year", "2025", "--phase", "cost=1"], "--phase: unknown measure 'cost'"),
        (["{ex}", "--year", "2025", "--individual"], "--individual: goes with"),
        (["{ex}", "--year", "2025", "--as-of", "2024-12-31"], "--as-of: 2024-12-31 is before"),
        (["{ex}", "--year", "2025", "--benchmarks", "nope.toml"], "no such benchmark file"),
        (["{ex}", "--year", "2025", "--prior", "nope.json"], "no such value report"),
        (["{ex}", "--year", "2025", "--location", "nowhere"], "--location: no Location/nowhere"),
        (["{ex}", "--year", "2025", "--submit", "ftp://x"], "--submit: "),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    argv = [a.replace("{ex}", str(EXAMPLES)) for a in args]
    assert main(["report", "value", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_prior_report_gives_the_prior_er_rate(tmp_path: Path) -> None:
    from cpoc_fhir.value.report import prior_er_rate

    assert prior_er_rate({"er": {"riskAdjustedRate": "7.2500"}}, "p.json") == Decimal("7.2500")
    assert prior_er_rate({"er": {"riskAdjustedRate": None}}, "p.json") is None
    with pytest.raises(InputError, match=r"p\.json: er: missing"):
        prior_er_rate({"year": 2024}, "p.json")


def test_phases_parse() -> None:
    assert Phases.parse("pathways=2, er=2") == Phases(2, 1, 2)
    assert Phases.parse(None) == Phases()
    with pytest.raises(ValueError, match="er: phase 1 to 2"):
        Phases.parse("er=3")
    with pytest.raises(ValueError, match="quality: given twice"):
        Phases.parse("quality=1,quality=3")


TEXT = st.text(min_size=1, max_size=80)
RATE = st.one_of(st.none(), st.floats(min_value=0, max_value=1))


@settings(max_examples=100, deadline=None)
@given(
    titles=st.lists(TEXT, min_size=1, max_size=6),
    rate=RATE,
    cancers=st.lists(TEXT, max_size=5),
    warning=TEXT,
)
def test_the_table_never_exceeds_100_columns(
    titles: list[str], rate: float | None, cancers: list[str], warning: str
) -> None:
    report = {
        "year": 2025, "participationYear": 7, "asOf": "2025-12-31",
        "practice": {"location": "Location/" + "x" * 64},
        "benchmarks": {"year": 2024, "illustrative": True, "source": warning * 3},
        "phases": {"pathways": 2, "quality": 3, "er": 2},
        "measures": [
            {"id": f"Q{i}", "title": t, "source": t, "improvement": "decrease",
             "denominator": 10**6, "exclusions": 10**5, "numerator": 10**6, "rate": rate,
             "inComposite": False, "benchmark": {"mean": "0.1234", "sd": "0.0567"},
             "z": -12.3456}
            for i, t in enumerate(titles)
        ],
        "quality": {"composite": -1.2345, "submitting": True},
        "er": {"visits": 10**5, "weightedVisits": "12345.5", "patientMonths": 10**6,
               "observedRate": "12.3456", "expectedRate": "12.3456",
               "riskAdjustedRate": "12.3456",
               "quarters": [{"quarter": "2025-Q1", "visits": 1, "weightedVisits": "1.0",
                             "patientMonths": 3, "observedRate": None, "expectedRate": None,
                             "riskAdjustedRate": None}]},
        "pathways": {"rate": "0.8125", "decisions": 10**6, "onPathway": 1, "excludedTrial": 3,
                     "byCancer": [{"cancer": c, "rate": "1.0000", "decisions": 10**6,
                                   "deviations": 10**6, "withReason": 10**6, "uses": True,
                                   "rating": "appropriate"} for c in cancers],
                     "rating": "appropriate"},
        "ratings": {"pathways": "high", "quality": None, "er": "low"},
        "adjustment": "-0.0125",
        "warnings": [warning * 5],
    }  # fmt: skip
    # Seven-digit counts leave the titles and sources their least (12 columns together): such
    # a table may pass 80 a little, never 100; realistic figures fit 80 (the test above).
    text = value_table(report)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "Adjustment: -1.25% (-0.0125)" in text


# --- the real components, end to end on the bundled examples ---------------------------------
def test_the_bundled_examples_with_the_real_measures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    argv = ["report", "value", str(EXAMPLES), "--year", "2025", "--format", "json"]
    assert main([*argv, "--benchmarks", str(example_benchmarks_path())]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in report["measures"]] == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    # exposure (§12.3): the Treatment and Active Monitoring months starting in 2025 of
    # `cpoc timeline` (final or provisional)
    assert main(["timeline", str(EXAMPLES), "--as-of", "2025-12-31", "--format", "json"]) == 0
    timelines = json.loads(capsys.readouterr().out)["patients"]
    months = {
        (t["patient"], line["start"])
        for t in timelines
        for line in t["lines"]
        if line["component"] in ("treatment-month", "active-monitoring")
        and line["status"] in ("final", "provisional")
        and line["start"].startswith("2025-")
    }
    assert report["er"]["patientMonths"] == len(months) > 0
    # four patients, each under the minimum of 10 in every measure: no composite, and the
    # quality rating of phase 1 without a submission is appropriate (IV-B)
    assert all(not m["inComposite"] for m in report["measures"])
    assert report["quality"] == {"composite": None, "submitting": False, "minimumDenominator": 10}
    assert report["ratings"]["quality"] == "appropriate"
    # no ER visit in the examples: rate 0, more than 1 SD below the mean 6.0 → high (IV-C)
    assert report["er"]["visits"] == 0 and report["ratings"]["er"] == "high"
    # no decision in the store: the available pathways are not used → low (IV-A)
    assert report["ratings"]["pathways"] == "low"
    # low, appropriate, high: score 0 → the standard payment
    assert report["adjustment"] == "0"


def test_option_1_patients_billed_fee_for_service_are_counted_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """§14.3: with CPOC for lung cancer only, the bundled examples' colorectal patients
    (appendix-a-folfox, oral-capecitabine-trial) and declined-treatment (colorectal, no
    treatment) have no CPOC lines: 3 of the 4 are counted apart, and only the lung patient's
    months are ER exposure (hand-read from the four example records)."""
    config = tmp_path / "option1.toml"
    config.write_text('[rules]\ncpoc_cancer_types = ["lung"]\n', encoding="utf-8")
    report = run_value(
        [str(EXAMPLES), "--year", "2025", "--format", "json", "--config", str(config)],
        tmp_path,
        capsys,
    )
    assert report["patients"] == {"evaluated": 4, "feeForService": 3}
    assert set(report["er"]["patients"]) <= {"appendix-b-nsclc"}
    table = run_value([str(EXAMPLES), "--year", "2025", "--config", str(config)], tmp_path, capsys)
    assert "Patients: 4 (3 billed fee-for-service: not a CPOC cancer type, §14.3)" in table["text"]
