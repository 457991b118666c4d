"""The resources ``cpoc fhir-resources`` publishes: the CPOC CodeSystem, a ChargeItemDefinition
per code priced from the payer file, written as JSON files.

Price components of a ChargeItemDefinition (R4 ``propertyGroup[0].priceComponent``), coded in
``PublishSettings.price_component_system``:

1. ``base`` (type base): factor = relative value / 100, amount = round-half-up to cents of
   New Patient amount × factor.
2. ``gpci`` (type surcharge when gpci > 1, deduction when < 1, informational when 1):
   factor = gpci, amount = |round(raw × gpci) − base amount| where raw is the unrounded base.
3. ``value-based-adjustment`` (same types by sign of the adjustment): factor = 1 + vba,
   amount = |line amount − round(raw × gpci)|.

So the line amount is exactly base + surcharges − deductions (amounts are magnitudes), and the
factors give the formula of cpoc-rules §1: round-half-up(New Patient × rv/100 × gpci × (1+vba)).

A payer file with several years (value-and-models §12.4, §13.3) gives one ``propertyGroup`` per
year, each with its own components and an ``applicability`` (FHIRPath on the ChargeItem, and
in words) that selects it by the day the line is priced by — its billing month's start, a New
Patient line's visit day: so a line of year Y+1 is priced with Y+1's base, GPCI and
value-based adjustment, a line of year Y with Y's. A one-year file keeps one group with no
applicability. ``effectivePeriod`` spans the years the file lists.

R4 ChargeItemDefinition has no ``name`` element (R5 added it): the title carries the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from fhir.resources.R4B.chargeitemdefinition import ChargeItemDefinition
from fhir.resources.R4B.codesystem import CodeSystem

from cpoc_fhir.fhir.write.enhanced_care_definition import (
    enhanced_care_concept,
    enhanced_care_definition,
)
from cpoc_fhir.fhir.write.pack_resources import practice_concepts, write_pack_value_sets
from cpoc_fhir.fhir.write.publish import (
    PublishSettings,
    Resource,
    ResourceValidationError,
    compact,
    cpoc_codings,
    to_json,
    validated,
)
from cpoc_fhir.packs.cpoc.codes import CODES, DISPLAY, Component
from cpoc_fhir.packs.cpoc.payer import CENT, PayerSchedule, PayerYear
from cpoc_fhir.packs.settings import ModelSettings

SOURCE = "ASCO, Consolidated Payments for Oncology Care, May 2014"

# What earns each component (the proposal's section II-A).
_EARNS = {
    Component.NEW_PATIENT: "Once per patient, at the first face-to-face visit with the "
    "practice's medical oncology when the practice manages the patient's care (II-A.1).",
    Component.TREATMENT_MONTH: "A billing month with any day of treatment ordered by the "
    "practice; the level follows comorbidity, performance status, regimen toxicity and drug "
    "administration (Tables 1-4) (II-A.2).",
    Component.ACTIVE_MONITORING: "A billing month without treatment while the patient is under "
    "the practice's care; the level follows the months since treatment and the disease state "
    "(II-A.3).",
    Component.TRANSITION: "A change in the course of treatment: progression, change of drug "
    "class or completion (level 1); recurrence, new primary cancer or delayed complication "
    "(level 2) (II-A.4).",
    Component.CLINICAL_TRIAL: "A Treatment or Active Monitoring month while the patient is on "
    "study in a clinical trial (II-A.5).",
}


# Codes of settlements beside the monthly lines, no relative value (value-and-models §14.4).
SETTLEMENT_CODES = {
    "corridor-supplement": (
        "Risk corridor supplement",
        "What the payer adds for a calendar quarter when the practice's CPOC payments P fall "
        "below F × (1 − c), F being what fee-for-service would have paid and c the "
        "participation year's corridor: F × (1 − c) − P (V-B.2, Option 2).",
    ),
    "corridor-recovery": (
        "Risk corridor recovery",
        "What the payer recovers for a calendar quarter when the practice's CPOC payments P "
        "exceed F × (1 + c): P − F × (1 + c) (V-B.2, Option 2).",
    ),
}


def code_system(
    settings: PublishSettings,
    enhanced_care: bool = False,
    pack_concepts: Sequence[Resource] = (),
) -> Resource:
    """The CodeSystem of the 11 CPOC codes, with component, level and relative value; with
    ``enhanced_care`` (an opted-in payer, value-and-models §13.1) also xx600; the settlement
    codes (``SETTLEMENT_CODES``); and ``pack_concepts``, other packs' codes no public system
    defines (pack_resources.py ``practice_concepts``, value-and-models §15)."""
    concepts = [_concept(code) for code in CODES]
    described = ""
    if enhanced_care:
        concepts.append(enhanced_care_concept())
        described = (
            " With them, xx600, the supplemental payment for enhanced patient-centred care of a "
            "payer the practice is opted in with (II-B.2; the code is this product's): priced "
            "by the payer file, it has no relative value."
        )
    concepts += [
        {"code": code, "display": display, "definition": definition}
        for code, (display, definition) in SETTLEMENT_CODES.items()
    ]
    if pack_concepts:
        taken = {c["code"] for c in concepts}
        clash = sorted({c["code"] for c in pack_concepts} & taken)
        if clash:
            raise ResourceValidationError(
                f"CodeSystem cpoc: a pack's code is already one of CPOC's: {', '.join(clash)}"
            )
        concepts += list(pack_concepts)
        described += (
            " With them, the codes of other payment models the practice bills under that no "
            "public code system defines (each concept's definition names its model)."
        )
    resource = {
        "resourceType": "CodeSystem",
        "id": "cpoc",
        "meta": {"tag": [settings.product_tag]},
        "url": settings.codesystem_url,
        "version": settings.version,
        "name": "CPOCCodes",
        "title": "ASCO Consolidated Payments for Oncology Care (CPOC) codes",
        "status": "active",
        "description": (
            "The 11 billing codes of ASCO's Consolidated Payments for Oncology Care. The code "
            "strings (xx100 ... xx500) are the proposal's placeholders: a payer maps them to "
            "its own billing codes, sent as a second coding on each ChargeItem. Relative values "
            f"are percentages of the New Patient payment (II-C).{described} Source: {SOURCE}. "
            "Also the quarterly risk-corridor settlement codes (V-B.2, Option 2)."
        ),
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "property": [
            {"code": "component", "description": "CPOC payment component", "type": "code"},
            {"code": "level", "description": "Level within the component", "type": "integer"},
            {
                "code": "relativeValue",
                "description": "Relative value, % of the New Patient payment",
                "type": "decimal",
            },
        ],
        "concept": concepts,
    }
    return validated(compact(resource), CodeSystem, "CodeSystem cpoc")


def _concept(code: str) -> Resource:
    component, level, relative_value = CODES[code]
    properties: list[Resource] = [{"code": "component", "valueCode": component.value}]
    if level is not None:
        properties.append({"code": "level", "valueInteger": level})
    properties.append({"code": "relativeValue", "valueDecimal": relative_value})
    return {
        "code": code,
        "display": DISPLAY[code],
        "definition": f"{_EARNS[component]} Relative value: {relative_value} % of the New "
        "Patient payment.",
        "property": properties,
    }


def charge_item_definitions(payer: PayerSchedule, settings: PublishSettings) -> list[Resource]:
    """One ChargeItemDefinition per CPOC code, priced from the payer file (xx600 too for an
    opted-in payer, §13.1)."""
    definitions = [_definition(code, payer, settings) for code in CODES]
    if payer.enhanced_opt_in:
        definitions.append(enhanced_care_definition(payer, settings))
    return definitions


def _definition(code: str, payer: PayerSchedule, settings: PublishSettings) -> Resource:
    years = payer.schedule_years
    first, last = years[0].year, years[-1].year
    resource = {
        "resourceType": "ChargeItemDefinition",
        "id": f"cpoc-{code}",
        "meta": {"tag": [settings.product_tag]},
        "url": settings.definition_url(code),
        "version": settings.version,
        "title": f"CPOC {code} {DISPLAY[code]}: {payer.name}",
        "status": "active",
        "experimental": True if payer.illustrative else None,
        "description": _description(code, payer),
        "effectivePeriod": (
            {"start": f"{first}-01-01", "end": f"{last}-12-31"} if first and last else None
        ),
        "code": {"coding": cpoc_codings(code, payer, settings)},
        "propertyGroup": [
            {
                "applicability": _applicability(figures.year) if payer.years else None,
                "priceComponent": year_price_components(code, figures, payer.currency, settings),
            }
            for figures in years
        ],
    }
    return validated(compact(resource), ChargeItemDefinition, f"ChargeItemDefinition {code}")


# FHIRPath on the ChargeItem: the day its line is priced by (the billing month's start, or the
# New Patient visit day), as the engine chooses the year (PayerSchedule.for_date).
_LINE_DAY = "(occurrence.ofType(Period).start | occurrence.ofType(dateTime)).first()"


def _applicability(year: int | None) -> list[Resource]:
    """When a year's group prices a ChargeItem: its line day falls in that calendar year."""
    return [
        {
            "description": f"Lines whose billing month starts in {year} (New Patient: whose "
            "visit day is in it) are priced with this group.",
            "language": "text/fhirpath",
            "expression": f"{_LINE_DAY} >= @{year}-01-01 and {_LINE_DAY} < @{year + 1}-01-01"
            if year is not None
            else "true",
        }
    ]


