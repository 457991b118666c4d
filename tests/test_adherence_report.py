"""`cpoc report adherence` on a generated practice whose answers the generator chose.

The generator (seeded) records orders through the real store (``PathwayLog``): per pathway a
chosen number of on- and off-pathway signed orders, deviations with and without a reason,
suggestions accepted (feedback on the order-select card or the order-sign card), plus orders
never signed, orders with no pathway or an undetermined one, and orders outside the period.
Expected figures come from the generator's own counts, never from the report.
"""

from __future__ import annotations

import csv
import io
import json
import random
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from cpoc_fhir.cli import main
from cpoc_fhir.reports.adherence import build_report, deviations_bundle, load_benchmarks
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.pathways import DecisionFeedback, PathwayDecision, PathwayLog

DATA = Path(__file__).parent / "data"
EXAMPLE = DATA / "adherence-benchmarks.toml"
YEAR = ("2025-01-01", "2025-12-31")
REASON_SYSTEM = "http://example.org/CodeSystem/pathway-override-reason"
REASONS = [
    ("patient-preference", "Patient preference"),
    ("comorbidity", "Comorbidity precludes the pathway regimen"),
    ("continuing-prior", "Continuing a regimen started elsewhere"),
]


@dataclass(frozen=True)
class Spec:
    """What the generator is told to produce for one pathway."""

    pathway_id: str
    cancer: str
    on: int
    off: int
    with_reason: int  # of the off-pathway orders
    accepted: int  # of the on-pathway orders: a suggestion accepted at order time


# Boundary cases against tests/data/adherence-benchmarks.toml (fractions are exact):
SPECS = [
    # 7/10 = 0.70 = mean 0.80 - sd 0.10 exactly: not "more than one SD below" → Appropriate
    Spec("nsclc-stage4-pdl1-high", "lung", 7, 3, 2, 2),
    # 17/20 = 0.85 = minimum_expected exactly → High
    Spec("breast-early-her2-pos", "breast", 17, 3, 3, 4),
    # 69/100 = 0.69, just below mean - sd = 0.70 → Low
    Spec("colon-adjuvant-stage3", "colorectal", 69, 31, 20, 5),
    # 21/25 = 0.84, just below the overall minimum_expected 0.85 (no own benchmark) → Appropriate
    Spec("prostate-mcrpc", "prostate", 21, 4, 1, 0),
]
NO_PATHWAY = {  # cancer → (no-pathway orders, undetermined orders, reasons to pick from)
    "sarcoma": (4, 1, ["no pathway for this histology", "rare tumour"]),
    "lung": (2, 3, ["stage not recorded", "PD-L1 result missing"]),
}


