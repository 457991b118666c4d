"""``[models] payers`` by date (value-and-models §15): one payer, different packs over time.

Medicare ran OCM (2016-07-01 – 2022-06-30), then nothing, then EOM (from 2023-07-01); days of a
dated payer outside every entry fall to the built-in pack "none" (fee-for-service, no lines).
Goldens derived by hand in each test's comment."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest
from episode_facts import administered
from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.facts import (
    CoverageFact,
    Diagnosis,
    PatientRecord,
)
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.registry import check_settings
from cpoc_fhir.packs.selection import model_on, model_spans
from cpoc_fhir.packs.settings import ModelSettings, PayerPeriod
from cpoc_fhir.service import Evaluator

MEDICARE = "Organization/medicare"
HISTORY = ModelSettings(
    payers={
        MEDICARE: [
            {"model": "ocm", "from": "2016-07-01", "to": "2022-06-30"},
            {"model": "eom", "from": "2023-07-01"},
        ],
        "Organization/acme": "eom",
    }
)


def _record(*coverages: CoverageFact, drug_day: date = date(2025, 3, 3)) -> PatientRecord:
    exposure = administered("a1", "oxaliplatin", drug_day)
    return PatientRecord(
        "Patient/p1",
        diagnoses=(Diagnosis("Condition/c1", icd10=("C180",), onset=date(2015, 1, 1)),),
        exposures=(exposure,),
        coverages=coverages,
    )


def test_spans_are_cut_at_the_coverage_and_at_each_entrys_boundaries() -> None:
    # Medicare from 2020-01-01: before it no Coverage (default cpoc); 2020-01-01 – 2022-06-30
    # OCM; 2022-07-01 – 2023-06-30 between the entries: "none"; from 2023-07-01 EOM.
    record = _record(CoverageFact("Coverage/m", MEDICARE, date(2020, 1, 1)))
    spans = model_spans(record, HISTORY)
    assert [(s.model, s.start, s.end) for s in spans] == [
        ("cpoc", None, date(2019, 12, 31)),
        ("ocm", date(2020, 1, 1), date(2022, 6, 30)),
        ("none", date(2022, 7, 1), date(2023, 6, 30)),
        ("eom", date(2023, 7, 1), None),
    ]
    assert spans[2].reason.startswith("no payment model (Coverage/m: payer Organization/medicare")


def test_a_plain_payer_and_the_settings_keep_their_shape() -> None:
    assert HISTORY.payers["Organization/acme"] == "eom"
    assert HISTORY.payers[MEDICARE] == (
        PayerPeriod("ocm", date(2016, 7, 1), date(2022, 6, 30)),
        PayerPeriod("eom", date(2023, 7, 1), None),
    )
    assert HISTORY.payer_models(MEDICARE) == ("ocm", "eom")


def test_days_outside_the_entries_bill_no_lines_and_the_entrys_days_do(tmp_path: Path) -> None:
    # Medicare all along, EOM only to 2025-04-30. Oxaliplatin 2025-03-03 (colon cancer) starts
    # an EOM episode; its months start 03-03, 04-03 (EOM's days: $110 each, 2025 amount) and
    # 05-03 … 08-03 (the "none" pack's days: no line). As of 2025-08-31: two lines.
    settings = tmp_path / "cpoc.toml"
    settings.write_text(
        "[models.payers]\n"
        f'"{MEDICARE}" = [{{ model = "eom", from = 2023-07-01, to = 2025-04-30 }}]\n',
        encoding="utf-8",
    )
    config = load_config(settings, environ={})
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=config.models)
    timeline = evaluator.evaluate(_record(CoverageFact("Coverage/m", MEDICARE)), date(2025, 8, 31))
    assert [(line.model, line.start, str(line.amount)) for line in timeline.lines] == [
        ("eom", date(2025, 3, 3), "110.00"),
        ("eom", date(2025, 4, 3), "110.00"),
    ]
    assert [(s.model, s.start, s.end) for s in timeline.models] == [
        # The open Coverage is cut at the entry: "none" before 2023-07-01 and after 2025-04-30.
        ("none", None, date(2023, 6, 30)),
        ("eom", date(2023, 7, 1), date(2025, 4, 30)),
        ("none", date(2025, 5, 1), None),
    ]


def test_an_entry_naming_an_unknown_pack_is_refused_naming_the_payer() -> None:
    check_settings(HISTORY)  # ocm and eom are built-in packs
    misspelt = ModelSettings(payers={MEDICARE: [{"model": "ocn", "to": "2022-06-30"}]})
    with pytest.raises(InputError) as caught:
        check_settings(misspelt)
    assert caught.value.where == f"[models] payers {MEDICARE!r}"
    assert "'ocn' is not a known pack" in caught.value.problem


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (
            [{"model": "eom", "from": "2020-01-01"}, {"model": "cpoc", "from": "2021-01-01"}],
            "entries overlap: eom 2020-01-01 – … and cpoc 2021-01-01 – …",
        ),
        (
            [
                {"model": "eom", "to": "2020-12-31"},
                {"model": "cpoc", "from": "2020-12-31", "to": "2021-06-30"},
            ],
            "entries overlap: eom … – 2020-12-31 and cpoc 2020-12-31 – 2021-06-30",
        ),
        ([{"model": "eom", "from": "2020-02-30"}], "entry 1: '2020-02-30' is not a date"),
        (
            [{"model": "eom", "from": "2021-01-01", "to": "2020-01-01"}],
            "entry 1: 'to' 2020-01-01 is before 'from' 2021-01-01",
        ),
        ([{"from": "2021-01-01"}], "entry 1: 'model' must name a pack"),
        ([{"model": "eom", "since": "2021-01-01"}], "entry 1: unknown key(s) since"),
        ([], "expected a pack id or a list"),
        (7, "expected a pack id or a list"),
    ],
)
def test_bad_entries_are_input_errors_naming_the_payer(entries: object, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        ModelSettings(payers={MEDICARE: entries})  # type: ignore[dict-item]
    assert caught.value.where == f"[models] payers {MEDICARE!r}"
    assert caught.value.problem.startswith(problem)


def test_a_bad_entry_in_the_settings_file_is_an_input_error(tmp_path: Path) -> None:
    settings = tmp_path / "cpoc.toml"
    settings.write_text(
        '[models.payers]\n"Organization/x" = [{ model = "eom", from = "July 2023" }]\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_config(settings, environ={})
    assert "Organization/x" in str(caught.value)
    assert "'July 2023' is not a date" in str(caught.value)


def test_the_environment_variable_takes_dated_entries_as_json() -> None:
    text = '{"Organization/x": [{"model": "eom", "from": "2023-07-01"}]}'
    config = load_config(environ={"CPOC_MODELS_PAYERS": text})
    assert config.models.payers["Organization/x"] == (PayerPeriod("eom", date(2023, 7, 1)),)


_DAYS = st.dates(date(2015, 1, 1), date(2030, 12, 31))


@given(st.lists(_DAYS, min_size=2, max_size=6, unique=True), _DAYS)
def test_each_day_is_held_by_its_entrys_pack_or_none(cuts: list[date], day: date) -> None:
    # Sorted cuts c0 < c1 < …: entry i holds [c(2i), c(2i+1) - 1 day] under pack "p{i}", so
    # entries never overlap and leave gaps; a Coverage for all time. A day in entry i is p{i},
    # any other day "none".
    cuts = sorted(cuts)
    periods = [
        {"model": f"p{i}", "from": cuts[2 * i], "to": cuts[2 * i + 1] - timedelta(days=1)}
        for i in range(len(cuts) // 2)
        if cuts[2 * i + 1] - timedelta(days=1) >= cuts[2 * i]
    ]
    if not periods:
        return
    settings = ModelSettings(payers={MEDICARE: periods})
    spans = model_spans(_record(CoverageFact("Coverage/m", MEDICARE)), settings)
    expected = next(
        (p["model"] for p in periods if p["from"] <= day <= p["to"]),  # type: ignore[operator]
        "none",
    )
    assert model_on(spans, day) == expected
    # Spans tile the days: consecutive, no gap, no overlap.
    for before, after in itertools.pairwise(spans):
        assert before.end is not None and after.start == before.end + timedelta(days=1)
