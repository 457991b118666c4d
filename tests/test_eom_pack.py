"""The EOM pack (value-and-models §15.2): cancers, hormonal-only exclusion, MEOS by year,
dual add-on, death, payer switch. Goldens derived by hand in each test's comment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from episode_facts import administered as _drug
from episode_facts import evaluate
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.facts import (
    CoverageFact,
    Diagnosis,
    MedicationExposure,
    PatientRecord,
    Route,
)
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator

EOM = ModelSettings(default="eom")
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
AS_OF = date(2026, 12, 31)


def _dx(icd10: str) -> Diagnosis:
    return Diagnosis("Condition/c1", icd10=(icd10,), onset=date(2023, 1, 1))


def _evaluate(record: PatientRecord, models: ModelSettings = EOM) -> PatientTimeline:
    return evaluate(record, models, AS_OF)


def _record(icd10: str, *drugs: MedicationExposure, **kw: object) -> PatientRecord:
    return PatientRecord("Patient/p1", diagnoses=(_dx(icd10),), exposures=drugs, **kw)  # type: ignore[arg-type]


OXALI = _drug("a1", "oxaliplatin", date(2025, 3, 3))


@pytest.mark.parametrize(
    ("inside", "outside"),
    [
        ("C509", "C440"),  # breast in; skin (non-melanoma) out
        ("C911", "C910"),  # CLL in; acute lymphoblastic leukaemia out
        ("C921", "C920"),  # CML in; AML out
        ("C179", "C220"),  # small intestine in; liver out
        ("C180", "C250"),  # colon in; pancreas out
        ("C3490", "C450"),  # lung in; mesothelioma out
        ("C8330", "C43"),  # DLBCL in; melanoma out
        ("C9000", "C950"),  # myeloma in; leukaemia of unspecified type out
        ("C61", "C64"),  # prostate in; kidney out
    ],
)
def test_each_eom_cancer_starts_an_episode_and_a_neighbour_does_not(
    inside: str, outside: str
) -> None:
    assert len(_evaluate(_record(inside, OXALI)).episodes) == 1
    assert _evaluate(_record(outside, OXALI)).episodes == ()


def test_hormonal_only_breast_and_prostate_start_none_with_a_non_hormonal_drug_one() -> None:
    letrozole = _drug("h1", "letrozole", date(2025, 3, 3), Route.ORAL)
    leuprolide = _drug("h2", "leuprolide", date(2025, 3, 3))
    palbo = _drug("p1", "palbociclib", date(2025, 4, 10), Route.ORAL)
    assert _evaluate(_record("C509", letrozole)).episodes == ()
    assert _evaluate(_record("C61", leuprolide)).episodes == ()
    # letrozole on 03-03 starts none; palbociclib on 04-10 starts the episode on 04-10.
    (episode,) = _evaluate(_record("C509", letrozole, palbo)).episodes
    assert episode.start == date(2025, 4, 10)


def test_meos_amount_changes_by_the_months_first_day_across_new_year() -> None:
    # Trigger 2024-10-15: months start 10-15, 11-15, 12-15 (2024: $70) and 2025-01-15,
    # 02-15, 03-15 (2025: $110); the episode ends 2025-04-14.
    record = _record("C180", _drug("a1", "oxaliplatin", date(2024, 10, 15)))
    timeline = _evaluate(record)
    (episode,) = timeline.episodes
    assert episode.end == date(2025, 4, 14)
    assert [(line.start, line.amount) for line in timeline.lines] == [
        (date(2024, 10, 15), Decimal("70.00")),
        (date(2024, 11, 15), Decimal("70.00")),
        (date(2024, 12, 15), Decimal("70.00")),
        (date(2025, 1, 15), Decimal("110.00")),
        (date(2025, 2, 15), Decimal("110.00")),
        (date(2025, 3, 15), Decimal("110.00")),
    ]
    assert {line.code for line in timeline.lines} == {"M0010"}


def test_dual_add_on_from_a_medicaid_coverage_in_force_on_the_months_first_day() -> None:
    # Medicare all along; Medicaid (SOPT 2) from 2025-05-01 to 2025-06-30. Months start
    # 03-03, 04-03, 05-03, 06-03, 07-03, 08-03: only 05-03 and 06-03 are dual ($110 + $30).
    medicare = CoverageFact("Coverage/m", "Organization/cms", type_codes=(f"{SOPT}|1",))
    medicaid = CoverageFact(
        "Coverage/md",
        "Organization/state",
        date(2025, 5, 1),
        date(2025, 6, 30),
        order=2,
        type_codes=(f"{SOPT}|2",),
    )
    timeline = _evaluate(_record("C180", OXALI, coverages=(medicare, medicaid)))
    assert [line.amount for line in timeline.lines] == [
        Decimal(x) for x in ("110.00", "110.00", "140.00", "140.00", "110.00", "110.00")
    ]
    pack = load_pack("eom")
    third = timeline.lines[2]
    assert pack.title(third, "USD") == "EOM episode 1, month 3: MEOS M0010 $140.00, dual-eligible"
    assert pack.title(timeline.lines[0], "USD") == "EOM episode 1, month 1: MEOS M0010 $110.00"


def test_death_mid_episode_stops_the_months() -> None:
    # Trigger 2025-03-03, death 2025-05-20: months 03-03, 04-03, 05-03 only.
    timeline = _evaluate(_record("C180", OXALI, death=date(2025, 5, 20)))
    assert [line.start for line in timeline.lines] == [
        date(2025, 3, 3),
        date(2025, 4, 3),
        date(2025, 5, 3),
    ]


def test_episodes_start_only_on_medicare_days_after_a_payer_switch() -> None:
    # Commercial (default cpoc) to 2025-06-30, Medicare (→ eom) from 2025-07-01. Oxaliplatin
    # on 2025-03-03 (commercial) starts no EOM episode; on 2025-07-08 one starts.
    models = ModelSettings(payers={"Organization/cms": "eom"})
    record = _record(
        "C180",
        OXALI,
        _drug("a2", "oxaliplatin", date(2025, 7, 8)),
        coverages=(
            CoverageFact("Coverage/c", "Organization/acme", None, date(2025, 6, 30)),
            CoverageFact("Coverage/m", "Organization/cms", date(2025, 7, 1), None),
        ),
    )
    timeline = _evaluate(record, models)
    eom_lines = [line for line in timeline.lines if line.model == "eom"]
    assert eom_lines[0].start == date(2025, 7, 8)
    assert [e.start for e in timeline.episodes if e.model == "eom"] == [date(2025, 7, 8)]


@settings(max_examples=25, deadline=None)
@given(
    start=st.dates(date(2023, 7, 1), date(2026, 6, 30)),
    dual=st.booleans(),
)
def test_every_month_pays_its_first_days_year_amount(start: date, dual: bool) -> None:
    # Invariant: one episode of at most six months from the trigger; each line pays $70 (2023,
    # 2024) or $110 (2025 on) by its own first day, +$30 when a Medicaid Coverage holds.
    coverages = (CoverageFact("Coverage/md", "Organization/state", type_codes=(f"{SOPT}|2",)),)
    record = _record(
        "C3490", _drug("a1", "carboplatin", start), coverages=coverages if dual else ()
    )
    timeline = _evaluate(record)
    (episode,) = timeline.episodes
    assert episode.start == start and 1 <= len(timeline.lines) <= 6
    for line in timeline.lines:
        assert episode.start <= line.start <= episode.end
        base = Decimal("70.00") if line.start.year < 2025 else Decimal("110.00")
        assert line.amount == base + (Decimal("30.00") if dual else 0)


@pytest.mark.parametrize("system", [SOPT, "https://nahdo.org/sopt"])
def test_dual_eligibility_reads_the_sopt_under_its_oid_and_its_url(system: str) -> None:
    # Medicare, and Medicaid (SOPT 21) all of 2025 coded in ``system``: the one month as of
    # 2025-03-31 (03-03) is dual: $110 + $30 = $140. A SOPT 2 under another system is not.
    medicare = CoverageFact("Coverage/m", "Organization/cms", order=1, type_codes=(f"{SOPT}|1",))

    def medicaid(system: str) -> CoverageFact:
        return CoverageFact(
            "Coverage/md",
            "Organization/state",
            date(2025, 1, 1),
            date(2025, 12, 31),
            order=2,
            type_codes=(f"{system}|21",),
        )

    config = load_config(environ={})
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=EOM)
    dual = _record("C180", OXALI, coverages=(medicare, medicaid(system)))
    (line,) = evaluator.evaluate(dual, date(2025, 3, 31)).lines
    assert line.amount == Decimal("140.00")
    other = _record("C180", OXALI, coverages=(medicare, medicaid("http://example.org/types")))
    (line,) = evaluator.evaluate(other, date(2025, 3, 31)).lines
    assert line.amount == Decimal("110.00")


def test_an_older_data_files_single_sopt_system_still_reads() -> None:
    import tomllib

    from cpoc_fhir.packs.eom import rules
    from cpoc_fhir.packs.eom.pack import DATA_FILE

    raw = tomllib.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert rules.parse(raw, "f").sopt_systems == (SOPT, "https://nahdo.org/sopt")
    raw["dual"] = {"sopt_system": "urn:example:sopt"}
    assert rules.parse(raw, "f").sopt_systems == ("urn:example:sopt",)
    raw["dual"] = {"sopt_systems": "urn:example:sopt"}
    with pytest.raises(ValueError, match="sopt_systems must be a list"):
        rules.parse(raw, "f")