def _description(code: str, payer: PayerSchedule) -> str:
    rv = CODES[code][2]
    parts = []
    for figures in payer.schedule_years:
        when = f"for {figures.year}: " if figures.year else ""
        parts.append(
            f"{when}New Patient amount {_money(figures)} {payer.currency} × relative "
            f"value {rv} % × GPCI {figures.gpci} × (1 + value-based adjustment {figures.vba}) "
            f"= {payer.amount(code, _day(figures))} {payer.currency}"
        )
    text = (
        f"Price of CPOC code {code} ({DISPLAY[code]}) under {payer.name} (payer file "
        f"'{payer.id}', version {payer.version}"
        f"{f', locality {payer.locality}' if payer.locality else ''}): "
        + "; ".join(parts)
        + ", rounded half up to cents (cpoc-rules §1)."
    )
    if payer.years:
        text += (
            " Each year's price is in its own property group; a line is priced by the year of "
            "its billing month's start. A date before the first year is priced as the first "
            "year; a later year not listed takes the latest listed year's base and GPCI, "
            "with no value-based adjustment."
        )
    if payer.illustrative:
        text += (
            " ILLUSTRATIVE payer file: these amounts are made up to show the format and are "
            "not a real fee schedule; do not bill with them."
        )
    return text


def _day(figures: PayerYear) -> date | None:
    return date(figures.year, 1, 1) if figures.year else None