@dataclass
class Practice:
    specs: list[Spec]
    patient_ids: set[str] = field(default_factory=set)
    not_signed: int = 0
    not_signed_accepted: int = 0
    deviation_patients: Counter[str] = field(default_factory=Counter)
    no_pathway: dict[str, Counter[str]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


def generate(log: PathwayLog, seed: int = 20251103) -> Practice:
    """Record a year of orders whose counts are chosen here; return what was chosen."""
    rng = random.Random(seed)
    # 45 orders, so that all pathways together make 200 and the overall rate is a finite decimal
    on = rng.randint(20, 44)
    random_spec = Spec("dlbcl-line1", "lymphoma", on, 45 - on, 0, 0)
    random_spec = Spec(
        random_spec.pathway_id,
        random_spec.cancer,
        random_spec.on,
        random_spec.off,
        rng.randint(0, random_spec.off),
        rng.randint(0, random_spec.on // 3),
    )
    practice = Practice([*SPECS, random_spec])
    jobs: list[dict[str, Any]] = []
    for spec in practice.specs:
        for i in range(spec.on):
            jobs.append({"spec": spec, "status": "on-pathway", "accepted": i < spec.accepted})
        for i in range(spec.off):
            jobs.append({"spec": spec, "status": "off-pathway", "reason": i < spec.with_reason})
    for cancer, (none, undetermined, reasons) in NO_PATHWAY.items():
        counter = practice.no_pathway.setdefault(cancer, Counter())
        for i in range(none + undetermined):
            reason = reasons[i % len(reasons)]
            counter[reason] += 1
            jobs.append(
                {
                    "cancer": cancer,
                    "status": "no-pathway" if i < none else "undetermined",
                    "reasons": (reason,),
                }
            )
    rng.shuffle(jobs)
    for n, job in enumerate(jobs):
        _order(log, rng, practice, n, job)
    # Orders never signed (order-select only), one with a suggestion accepted.
    for n in range(5):
        key, patient = _key(practice, 10_000 + n)
        spec = practice.specs[n % len(practice.specs)]
        card = f"sel-{n}"
        log.record(_decision(spec, key, patient, "selected", _when(rng), "off-pathway", card))
        practice.not_signed += 1
        if n == 0:
            assert log.apply_feedback(card, DecisionFeedback("accepted", _when(rng)), ["s-1"])
            practice.not_signed_accepted += 1
    # Signed orders just outside the period, which must not count.
    for n, moment in enumerate(
        [datetime(2024, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, tzinfo=UTC)]
    ):
        key, patient = _key(practice, 20_000 + n)
        log.record(_decision(SPECS[0], key, patient, "signed", moment, "off-pathway", f"x{n}"))
    return practice


def _key(practice: Practice, n: int) -> tuple[str, str]:
    patient = f"pt{n:06d}zq"  # distinctive: searched for in the de-identified bundle
    practice.patient_ids.add(patient)
    return f"Patient/{patient}|MedicationRequest/mr-{n}-a,MedicationRequest/mr-{n}-b", patient


def _when(rng: random.Random) -> datetime:
    day = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
    return datetime(
        day.year, day.month, day.day, rng.randint(8, 16), rng.randint(0, 59), tzinfo=UTC
    )


def _decision(
    spec: Spec | None,
    key: str,
    patient: str,
    stage: str,
    when: datetime,
    status: str,
    card: str | None,
    **extra: Any,
) -> PathwayDecision:
    if spec is None:
        return PathwayDecision(key, patient, stage, status, when, card_uuid=card, **extra)
    return PathwayDecision(
        order_key=key,
        patient_id=patient,
        stage=stage,
        status=status,
        decided_at=when,
        hook_instance=str(uuid.uuid4()),
        card_uuid=card,
        pathway_id=spec.pathway_id,
        pathway_title=f"{spec.pathway_id} (title)",
        pathway_url=f"https://pathways.example.org/PlanDefinition/{spec.pathway_id}",
        pathway_version="2025.1",
        cancer=spec.cancer,
        regimen_id="off-regimen" if status == "off-pathway" else "on-regimen",
        regimen_name="Off regimen" if status == "off-pathway" else "On regimen",
        line_of_therapy=1,
        alternatives=("on-regimen", "other-on-regimen"),
        suggestion_uuids={"s-1": "on-regimen", "s-2": "other-on-regimen"},
    )


def _order(
    log: PathwayLog, rng: random.Random, practice: Practice, n: int, job: dict[str, Any]
) -> None:
    key, patient = _key(practice, n)
    when = _when(rng)
    spec: Spec | None = job.get("spec")
    status = job["status"]
    if spec is None:  # no pathway / undetermined
        extra = {"cancer": job["cancer"], "reasons": job["reasons"]}
        if rng.random() < 0.5:
            log.record(_decision(None, key, patient, "selected", when, status, None, **extra))
        log.record(
            _decision(
                None, key, patient, "signed", when + timedelta(minutes=3), status, None, **extra
            )
        )
        return
    select_card, sign_card = f"card-{n}-select", f"card-{n}-sign"
    with_select = rng.random() < 0.7
    if with_select:  # the clinician saw the card at order-select first
        log.record(_decision(spec, key, patient, "selected", when, "off-pathway", select_card))
    feedback: tuple[DecisionFeedback, list[str]] | None = None
    if job.get("accepted"):
        feedback = (DecisionFeedback("accepted", when + timedelta(minutes=1)), ["s-1"])
    elif status == "off-pathway" and job.get("reason"):
        code, display = rng.choice(REASONS)
        comment_only = rng.random() < 0.2
        comment = f"free text {n} mentions pt{n:06d}zq"  # PHI-like: must not reach the bundle
        practice.comments.append(comment)
        feedback = (
            DecisionFeedback(
                "overridden",
                when + timedelta(minutes=1),
                reason_system=None if comment_only else REASON_SYSTEM,
                reason_code=None if comment_only else code,
                reason_display=None if comment_only else display,
                comment=comment,
            ),
            [],
        )
    elif status == "off-pathway" and rng.random() < 0.5:  # overridden without any reason
        feedback = (DecisionFeedback("overridden", when + timedelta(minutes=1)), [])
    on_select = with_select and rng.random() < 0.5
    if feedback and on_select:  # feedback on the select card, before signing
        assert log.apply_feedback(select_card, *feedback)
    log.record(
        _decision(spec, key, patient, "signed", when + timedelta(minutes=5), status, sign_card)
    )
    if feedback and not on_select:
        card = select_card if with_select and rng.random() < 0.5 else sign_card
        assert log.apply_feedback(card, *feedback)  # the select card's feedback lands after signing
    if status == "off-pathway":
        practice.deviation_patients[patient] += 1


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def practice(url: str) -> Practice:
    with open_ledger(url) as ledger:
        return generate(PathwayLog(ledger))


def cli(url: str, *args: str) -> list[str]:
    return [
        "report",
        "adherence",
        "--from",
        YEAR[0],
        "--to",
        YEAR[1],
        "--tz",
        "UTC",
        "--store",
        url,
        *args,
    ]


def run_json(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(cli(url, "--format", "json", *args)) == 0
    return json.loads(capsys.readouterr().out)


def expected_rating(spec_on: int, spec_off: int, bench: dict[str, Any]) -> str:
    """The IV-A phase 2 rule on the generator's counts (exact fractions)."""
    rate = Fraction(spec_on, spec_on + spec_off)
    mean, sd, minimum = (Fraction(str(bench[k])) for k in ("mean", "sd", "minimum_expected"))
    if rate < mean - sd:
        return "Low"
    return "High" if rate >= minimum else "Appropriate"


# --- the report on the generated practice -------------------------------------------------------
def test_rates_and_counts_per_pathway_and_overall(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(url, capsys)
    by_id = {p["pathwayId"]: p for p in report["pathways"]}
    assert set(by_id) == {s.pathway_id for s in practice.specs}
    for spec in practice.specs:
        row = by_id[spec.pathway_id]
        assert row["assessed"] == spec.on + spec.off
        assert (row["onPathway"], row["offPathway"]) == (spec.on, spec.off)
        assert row["adherenceRate"] == round(spec.on / (spec.on + spec.off), 4)
        assert row["deviationsWithReason"] == spec.with_reason
        assert row["deviationsWithoutReason"] == spec.off - spec.with_reason
        assert row["suggestionsAccepted"] == spec.accepted
        assert row["cancer"] == spec.cancer
        assert row["versions"] == ["2025.1"]
        assert row["phase1"]["rating"] == "not rated"
        assert row["phase1"]["note"] == "no benchmark file"
    on = sum(s.on for s in practice.specs)
    assessed = sum(s.on + s.off for s in practice.specs)
    overall = report["overall"]
    assert (overall["onPathway"], overall["assessed"]) == (on, assessed)
    assert overall["adherenceRate"] == round(on / assessed, 4)
    assert report["notSigned"] == {
        "orders": practice.not_signed,
        "suggestionAccepted": practice.not_signed_accepted,
    }
    cancers = {c["cancer"]: c for c in report["noPathway"]}
    assert set(cancers) == set(NO_PATHWAY)
    for cancer, (none, undetermined, _reasons) in NO_PATHWAY.items():
        assert (cancers[cancer]["noPathway"], cancers[cancer]["undetermined"]) == (
            none,
            undetermined,
        )
        top = {r["reason"]: r["orders"] for r in cancers[cancer]["topReasons"]}
        assert top == dict(practice.no_pathway[cancer])
        assert cancers[cancer]["rating"]["rating"] == "Appropriate"


def test_ratings_at_the_boundaries_with_the_example_benchmarks(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(url, capsys, "--benchmarks", str(EXAMPLE))
    by_id = {p["pathwayId"]: p for p in report["pathways"]}
    phase2 = {pid: row["phase2"]["rating"] for pid, row in by_id.items()}
    assert phase2["nsclc-stage4-pdl1-high"] == "Appropriate"  # exactly mean - sd
    assert phase2["breast-early-her2-pos"] == "High"  # exactly minimum_expected
    assert phase2["colon-adjuvant-stage3"] == "Low"  # just below mean - sd
    assert phase2["prostate-mcrpc"] == "Appropriate"  # just below minimum_expected (overall)
    assert by_id["prostate-mcrpc"]["benchmark"]["source"] == "overall"
    assert by_id["colon-adjuvant-stage3"]["benchmark"]["source"] == "pathway"
    file = tomllib.loads(EXAMPLE.read_text())
    dlbcl = practice.specs[-1]
    assert phase2["dlbcl-line1"] == expected_rating(dlbcl.on, dlbcl.off, file["overall"])
    for spec in practice.specs:
        assert by_id[spec.pathway_id]["phase1"]["rating"] == "Appropriate"
    # listed available, never assessed: Low (not used) in both phases, and so overall
    unused = by_id["prostate-mcspc"]
    assert unused["assessed"] == 0 and unused["adherenceRate"] is None
    for phase in ("phase1", "phase2"):
        assert (unused[phase]["rating"], unused[phase]["note"]) == ("Low", "not used")
        assert report["overall"][phase]["rating"] == "Low"
        assert "prostate-mcspc" in report["overall"][phase]["why"]
    assert main(cli(url, "--benchmarks", str(EXAMPLE))) == 0
    table = capsys.readouterr().out
    assert "Low (not used)" in table
    assert "prostate-mcspc, phase 1: Low (not used) — listed as available" in table


def test_overall_phase_2_against_the_overall_benchmark(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    on = sum(s.on for s in practice.specs)
    assessed = sum(s.on + s.off for s in practice.specs)
    assert assessed == 200  # the generator's choice: the rate is a finite decimal
    rate = Decimal(on) / Decimal(assessed)
    tenth, cent = Decimal("0.1"), Decimal("0.005")
    cases = {  # overall benchmark (mean, sd, minimum_expected) → overall phase 2
        "exactly-mean-minus-sd": ((rate + tenth, tenth, Decimal("0.99")), "Appropriate"),
        "just-below-mean-minus-sd": ((rate + tenth + cent, tenth, Decimal("0.99")), "Low"),
        "exactly-minimum": ((rate, cent, rate), "High"),
        "just-below-minimum": ((rate, cent, rate + cent), "Appropriate"),
        # minimum_expected below mean - sd: a rate between the two is Low (Low wins)
        "overlap": ((rate + 2 * tenth, tenth, rate - tenth), "Low"),
    }
    for name, ((mean, sd, minimum), want) in cases.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(f"[overall]\nmean = {mean}\nsd = {sd}\nminimum_expected = {minimum}\n")
        report = run_json(url, capsys, "--benchmarks", str(path))
        assert report["overall"]["phase2"]["rating"] == want, name
        assert report["overall"]["phase1"]["rating"] == "Appropriate"
        # no own benchmark: every pathway is rated against [overall]
        assert {p["benchmark"]["source"] for p in report["pathways"]} == {"overall"}


def test_without_benchmark_file_nothing_is_rated(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(cli(url, "--phase", "2")) == 0
    table = capsys.readouterr().out
    assert "not rated (no benchmark file)" in table
    assert "phase 1" not in table and "phase 2" in table
    assert "benchmarks: none" in table
    assert (
        f"Not signed (order-select only, not signed as of this report): {practice.not_signed}"
        in table
    )


def test_csv_report_has_a_row_per_pathway_and_overall(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(cli(url, "--format", "csv", "--benchmarks", str(EXAMPLE), "--phase", "1")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["scope"] for r in rows].count("overall") == 1
    assert rows[-1]["scope"] == "overall"
    pathways = {r["pathway_id"]: r for r in rows if r["scope"] == "pathway"}
    assert set(pathways) == {s.pathway_id for s in practice.specs} | {"prostate-mcspc"}
    nsclc = pathways["nsclc-stage4-pdl1-high"]
    assert (nsclc["assessed"], nsclc["on_pathway"], nsclc["adherence_rate"]) == (
        "10",
        "7",
        "0.7000",
    )
    assert nsclc["benchmark_mean"] == "0.80"
    assert "phase2_rating" not in nsclc and nsclc["phase1_rating"] == "Appropriate"


def test_deviations_csv_lists_every_off_pathway_signed_order(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "deviations.csv"
    assert main(cli(url, "--deviations", str(out))) == 0
    assert (
        f"{sum(s.off for s in practice.specs)} deviations written to {out}"
        in capsys.readouterr().out
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == sum(s.off for s in practice.specs)
    assert Counter(r["patient_id"] for r in rows) == practice.deviation_patients
    for spec in practice.specs:
        mine = [r for r in rows if r["pathway_id"] == spec.pathway_id]
        assert len(mine) == spec.off
        no_reason = [r for r in mine if r["reason_display"] == "no reason given"]
        assert len(no_reason) == spec.off - spec.with_reason
    row = rows[0]
    assert row["regimen_id"] == "off-regimen" and row["line_of_therapy"] == "1"
    assert row["alternatives_offered"] == "on-regimen other-on-regimen"
    assert row["pathway_version"] == "2025.1"
    assert all("2025-01-01" <= r["date"] <= "2025-12-31" for r in rows)
    coded = [r for r in rows if r["reason_code"]]
    assert coded and all(r["reason_system"] == REASON_SYSTEM for r in coded)


def test_deviations_fhir_bundle_is_valid_r4_and_de_identified(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "deviations.json"
    assert main(cli(url, "--deviations", str(out), "--format", "csv")) == 0
    capsys.readouterr()
    text = out.read_text(encoding="utf-8")
    bundle = json.loads(text)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    entries = bundle["entry"]
    assert len(entries) == sum(s.off for s in practice.specs)
    for patient in practice.patient_ids:
        assert patient not in text
    assert "Patient/" not in text and "MedicationRequest" not in text
    assert "subject" not in text and "free text" not in text
    for entry in entries:
        resource = entry["resource"]
        GuidanceResponse.model_validate(resource)
        assert resource["status"] == "success"
        assert len(resource["occurrenceDateTime"]) == 7  # "2025-11": month precision
        assert resource["moduleCanonical"].endswith("|2025.1")
        notes = [n["text"] for n in resource["note"]]
        assert "Regimen given: Off regimen (off-regimen)" in notes
        assert "Line of therapy: 1" in notes
        assert "On-pathway alternatives offered: on-regimen, other-on-regimen" in notes
    reasons = Counter(e["resource"]["reasonCode"][0]["text"] for e in entries)
    without = sum(s.off - s.with_reason for s in practice.specs)
    assert reasons["no reason given"] == without
    coded = [e for e in entries if "coding" in e["resource"]["reasonCode"][0]]
    assert all(
        e["resource"]["reasonCode"][0]["coding"][0]["system"] == REASON_SYSTEM for e in coded
    )
    months = [e["resource"]["occurrenceDateTime"] for e in entries]
    assert months == sorted(months)  # sorted by month, not by time


# --- the pure report on hand-made decisions ---------------------------------------------------
def test_a_pathway_without_any_benchmark_is_not_rated_in_phase_2(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text('[pathways."other"]\nmean = 0.5\nsd = 0.1\nminimum_expected = 0.9\n')
    with open_ledger(f"sqlite:///{tmp_path}/s.sqlite") as ledger:
        log = PathwayLog(ledger)
        when = datetime(2025, 3, 3, 10, tzinfo=UTC)
        log.record(PathwayDecision("k1", "p1", "signed", "on-pathway", when, pathway_id="a"))
        decisions = log.decisions(date(2025, 1, 1), date(2025, 12, 31), UTC)
    report = build_report(decisions, date(2025, 1, 1), date(2025, 12, 31), load_benchmarks(path))
    (row,) = report.pathways
    assert (row.phase1.rating, row.phase2.label) == ("Appropriate", "not rated (no benchmark)")
    assert report.overall.phase2.label == "not rated (no benchmark)"


def test_a_json_benchmark_file_reads_as_its_toml_twin(tmp_path: Path) -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    twin = tmp_path / "benchmarks.json"
    twin.write_text(json.dumps(data))
    toml, js = load_benchmarks(EXAMPLE), load_benchmarks(twin)
    assert (js.overall, dict(js.pathways), js.available) == (
        toml.overall,
        dict(toml.pathways),
        toml.available,
    )
    assert toml.overall is not None and toml.overall.mean == Decimal("0.80")


def test_a_deviation_without_a_pathway_url_still_makes_a_valid_response(tmp_path: Path) -> None:
    when = datetime(2025, 6, 30, 23, 30, tzinfo=UTC)
    with open_ledger(f"sqlite:///{tmp_path}/s.sqlite") as ledger:
        log = PathwayLog(ledger)
        log.record(
            PathwayDecision(
                "k1", "p1", "signed", "off-pathway", when, card_uuid="c", pathway_id="a"
            )
        )
        decisions = log.decisions(date(2025, 1, 1), date(2025, 12, 31), UTC)
    report = build_report(decisions, date(2025, 1, 1), date(2025, 12, 31), None)
    bundle = deviations_bundle(report, ZoneInfo("Asia/Tokyo"))  # July 1st there
    (entry,) = bundle["entry"]
    resource = entry["resource"]
    GuidanceResponse.model_validate(resource)
    assert resource["occurrenceDateTime"] == "2025-07"
    assert resource["moduleCodeableConcept"] == {"text": "care pathway a"}
    assert resource["reasonCode"] == [{"text": "no reason given"}]
    assert "Regimen given: not identified in the regimen catalog" in json.dumps(resource)
    empty = deviations_bundle(build_report([], date(2025, 1, 1), date(2025, 1, 2), None), UTC)
    assert empty == {"resourceType": "Bundle", "type": "collection"}
    Bundle.model_validate(empty)


# --- bad input: one line naming the problem, exit 2, no traceback -----------------------------
@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (
            "[overall]\nmean = 80\nsd = 8\nminimum_expected = 85\n",
            ".toml",
            "overall.mean: must be a fraction between 0 and 1 (write 0.8, not 80)",
        ),
        ("[overall]\nmean = 0.8\nminimum_expected = 0.85\n", ".toml", "overall.sd: missing"),
        (
            '[pathways."x"]\nmean = 0.8\nsd = 0.1\nminimum = 0.85\n',
            ".toml",
            'pathways."x".minimum: unknown key',
        ),
        (
            "[overall]\nmean = 'high'\nsd = 0.1\nminimum_expected = 0.9\n",
            ".toml",
            "overall.mean: not a number: 'high'",
        ),
        (
            "[overall]\nmean = -0.1\nsd = 0.1\nminimum_expected = 0.9\n",
            ".toml",
            "overall.mean: must be a fraction between 0 and 1",
        ),
        ("available = 'x'\n", ".toml", "available: must be a list of pathway ids"),
        ("overal = 1\n", ".toml", "unknown key 'overal'"),
        ("", ".toml", "nothing to rate against"),
        ("[overall\n", ".toml", "not valid TOML"),
        ('{"overall": {"mean": 0.8, "sd": 0.1, ', ".json", "not valid JSON"),
        (
            '{"overall": {"mean": true, "sd": 0.1, "minimum_expected": 0.9}}',
            ".json",
            "overall.mean: not a number: True",
        ),
    ],
)
def test_invalid_benchmark_files_name_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"bench{suffix}"
    path.write_text(content)
    store = f"sqlite:///{tmp_path}/s.sqlite"
    assert main(cli(store, "--benchmarks", str(path))) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cpoc: {path}: ")
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "2025-12-01", "--to", "2025-01-01"],
            "cpoc: --from: 2025-12-01 is after --to 2025-01-01",
        ),
        (
            ["--from", "2025-01-01", "--to", "2025-01-01", "--benchmarks", "missing.toml"],
            "missing.toml: no such benchmark file",
        ),
        (
            ["--from", "2025-01-01", "--to", "2025-01-31", "--deviations", "out.txt"],
            "--deviations must end in .csv",
        ),
        (
            ["--from", "2025-01-01", "--to", "2025-01-31", "--tz", "Mars/Olympus"],
            "--tz: not a known time zone: 'Mars/Olympus'",
        ),
        (
            ["--from", "2025-01-01", "--to", "2025-01-31", "--store", "mysql://h/x"],
            "unsupported database 'mysql'",
        ),
        (
            ["--from", "2025-01-01", "--to", "2025-01-31", "--deviations", "no/such/dir/d.csv"],
            "no/such/dir/d.csv: cannot write",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CPOC_STORE_URL", f"sqlite:///{tmp_path}/s.sqlite")
    assert main(["report", "adherence", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "2025-13-01", "--to", "2025-12-31"],
        ["--from", "2025-01-01"],
        ["--from", "2025-01-01", "--to", "2025-12-31", "--phase", "3"],
        ["--from", "2025-01-01", "--to", "2025-12-31", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "adherence", *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "usage: cpoc report adherence" in err and "Traceback" not in err


def test_the_store_url_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/env.sqlite"
    with open_ledger(store) as ledger:
        PathwayLog(ledger).record(
            PathwayDecision(
                "k",
                "p9",
                "signed",
                "on-pathway",
                datetime(2025, 5, 5, 9, tzinfo=UTC),
                pathway_id="a",
            )
        )
    monkeypatch.setenv("CPOC_STORE_URL", store)
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "report",
                "adherence",
                "--from",
                "2025-05-05",
                "--to",
                "2025-05-05",
                "--tz",
                "UTC",
                "--format",
                "json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["assessed"] == 1
    assert not (tmp_path / "cpoc-ledger.sqlite").exists()


def test_the_table_fits_80_columns_and_wide_keeps_one_line_a_row(
    url: str, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 17 item 6: the default fits 80 columns (it was some 170 wide with benchmarks):
    # the counts, then each pathway's benchmark and ratings; --wide gives the one table.
    assert main(cli(url, "--benchmarks", str(EXAMPLE))) == 0
    fitted = capsys.readouterr().out
    assert max(len(line) for line in fitted.splitlines()) <= 80
    assert main(cli(url, "--benchmarks", str(EXAMPLE), "--wide")) == 0
    wide = capsys.readouterr().out
    header = next(line for line in wide.splitlines() if line.lstrip().startswith("pathway"))
    assert "accepted" in header and "benchmark mean/sd/min" in header and "phase 2" in header
    assert max(len(line) for line in wide.splitlines()) > 80
    # the same figures either way: a pathway's counts (id, then assessed … accepted) are the
    # wide row's without its cancer; and the fitted view names each pathway twice (counts,
    # then benchmark and ratings)
    for spec in practice.specs:
        start = f"  {spec.pathway_id} "
        (row,) = [line.split() for line in wide.splitlines() if line.startswith(start)]
        named = [line.split() for line in fitted.splitlines() if line.startswith(start)]
        assert len(named) == 2 and named[0] == [row[0], *row[2:9]]
        assert named[0][1] == str(spec.on + spec.off)  # assessed: the generator's own count
