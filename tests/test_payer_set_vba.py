"""Writing the next year's value-based adjustment into a new payer file version (§12.4), and
billing with it: the engine, offline capture and an order-sign card price a line of year Y+1
with the new adjustment and a line of year Y without it."""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cds_support import clock_at, full_prefetch, hook_body, medication_order, record_on
from factories import cancer, cycles, ecog, record, visit
from test_capture_offline import export, items, run

from cds_hooks.app import create_app
from cds_hooks.settings import CdsSettings
from cpoc_fhir.cli import main
from cpoc_fhir.config import EXAMPLE_PAYER, Config, load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.payer_file import set_vba, set_vba_from_value, write_payer

EXAMPLE = Path(__file__).resolve().parents[1] / "cpoc_fhir" / "knowledge" / "data" / EXAMPLE_PAYER
TODAY = date(2026, 1, 5)
FOLFOX = ("oxaliplatin", "leucovorin", "fluorouracil")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the shipped example (2025 and 2026, base 1000, GPCI 1, no adjustment)."""
    path = tmp_path / "payer-v1.toml"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


@pytest.fixture
def with_vba(example: Path, tmp_path: Path) -> Path:
    """The example with +1.5 % written for 2026."""
    out, _ = set_vba(example, 2026, Decimal("0.015"), tmp_path / "payer-v2.toml", today=TODAY)
    return out


# --- the new file --------------------------------------------------------------------------
def test_writes_a_new_version_and_leaves_the_input_and_old_years(
    example: Path, tmp_path: Path
) -> None:
    before = example.read_bytes()
    out, change = set_vba(example, 2026, Decimal("0.015"), tmp_path / "v2.toml", today=TODAY)
    assert change == "years.2026.value_based_adjustment: 0.00 → 0.015"
    assert example.read_bytes() == before
    old = tomllib.loads(before.decode())
    new = tomllib.loads(out.read_text(encoding="utf-8"))
    assert new["payer"]["version"] == 2
    assert new["years"]["2025"] == old["years"]["2025"]  # old years untouched
    assert new["years"]["2026"] == {"inflation_update": "0", "value_based_adjustment": "0.015"}
    assert new["codes"] == old["codes"]
    assert new["history"] == [
        {
            "version": 2,
            "date": "2026-01-05",
            "change": "years.2026.value_based_adjustment: 0.00 → 0.015",
            "source": "given on the command line",
            "from": "payer-v1.toml version 1",
        }
    ]
    # comments and layout are kept: the new text is the old one plus the three changes
    text = out.read_text(encoding="utf-8")
    assert text.startswith(before.decode().split("[payer]")[0])
    assert "ILLUSTRATIVE PAYER FILE" in text


def test_a_new_year_takes_the_inflation_update(example: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Medicare Economic Index for 2027 is not known"):
        set_vba(example, 2027, Decimal("0.01"), tmp_path / "v2.toml")
    assert not (tmp_path / "v2.toml").exists()  # nothing written on a refusal
    out, change = set_vba(
        example, 2027, Decimal("0.01"), tmp_path / "v2.toml", inflation_update=Decimal("0.02")
    )
    assert change.endswith("; years.2027.inflation_update 0.02")
    payer = load_payer(out)
    # 2027: 1000 × 1.02 = 1020; xx100 × 1.01 = 1030.20. 2026 unchanged: 1000.00
    assert payer.amount("xx100", date(2027, 1, 1)) == Decimal("1030.20")
    assert payer.amount("xx100", date(2026, 12, 31)) == Decimal("1000.00")
    # a second version on top of it: history grows, version 3
    v3, _ = set_vba(out, 2027, Decimal("0.02"), tmp_path / "v3.toml", today=TODAY)
    data = tomllib.loads(v3.read_text(encoding="utf-8"))
    assert data["payer"]["version"] == 3
    assert [h["version"] for h in data["history"]] == [2, 3]
    assert data["history"][1]["change"] == "years.2027.value_based_adjustment: 0.01 → 0.02"
    with pytest.raises(InputError, match="already in"):
        set_vba(out, 2027, Decimal("0.02"), tmp_path / "v4.toml", inflation_update=Decimal("0"))


def test_a_one_year_file_is_split_into_years(tmp_path: Path) -> None:
    flat = tmp_path / "flat.toml"
    flat.write_text(
        '[payer]\nid = "p"\nname = "P"\nyear = 2025\nnew_patient_amount = "1000.00"\n'
        'gpci = "1.05"\nvalue_based_adjustment = "0.01"\n',
        encoding="utf-8",
    )
    out, change = set_vba(flat, 2026, Decimal("0.03"), tmp_path / "v2.toml", today=TODAY)
    assert change == (
        "years.2026.value_based_adjustment: 0.01 (one-year file) → 0.03 "
        "(one-year file split into years 2025 and 2026)"
    )
    old, new = load_payer(flat), load_payer(out)
    # 2025 and every earlier date keep the one-year figures: 1000 × 1.05 × 1.01 = 1060.50
    for day in (date(2019, 5, 1), date(2025, 12, 31)):
        assert new.amount("xx100", day) == old.amount("xx100", day) == Decimal("1060.50")
    # 2026: the same base and GPCI, the new adjustment: 1000 × 1.05 × 1.03 = 1081.50
    assert new.amount("xx100", date(2026, 1, 1)) == Decimal("1081.50")
    assert "year" not in tomllib.loads(out.read_text(encoding="utf-8"))["payer"]


def test_json_payer_files_stay_json(tmp_path: Path) -> None:
    src = tmp_path / "payer.json"
    data = {"payer": {"id": "p", "name": "P"}, "years": {"2025": {"new_patient_amount": 1000.00}}}
    src.write_text(json.dumps(data), encoding="utf-8")
    out, _ = set_vba(
        src, 2026, Decimal("-0.005"), tmp_path / "v2.json", None, Decimal("0"), today=TODAY
    )
    new = json.loads(out.read_text(encoding="utf-8"))
    assert new["years"]["2026"] == {"inflation_update": "0", "value_based_adjustment": "-0.005"}
    assert new["payer"]["version"] == 2 and len(new["history"]) == 1
    assert load_payer(out).amount("xx100", date(2026, 3, 1)) == Decimal("995.00")


@pytest.mark.parametrize(
    ("out_name", "message"),
    [
        ("payer-v1.toml", "is the input payer file"),
        ("exists.toml", "exists: a new payer file version needs a new name"),
        ("v2.json", "must have the input's format"),
    ],
)
def test_refuses_to_overwrite(example: Path, tmp_path: Path, out_name: str, message: str) -> None:
    (tmp_path / "exists.toml").write_text("keep", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        set_vba(example, 2026, Decimal("0.01"), tmp_path / out_name)
    assert (tmp_path / "exists.toml").read_text(encoding="utf-8") == "keep"


def value_report(path: Path, year: int, adjustment: str | None) -> Path:
    report = {
        "year": year,
        "participationYear": 3,
        "asOf": f"{year}-12-31",
        "adjustment": adjustment,
    }
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_from_a_value_report(example: Path, tmp_path: Path) -> None:
    report = value_report(tmp_path / "value-2025.json", 2025, "0.015")
    out, _ = set_vba_from_value(example, 2026, report, tmp_path / "v2.toml", today=TODAY)
    [entry] = tomllib.loads(out.read_text(encoding="utf-8"))["history"]
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    assert entry["source"] == (
        "value report value-2025.json (performance year 2025, participation year 3, as of "
        f"2025-12-31, sha256 {digest})"
    )
    assert load_payer(out).amount("xx203", date(2026, 1, 1)) == Decimal("619.15")


def test_the_value_report_writes_the_next_year(example: Path, tmp_path: Path) -> None:
    report = {"year": 2025, "participationYear": 2, "asOf": "2025-12-31", "adjustment": "-0.005"}
    out, change = write_payer(example, report, tmp_path / "v2.toml", today=TODAY)
    assert change == "years.2026.value_based_adjustment: 0.00 → -0.005"
    [entry] = tomllib.loads(out.read_text(encoding="utf-8"))["history"]
    assert entry["source"].startswith(
        "value report cpoc report value (performance year 2025, participation year 2, as of "
        "2025-12-31, sha256 "
    )
    assert load_payer(out).amount("xx100", date(2026, 1, 1)) == Decimal("995.00")
    with pytest.raises(InputError, match="no performance year"):
        write_payer(example, {"adjustment": "0"}, tmp_path / "v3.toml")


def test_fhir_resources_publish_the_new_years_price(
    with_vba: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "resources"
    assert main(["fhir-resources", "--payer", str(with_vba), "--out", str(out)]) == 0
    capsys.readouterr()
    text = (out / "ChargeItemDefinition-cpoc-xx203.json").read_text(encoding="utf-8")
    definition = json.loads(text, parse_float=Decimal)
    g2025, g2026 = definition["propertyGroup"]
    vba = {c["code"]["coding"][0]["code"]: c for c in g2026["priceComponent"]}
    # 2026: 610.00 base, GPCI 1, × 1.015 = 619.15: the adjustment component is +9.15
    assert vba["value-based-adjustment"]["factor"] == Decimal("1.015")
    assert vba["value-based-adjustment"]["amount"]["value"] == Decimal("9.15")
    assert g2025["priceComponent"][2]["factor"] == Decimal("1.00")
    assert "@2026-01-01" in g2026["applicability"][0]["expression"]


@pytest.mark.parametrize(
    ("year", "adjustment", "message"),
    [
        (2024, "0.015", "performance year 2024: it sets the adjustment of 2025, not 2026"),
        (2025, None, "adjustment is null"),
        (2025, "1.5%", "not a decimal"),
    ],
)
def test_from_a_value_report_refusals(
    example: Path, tmp_path: Path, year: int, adjustment: str | None, message: str
) -> None:
    report = value_report(tmp_path / "value.json", year, adjustment)
    with pytest.raises(InputError, match=message):
        set_vba_from_value(example, 2026, report, tmp_path / "v2.toml")


def test_cli_set_vba(example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v2.toml"
    argv = ["payer", "set-vba", "--payer", str(example), "--year", "2026"]
    assert main([*argv, "--adjustment", "0.015", "--out", str(out)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out}: years.2026.value_based_adjustment: 0.00 → 0.015\n"
    )
    assert main([*argv, "--adjustment", "0.015", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    report = value_report(tmp_path / "value.json", 2025, "-0.01")
    assert main([*argv, "--from-value", str(report), "--out", str(tmp_path / "v3.toml")]) == 0
    assert load_payer(tmp_path / "v3.toml").vba == Decimal(0)  # 2025 (the first year) untouched
    with pytest.raises(SystemExit):
        main([*argv, "--adjustment", "2", "--out", str(tmp_path / "v4.toml")])
    assert "between -1 and 1" in capsys.readouterr().err


# --- billing with it -----------------------------------------------------------------------
def test_engine_bills_jan_1_with_the_new_vba_and_dec_31_without(with_vba: Path) -> None:
    # New Patient visit 2025-12-31 (its line is dated on the visit), FOLFOX from 2026-01-01:
    # Treatment Month 1 starts 2026-01-01 (C 0, P 0 with ECOG 1, T 4, D 3 ... → xx204 in the
    # engine's own scoring; the level is not what this test is about).
    facts = {
        "diagnoses": [cancer("C18.7", "2025-12-01")],
        "exposures": cycles(FOLFOX, "2026-01-01", 14, 2),
        "visits": [visit("2025-12-31")],
        "performance": [ecog("2025-12-31", 1)],
    }
    payer = load_payer(with_vba)
    timeline = evaluate(record(**facts), load_knowledge(), RuleSettings(), payer, date(2026, 1, 20))
    by_start = {(line.code, line.start): line.amount for line in timeline.lines}
    # 2025 has no adjustment: xx100 = 1000.00. 2026: +1.5 %, xx204 = 800 × 1.015 = 812.00
    assert by_start[("xx100", date(2025, 12, 31))] == Decimal("1000.00")
    assert by_start[("xx204", date(2026, 1, 1))] == Decimal("812.00")
    # the input file still bills both without it
    old = evaluate(
        record(**facts), load_knowledge(), RuleSettings(), load_payer(None), date(2026, 1, 20)
    )
    assert {(line.code, line.amount) for line in old.lines} >= {
        ("xx100", Decimal("1000.00")),
        ("xx204", Decimal("800.00")),
    }


def test_offline_capture_uses_the_same_amounts(
    with_vba: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = export(tmp_path / "in")
    dec, jan = tmp_path / "dec", tmp_path / "jan"
    for out, month, as_of in ((dec, "2025-12", "2026-01-05"), (jan, "2026-01", "2026-02-05")):
        args = ("--ndjson", str(source), "--out", str(out), "--month", month, "--as-of", as_of)
        assert run(tmp_path, *args, "--payer", str(with_vba)) == 0
    capsys.readouterr()
    # Hand-derived from the timelines (README's examples): in both months appendix-a-folfox is
    # in Active Monitoring level 2 (xx302, 10 % of 1000) and declined-treatment level 3 (xx303,
    # 25 %). December 2025: no adjustment; January 2026: × 1.015.
    december, january = items(dec), items(jan)
    price = {k: v["priceOverride"]["value"] for k, v in (december | january).items()}
    assert price["appendix-a-folfox.active-monitoring.2025-12-03"] == 100.00
    assert price["appendix-a-folfox.active-monitoring.2026-01-03"] == 101.50
    assert price["declined-treatment.active-monitoring.2025-12-12"] == 250.00
    assert price["declined-treatment.active-monitoring.2026-01-12"] == 253.75


def _sign(tmp_path: Path, payer_file: Path, day: str) -> dict[str, Any]:
    name = "appendix-a-folfox"
    drafts = [
        medication_order("iri", name, "51499", "irinotecan", day),
        medication_order("lv", name, "6313", "leucovorin", day),
        medication_order("fu", name, "4492", "fluorouracil", day),
    ]
    config = {
        "CDS_SETTINGS": CdsSettings(
            auth_enabled=False, store_url=f"sqlite:///{tmp_path}/cds-{day}.sqlite"
        ),
        "CPOC_CONFIG": Config(rules=RuleSettings(), payer_file=payer_file),
        "CLOCK": clock_at(day),
        "TESTING": True,
    }
    body = hook_body("order-sign", name, drafts, full_prefetch(record_on(name, day), name))
    response = create_app(config).test_client().post("/cds-services/cpoc-order-sign", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_order_sign_card_charges_the_same_amounts(with_vba: Path, tmp_path: Path) -> None:
    # FOLFIRI signed in the month starting 2025-12-03, then in the one starting 2026-01-03:
    # each turns its Active Monitoring month into a Treatment Month, xx203 (as in
    # test_cds_orders: C 0, P 0, T 4, D 3 = 7 → level 3, 61 % of 1000 = 610.00).
    dec = _sign(tmp_path, with_vba, "2025-12-05")
    jan = _sign(tmp_path, with_vba, "2026-01-05")

    def charge(answer: dict[str, Any]) -> tuple[str, float]:
        (action,) = answer["systemActions"]
        item = action["resource"]
        return item["code"]["coding"][0]["code"], item["priceOverride"]["value"]

    assert charge(dec) == ("xx203", 610.00)  # 2025: no adjustment
    assert charge(jan) == ("xx203", 619.15)  # 2026: 610 × 1.015 = 619.15


# --- cpoc report value … --payer FILE --write-payer NEW_FILE --------------------------------
def _real_components() -> Any:
    """The measures, the ER collector, the ratings and the adjustment of this build."""
    from cpoc_fhir.value.adjustment import adjustment
    from cpoc_fhir.value.er import ErCollector
    from cpoc_fhir.value.quality import QUALITY_MEASURES
    from cpoc_fhir.value.ratings import rate_er, rate_quality
    from cpoc_fhir.value.report import ValueComponents

    return ValueComponents(QUALITY_MEASURES, ErCollector, rate_quality, rate_er, adjustment)


BENCHMARKS = EXAMPLE.parent / "benchmarks-example.toml"


def test_the_value_report_writes_the_next_years_payer_file(
    example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC

    from cpoc_fhir.cli import build_parser, bundled_examples
    from cpoc_fhir.reports import value_cli

    out = tmp_path / "payer-v2.toml"
    argv = [
        "report", "value", str(bundled_examples()), "--year", "2025", "--format", "json",
        "--benchmarks", str(BENCHMARKS), "--participation-year", "3", "--medical-home",
        "--measure-reports", str(tmp_path / "mr"), "--store", f"sqlite:///{tmp_path}/s.sqlite",
        "--payer", str(example), "--write-payer", str(out),
    ]  # fmt: skip
    # The shipped benchmarks are illustrative: an adjustment rated against them is an example
    # and is not written into a payer file unless asked for, and nothing is written then.
    with pytest.raises(InputError, match="ILLUSTRATIVE benchmarks"):
        value_cli.run(build_parser().parse_args(argv), UTC, _real_components())
    assert not out.exists()
    capsys.readouterr()
    argv.append("--accept-illustrative")
    assert value_cli.run(build_parser().parse_args(argv), UTC, _real_components()) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    # Phase 1 everywhere: quality submitting (MeasureReports written) → high; ER medical home
    # → high; pathways: shipped pathways with no decision in the year → low (not used).
    # +1 + 1 − 1 = +1 → the "high on two, low on one" row, participation year 3: +1.5 %.
    assert report["ratings"] == {"pathways": "low", "quality": "high", "er": "high"}
    assert report["adjustment"] == "0.015"
    assert captured.err.startswith(f"wrote {out}: years.2026.value_based_adjustment: 0.00 → 0.015")
    payer = load_payer(out)
    assert payer.amount("xx203", date(2026, 1, 1)) == Decimal("619.15")
    assert payer.amount("xx203", date(2025, 12, 31)) == Decimal("610.00")
    [entry] = tomllib.loads(out.read_text(encoding="utf-8"))["history"]
    assert entry["source"].startswith("value report cpoc report value (performance year 2025")
    assert "rated against ILLUSTRATIVE benchmarks" in entry["source"]
    # no payer file of the practice's: refused before any work
    argv_no_payer = [a for a in argv if a not in ("--payer", str(example))]
    with pytest.raises(InputError, match="needs --payer"):
        value_cli.run(build_parser().parse_args(argv_no_payer), UTC, _real_components())