def _money(figures: PayerYear) -> Decimal:
    """A derived base (base × (1 + update)) shown to the cent; the amount uses it unrounded."""
    return figures.base if figures.base_given else _cents(figures.base)


def price_components(code: str, payer: PayerSchedule, settings: PublishSettings) -> list[Resource]:
    """The first year's components (a one-year file: its only ones)."""
    return year_price_components(code, payer.schedule_years[0], payer.currency, settings)


def year_price_components(
    code: str, figures: PayerYear, currency: str, settings: PublishSettings
) -> list[Resource]:
    """Base, GPCI and value-based adjustment components whose amounts add up to the price."""
    factor = CODES[code][2] / 100
    raw = figures.base * factor
    base = _cents(raw)
    after_gpci = _cents(raw * figures.gpci)
    total = _cents(raw * figures.gpci * (1 + figures.vba))
    system = settings.price_component_system
    return [
        _component("base", system, "New Patient amount × relative value", factor, base, currency),
        _adjustment(
            "gpci",
            system,
            "Geographic practice cost index",
            figures.gpci,
            after_gpci - base,
            currency,
        ),
        _adjustment(
            "value-based-adjustment",
            system,
            "Value-based adjustment of the practice for the year",
            1 + figures.vba,
            total - after_gpci,
            currency,
        ),
    ]


def _adjustment(
    code: str, system: str, display: str, factor: Decimal, delta: Decimal, currency: str
) -> Resource:
    kind = "surcharge" if factor > 1 else "deduction" if factor < 1 else "informational"
    return _component(code, system, display, factor, abs(delta), currency, kind)


def _component(
    code: str,
    system: str,
    display: str,
    factor: Decimal,
    amount: Decimal,
    currency: str,
    kind: str = "base",
) -> Resource:
    return {
        "type": kind,
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "factor": factor,
        "amount": {"value": amount, "currency": currency},
    }


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def write_resources(
    payer: PayerSchedule,
    settings: PublishSettings,
    out_dir: Path,
    models: ModelSettings | None = None,
) -> list[Path]:
    """Write CodeSystem-cpoc.json (with the packs' own codes), ChargeItemDefinition-cpoc-
    <code>.json and each other pack's ValueSet-pack-<id>.json; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    resources = [
        code_system(settings, payer.enhanced_opt_in, practice_concepts(models)),
        *charge_item_definitions(payer, settings),
    ]
    paths = []
    for resource in resources:
        path = out_dir / f"{resource['resourceType']}-{resource['id']}.json"
        path.write_text(to_json(resource, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths + write_pack_value_sets(settings, out_dir, models)
