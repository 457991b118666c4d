"""Payment-model packs (value-and-models §15): selection by Coverage, the combined timeline,
and a pack from outside the product (tests/flat_fee_pack) added by one settings entry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.engine.facts import (
    CoverageFact,
    DrugRole,
    ExposureKind,
    MedicationExposure,
    PatientRecord,
    Route,
)
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.registry import load_pack
from cpoc_fhir.packs.selection import model_spans
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator

FLAT = ModelSettings(
    packs={"flat": "flat_fee_pack.pack"}, payers={"Organization/flat-payer": "flat"}
)


def _record(*coverages: CoverageFact) -> PatientRecord:
    exposure = MedicationExposure(
        ref="MedicationAdministration/a1",
        drug="oxaliplatin",
        drug_name="oxaliplatin",
        role=DrugRole.ANTICANCER,
        route=Route.PARENTERAL,
        kind=ExposureKind.ADMINISTERED,
        start=date(2025, 3, 3),
        end=date(2025, 3, 3),
    )
    return PatientRecord("Patient/p1", exposures=(exposure,), coverages=coverages)


def test_no_coverage_selects_the_default_for_all_time() -> None:
    (span,) = model_spans(_record(), ModelSettings())
    assert (span.model, span.start, span.end) == ("cpoc", None, None)


def test_a_payer_switch_cuts_the_days_where_the_primary_coverage_changes() -> None:
    # Commercial (unmapped → default cpoc) to 2025-06-30, then the flat payer from 2025-07-01;
    # a secondary flat Coverage in the first half never selects (order 2).
    record = _record(
        CoverageFact("Coverage/c1", "Organization/acme", None, date(2025, 6, 30), order=1),
        CoverageFact("Coverage/c2", "Organization/flat-payer", date(2025, 7, 1), None, order=1),
        CoverageFact("Coverage/c3", "Organization/flat-payer", None, date(2025, 6, 30), order=2),
    )
    spans = model_spans(record, FLAT)
    assert [(s.model, s.start, s.end) for s in spans] == [
        ("cpoc", None, date(2025, 6, 30)),
        ("flat", date(2025, 7, 1), None),
    ]


def test_the_combined_timeline_bills_each_month_under_the_pack_of_its_day() -> None:
    config = load_config(environ={})
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=FLAT)
    record = _record(
        CoverageFact("Coverage/c1", "Organization/acme", None, date(2025, 6, 30)),
        CoverageFact("Coverage/c2", "Organization/flat-payer", date(2025, 7, 1), None),
    )
    timeline = evaluator.evaluate(record, date(2025, 9, 15))
    flat = [line for line in timeline.lines if line.model == "flat"]
    # July, August, September 2025 have begun by 15 September: three flat fees of 50.00.
    assert [(line.start, line.amount) for line in flat] == [
        (date(2025, 7, 1), Decimal("50.00")),
        (date(2025, 8, 1), Decimal("50.00")),
        (date(2025, 9, 1), Decimal("50.00")),
    ]
    assert all(line.start < date(2025, 7, 1) for line in timeline.lines if line.model == "cpoc")
    assert [s["model"] for s in timeline.as_json()["models"]] == ["cpoc", "flat"]
    assert timeline.as_json()["lines"][-1]["model"] == "flat"


def test_an_unknown_pack_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"'ocmx' is not a known pack.*cpoc"):
        load_pack("ocmx")


def test_the_settings_refuse_a_payer_mapped_to_an_unknown_pack(tmp_path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[models]\npayers = { "Organization/x" = "nope" }\n')
    with pytest.raises(InputError, match=r"Organization/x.*'nope' is not a known pack"):
        load_config(settings, environ={})


def test_a_practice_pack_is_loaded_from_the_settings(tmp_path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(
        '[models]\npacks = { flat = "flat_fee_pack.pack" }\n'
        'payers = { "Organization/flat-payer" = "flat" }\n'
    )
    config = load_config(settings, environ={})
    assert config.models.payers == {"Organization/flat-payer": "flat"}
    assert load_pack("flat", config.models).short_name == "FLAT"


EPISODIC = ModelSettings(default="episodic", packs={"episodic": "episode_test_pack.pack"})


def test_an_episode_pack_cuts_six_months_from_the_trigger_and_stops_at_death() -> None:
    # Trigger 2025-03-03 → episode months anchored on the 3rd (cpoc-rules §2): 03-03, 04-03,
    # 05-03, 06-03, 07-03, 08-03; ends 2025-09-02. Death on 2025-05-20: months starting after
    # it (06-03 on) are not billed; as-of 2025-12-31.
    config = load_config(environ={})
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=EPISODIC)
    record = PatientRecord("Patient/p1", death=date(2025, 5, 20), exposures=_record().exposures)
    timeline = evaluator.evaluate(record, date(2025, 12, 31))
    (episode,) = timeline.episodes
    assert (episode.start, episode.end) == (date(2025, 3, 3), date(2025, 9, 2))
    assert [line.start for line in timeline.lines] == [
        date(2025, 3, 3),
        date(2025, 4, 3),
        date(2025, 5, 3),
    ]
    assert {(line.model, line.episode, line.code) for line in timeline.lines} == {
        ("episodic", 1, "EPI1")
    }
    assert episode.note == "death on 2025-05-20"
