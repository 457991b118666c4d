"""Per-year payer files (value-and-models §12.4, §13.3): base, inflation update (MEI by
default), GPCI per locality, the year's adjustment; amounts chosen by the line's date; the
ChargeItemDefinitions' per-year price groups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.chargeitemdefinition import ChargeItemDefinition

from cpoc_fhir.config import inflation_index, load_config, load_payer
from cpoc_fhir.errors import CpocError, InputError, KnowledgeError
from cpoc_fhir.fhir.write import PublishSettings, charge_item_definitions
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

MEI = {2025: Decimal("0.035"), 2026: Decimal("0.027")}  # test index, not the shipped one


def years_file(**years: dict[str, Any]) -> dict[str, Any]:
    return {
        "payer": {"id": "acme", "name": "Acme", "locality": "metro"},
        "years": {name.removeprefix("y"): entry for name, entry in years.items()},
    }


def schedule(data: dict[str, Any], locality: str | None = None) -> PayerSchedule:
    return PayerSchedule.from_data(data, "acme.toml", locality, MEI)


GPCI = {"metro": "1.10", "rural": "0.90"}


def test_each_year_prices_its_own_lines() -> None:
    payer = schedule(
        years_file(
            y2024={"new_patient_amount": "1000.00", "gpci": GPCI},
            y2025={"value_based_adjustment": "0.015"},
            y2026={"new_patient_amount": "1100.00", "inflation_update": "0.5"},
        )
    )
    # 2024: 1000 × 80 % × 1.10 = 880.00
    assert payer.amount("xx204", date(2024, 12, 31)) == Decimal("880.00")
    # 2025: base 1000 × (1 + MEI 2025 3.5 %) = 1035; × 80 % × 1.10 × 1.015 = 924.4620 → 924.46
    assert payer.amount("xx204", date(2025, 1, 1)) == Decimal("924.46")
    assert payer.amount("xx204", date(2025, 12, 31)) == Decimal("924.46")
    # 2026: the base given wins over an update; 1100 × 80 % × 1.10 = 968.00, no adjustment
    assert payer.amount("xx204", date(2026, 1, 1)) == Decimal("968.00")
    # without a date: the first year (a caller should always pass the line's date)
    assert payer.amount("xx204") == Decimal("880.00")


def test_years_not_listed_keep_base_and_gpci_without_adjustment() -> None:
    payer = schedule(
        years_file(
            y2025={"new_patient_amount": "1000", "gpci": GPCI, "value_based_adjustment": "0.02"},
            y2027={"inflation_update": "0.10", "value_based_adjustment": "-0.02"},
        )
    )
    # before the first year: 2025's figures (as a one-year file): 1000 × 25 % × 1.1 × 1.02
    # = 280.50
    assert payer.amount("xx201", date(2024, 6, 1)) == Decimal("280.50")
    # 2025 itself: × 1.02 = 280.50
    assert payer.amount("xx201", date(2025, 6, 1)) == Decimal("280.50")
    # 2026 is not listed: 2025's figures without its adjustment
    assert payer.amount("xx201", date(2026, 6, 1)) == Decimal("275.00")
    # 2027 is derived from the year before in the file (2025): 1000 × 1.10 = 1100;
    # × 25 % × 1.1 × 0.98 = 296.45
    assert payer.amount("xx201", date(2027, 6, 1)) == Decimal("296.45")
    # 2028 and later: 2027's base and GPCI, no adjustment: 1100 × 25 % × 1.1 = 302.50
    assert payer.amount("xx201", date(2030, 1, 1)) == Decimal("302.50")


def test_gpci_locality_from_the_setting_else_the_file() -> None:
    data = years_file(y2025={"new_patient_amount": "1000", "gpci": GPCI})
    assert schedule(data).amount("xx100", date(2025, 3, 1)) == Decimal("1100.00")
    assert schedule(data, "rural").amount("xx100", date(2025, 3, 1)) == Decimal("900.00")
    assert schedule(data, "rural").locality == "rural"
    del data["payer"]["locality"]
    with pytest.raises(KnowledgeError, match="set the practice's locality"):
        schedule(data)
    with pytest.raises(KnowledgeError, match="no locality 'coast'"):
        schedule(data, "coast")


def test_gpci_carries_to_the_next_year_until_given() -> None:
    payer = schedule(
        years_file(
            y2025={"new_patient_amount": "1000", "gpci": GPCI},
            y2026={"inflation_update": "0", "gpci": {"metro": "1.20", "rural": "0.80"}},
            y2027={"inflation_update": "0"},
        )
    )
    assert [y.gpci for y in payer.years] == [Decimal("1.10"), Decimal("1.20"), Decimal("1.20")]


def test_mei_is_the_default_update_and_must_be_known() -> None:
    data = years_file(y2024={"new_patient_amount": "1000"}, y2026={})
    # 2026 over 2024 (the year before in the file): × (1 + MEI 2026 2.7 %) = 1027
    assert schedule(data).amount("xx100", date(2026, 2, 1)) == Decimal("1027.00")
    data = years_file(y2026={"new_patient_amount": "1000"}, y2027={})
    with pytest.raises(KnowledgeError, match="Medicare Economic Index for 2027 is not known"):
        schedule(data)
    data["payer"]["inflation_update"] = "0.02"  # the file's own default
    assert schedule(data).amount("xx100", date(2027, 2, 1)) == Decimal("1020.00")


def test_shipped_mei_index_cites_its_sources() -> None:
    index = inflation_index()
    assert index[2024] == Decimal("0.046") and index[2025] == Decimal("0.035")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (years_file(y2025={"gpci": "1"}), "new_patient_amount is required in the first year"),
        (years_file(y25={"new_patient_amount": "1"}), "named by a year"),
        (years_file(y2025={"new_patient_amount": "1", "gpci": "0"}), "must be positive"),
        (
            years_file(y2025={"new_patient_amount": "1", "value_based_adjustment": "1.5"}),
            r"years\.2025\.value_based_adjustment is a fraction",
        ),
        (
            years_file(y2025={"new_patient_amount": "1"}, y2026={"inflation_update": "3"}),
            "inflation_update is a fraction",
        ),
        (
            years_file(y2025={"new_patient_amount": "1"}, y2026={"inflation_update": "x"}),
            "not a number",
        ),
        (
            {"payer": {"id": "a", "name": "A", "new_patient_amount": "1"}, "years": {}},
            "not both",
        ),
        ({"payer": {"id": "a", "name": "A"}, "years": {}}, r"one table per year"),
        (
            {"payer": {"id": "a", "name": "A", "new_patient_amount": "1", "version": 0}},
            "version",
        ),
    ],
)
def test_bad_per_year_files_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(KnowledgeError, match=message):
        schedule(data)


def test_one_year_files_price_every_date_alike() -> None:
    data = {"payer": {"id": "a", "name": "A", "new_patient_amount": "1000", "year": 2026}}
    payer = schedule(data)
    assert payer.years == ()
    for day in (date(2020, 1, 1), date(2026, 6, 1), date(2031, 12, 31), None):
        assert payer.amount("xx203", day) == Decimal("610.00")
    # a one-year file may list GPCI per locality too
    data["payer"]["gpci"] = {"metro": "1.1"}
    assert schedule(data, "metro").amount("xx100", date(2026, 1, 1)) == Decimal("1100.00")


def test_the_shipped_example_keeps_its_amounts_in_both_years() -> None:
    payer = load_payer(None)
    assert [y.year for y in payer.years] == [2025, 2026]
    assert payer.locality == "example-metro"
    for code in CODES:
        assert payer.amount(code, date(2025, 12, 31)) == payer.amount(code, date(2026, 1, 1))
    assert payer.amount("xx204", date(2026, 1, 1)) == Decimal("800.00")
    assert load_payer(None, "example-rural").amount("xx204", date(2026, 1, 1)) == Decimal("760.00")


def test_locality_setting_from_file_and_environment(tmp_path: Path) -> None:
    settings = tmp_path / "cpoc.toml"
    settings.write_text('[billing]\nlocality = "example-rural"\n', encoding="utf-8")
    assert load_config(settings, {}).payer_locality == "example-rural"
    assert load_config(None, {"CPOC_PAYER_LOCALITY": "x"}).payer_locality == "x"
    assert load_config(None, {}).payer_locality is None
    with pytest.raises(CpocError, match="no locality 'nowhere'"):
        load_payer(None, "nowhere")  # the shipped example has no such locality
    settings.write_text("[billing]\nlocality = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match="locality"):
        load_config(settings, {})


# --- ChargeItemDefinitions -------------------------------------------------------------------
SETTINGS = PublishSettings()


def groups(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return list(definition["propertyGroup"])


def test_definitions_carry_one_price_group_per_year() -> None:
    payer = schedule(
        years_file(
            y2025={"new_patient_amount": "1000.00", "gpci": GPCI},
            y2026={"inflation_update": "0", "value_based_adjustment": "0.015"},
        )
    )
    by_code = dict(zip(CODES, charge_item_definitions(payer, SETTINGS), strict=True))
    xx204 = by_code["xx204"]
    ChargeItemDefinition.model_validate(xx204)
    assert xx204["effectivePeriod"] == {"start": "2025-01-01", "end": "2026-12-31"}
    g2025, g2026 = groups(xx204)
    assert g2025["applicability"][0]["expression"] == (
        "(occurrence.ofType(Period).start | occurrence.ofType(dateTime)).first() >= "
        "@2025-01-01 and (occurrence.ofType(Period).start | occurrence.ofType(dateTime))"
        ".first() < @2026-01-01"
    )
    assert g2025["applicability"][0]["language"] == "text/fhirpath"
    assert "starts in 2026" in g2026["applicability"][0]["description"]

    def parts(group: dict[str, Any]) -> list[tuple[str, str, Decimal, Decimal]]:
        return [
            (c["code"]["coding"][0]["code"], c["type"], c["factor"], c["amount"]["value"])
            for c in group["priceComponent"]
        ]

    # 2025: 1000 × 80 % = 800.00; × 1.10 = 880.00 (+80.00); no adjustment
    assert parts(g2025) == [
        ("base", "base", Decimal("0.8"), Decimal("800.00")),
        ("gpci", "surcharge", Decimal("1.10"), Decimal("80.00")),
        ("value-based-adjustment", "informational", Decimal("1.00"), Decimal("0.00")),
    ]
    # 2026: the same, × 1.015 = 893.20 (+13.20)
    assert parts(g2026)[2] == (
        "value-based-adjustment",
        "surcharge",
        Decimal("1.015"),
        Decimal("13.20"),
    )
    for code, definition in by_code.items():
        for group, day in zip(
            groups(definition), (date(2025, 7, 1), date(2026, 7, 1)), strict=True
        ):
            sign = {"base": 1, "surcharge": 1, "deduction": -1, "informational": 0}
            total = sum(
                (sign[c["type"]] * c["amount"]["value"] for c in group["priceComponent"]),
                Decimal(0),
            )
            assert total == payer.amount(code, day), (code, day)
    assert "for 2026: New Patient amount 1000.00 USD" in xx204["description"]
    assert "= 893.20 USD" in xx204["description"]


@pytest.mark.parametrize(
    "occurrence",
    [
        {"occurrenceDateTime": "2025-12-31"},  # a New Patient item: its visit day
        {"occurrencePeriod": {"start": "2025-12-20", "end": "2026-01-19"}},  # Dec's month
        {"occurrencePeriod": {"start": "2026-01-01", "end": "2026-01-31"}},
        {"occurrenceDateTime": "2026-12-31"},
    ],
)
def test_fhirpath_applicability_selects_the_year_the_engine_prices_by(
    occurrence: dict[str, Any],
) -> None:
    """Evaluated with a FHIRPath engine (fhirpathpy, R4 model) on ChargeItems as capture writes
    them: exactly one group applies, and its components add up to the engine's amount."""
    fhirpath = pytest.importorskip("fhirpathpy")
    from fhirpathpy.models import models

    payer = schedule(
        years_file(
            y2025={"new_patient_amount": "1000.00", "gpci": GPCI},
            y2026={"inflation_update": "0.02", "value_based_adjustment": "0.015"},
        )
    )
    item = {"resourceType": "ChargeItem", "status": "billable", **occurrence}
    start = occurrence.get("occurrenceDateTime") or occurrence["occurrencePeriod"]["start"]
    day = date.fromisoformat(start)
    sign = {"base": 1, "surcharge": 1, "deduction": -1, "informational": 0}
    for code, definition in zip(CODES, charge_item_definitions(payer, SETTINGS), strict=True):
        applying = [
            group
            for group in groups(definition)
            if fhirpath.evaluate(
                item, group["applicability"][0]["expression"], {}, model=models["r4"]
            )
            == [True]
        ]
        assert len(applying) == 1, (code, occurrence)
        total = sum(
            (sign[c["type"]] * c["amount"]["value"] for c in applying[0]["priceComponent"]),
            Decimal(0),
        )
        assert total == payer.amount(code, day), (code, occurrence)


def test_one_year_definitions_keep_one_group_without_applicability() -> None:
    data = {"payer": {"id": "a", "name": "A", "new_patient_amount": "1000", "year": 2026}}
    for definition in charge_item_definitions(schedule(data), SETTINGS):
        [group] = definition["propertyGroup"]
        assert "applicability" not in group
        assert definition["effectivePeriod"] == {"start": "2026-01-01", "end": "2026-12-31"}
