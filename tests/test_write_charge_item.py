"""ChargeItem per billing line: R4-valid, deterministic, exact money."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.chargeitem import ChargeItem

from cpoc_fhir.cli import bundled_examples
from cpoc_fhir.engine.facts import CancerRole, CareEpisode, Diagnosis, EpisodeKind, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source, read_record
from cpoc_fhir.fhir.write import (
    ICD10_CM,
    SERVICE_TYPES,
    ChargeContext,
    ChargeDiagnosis,
    PublishSettings,
    build_charge_item,
    charge_context,
    charge_item_changed,
    charge_item_identifier,
    empty_paths,
    icd10_dotted,
    to_json,
)
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.codes import CODES, Component
from cpoc_fhir.packs.cpoc.payer import PayerCode, PayerSchedule
from cpoc_fhir.service import Evaluator

# A run at 09:30 in New York: enteredDate must keep the offset, never shift to UTC.
ENTERED = datetime(2026, 3, 3, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
AS_OF = date(2026, 3, 3)
SETTINGS = PublishSettings(
    performing_organization="Organization/practice", performer_practitioner="Practitioner/onc"
)

Example = tuple[BillingLine, ChargeContext, dict[str, Any]]


def line(
    code: str = "xx203",
    start: str = "2025-04-01",
    end: str = "2025-04-30",
    status: LineStatus = LineStatus.FINAL,
    evidence: tuple[str, ...] = ("MedicationAdministration/ma1", "Encounter/e1"),
    month: int | None = 1,
) -> BillingLine:
    component, level, _ = CODES[code]
    return BillingLine(
        code=code,
        component=component,
        level=level,
        month=month,
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        status=status,
        amount=Decimal("610.00"),
        explanation=("Treatment Month 1: score 7 → level 3 (III-B)",),
        evidence=evidence,
    )


def context(payer: PayerSchedule, **changes: Any) -> ChargeContext:
    base = ChargeContext(
        patient_ref="Patient/p1",
        episode_ref="EpisodeOfCare/eoc1",
        diagnosis=ChargeDiagnosis("Condition/c1", "C34.11", "254637007", "NSCLC right upper lobe"),
        entered=ENTERED,
        payer=payer,
        settings=SETTINGS,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def examples(knowledge: Knowledge, payer: PayerSchedule) -> list[Example]:
    """Every line of the bundled example patients with its context and ChargeItem; the payer
    opted in to the enhanced-care supplement (value-and-models §13.1), so xx600 lines too."""
    assert payer.enhanced_care is not None
    care = dataclasses.replace(payer.enhanced_care, opted_in=True)
    payer = dataclasses.replace(payer, enhanced_care=care)
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    out: list[Example] = []
    for resources in open_source(bundled_examples()).patients():
        record = read_record(resources, knowledge, evaluator.reader)
        ctx = charge_context(record, payer, SETTINGS, ENTERED)
        for billing_line in evaluator.timeline(resources, AS_OF).lines:
            out.append((billing_line, ctx, build_charge_item(billing_line, ctx)))
    return out


def test_examples_cover_every_status_and_component(examples: list[Example]) -> None:
    assert {ln.status for ln, _, _ in examples} >= {LineStatus.FINAL, LineStatus.PROVISIONAL}
    # The CPOC examples cover CPOC's components; the episode and CPC+ components are the
    # packs' (their own tests build those ChargeItems).
    cpoc = set(Component) - {Component.MEOS, Component.CARE_MANAGEMENT}
    assert {ln.component for ln, _, _ in examples} == cpoc


def test_every_example_line_is_a_valid_r4_charge_item_without_empty_values(
    examples: list[Example],
) -> None:
    for billing_line, ctx, item in examples:
        assert empty_paths(item) == [], (billing_line.code, billing_line.month)
        wire = json.loads(to_json(item), parse_float=Decimal)
        parsed = ChargeItem.model_validate(wire)
        assert parsed.subject.reference == ctx.patient_ref
        assert item["enteredDate"] == "2026-03-03T09:30:00-05:00"
        assert item["quantity"] == {"value": 1}
        assert item["definitionCanonical"] == [
            f"http://example.org/fhir/ChargeItemDefinition/cpoc-{billing_line.code}"
        ]
        assert item["code"]["coding"][0] == {
            "system": SETTINGS.codesystem_url,
            "code": billing_line.code,
            "display": item["code"]["coding"][0]["display"],
        }
        assert item["meta"]["tag"][0]["code"] == "cpoc-fhir"
        assert item["context"] == {"reference": ctx.episode_ref}
        assert item["performer"] == [{"actor": {"reference": "Practitioner/onc"}}]
        assert item["performingOrganization"] == {"reference": "Organization/practice"}


def test_price_override_is_the_line_amount_exactly(examples: list[Example]) -> None:
    for billing_line, _, item in examples:
        assert item["priceOverride"] == {"value": billing_line.amount, "currency": "USD"}
        text = to_json(item)
        assert f'"priceOverride":{{"value":{billing_line.amount},"currency":"USD"}}' in text
        wire = json.loads(text, parse_float=Decimal)
        assert str(wire["priceOverride"]["value"]) == str(billing_line.amount)  # "800.00"


def test_new_patient_uses_occurrence_date_time_and_months_a_period(
    examples: list[Example],
) -> None:
    for billing_line, _, item in examples:
        if billing_line.component is Component.NEW_PATIENT:
            assert item["occurrenceDateTime"] == billing_line.start.isoformat()
            assert "occurrencePeriod" not in item
        else:
            assert item["occurrencePeriod"] == {
                "start": billing_line.start.isoformat(),
                "end": billing_line.end.isoformat(),
            }
            assert "occurrenceDateTime" not in item


def test_payer_coding_present_when_the_payer_maps_the_code(
    examples: list[Example], payer: PayerSchedule
) -> None:
    for billing_line, _, item in examples:
        mapped = payer.codes[billing_line.code]
        assert item["code"]["coding"][1] == {
            "system": mapped.system,
            "code": mapped.code,
            "display": mapped.display,
        }
    unmapped = dataclasses.replace(payer, codes={})
    item = build_charge_item(line(), context(unmapped))
    assert [c["code"] for c in item["code"]["coding"]] == ["xx203"]


def test_service_holds_only_the_types_r4_allows_and_supporting_information_all(
    examples: list[Example],
) -> None:
    filtered_something = searched = False
    for billing_line, _, item in examples:
        # Evidence that is a search (what was looked for, cpoc-rules §11) names no resource:
        # it is never a Reference.
        evidence = [r for r in dict.fromkeys(billing_line.evidence) if "?" not in r]
        searched |= len(evidence) < len(set(billing_line.evidence))
        services = [r["reference"] for r in item.get("service", [])]
        assert all(ref.split("/")[0] in SERVICE_TYPES for ref in services)
        assert services == [r for r in evidence if r.split("/")[0] in SERVICE_TYPES]
        assert [r["reference"] for r in item.get("supportingInformation", [])] == evidence
        filtered_something |= len(services) < len(evidence)
    assert filtered_something  # Encounters, EpisodeOfCare, MedicationRequest stay out of service
    assert searched  # a month without ECOG cites its search, which stays out of the item


def test_line_without_evidence_has_no_service_or_supporting_information(
    payer: PayerSchedule,
) -> None:
    item = build_charge_item(line(evidence=()), context(payer))
    assert "service" not in item and "supportingInformation" not in item


@pytest.mark.parametrize(
    ("patient", "icd10"),
    [
        ("Patient/appendix-a-folfox", "C18.7"),
        ("Patient/appendix-b-nsclc", "C34.11"),
        ("Patient/declined-treatment", "C25.0"),  # primary preferred over the liver metastasis
        ("Patient/oral-capecitabine-trial", "C20"),
    ],
)
def test_reason_carries_the_dotted_icd10_cm_code(
    examples: list[Example], patient: str, icd10: str
) -> None:
    items = [item for _, ctx, item in examples if ctx.patient_ref == patient]
    assert items
    for item in items:
        [reason] = item["reason"]
        assert reason["coding"][0] == {"system": ICD10_CM, "code": icd10}
        assert reason["text"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (LineStatus.PROVISIONAL, "planned"),
        (LineStatus.FINAL, "billable"),
        (LineStatus.NOT_BILLABLE, "not-billable"),
    ],
)
def test_status_mapping(status: LineStatus, expected: str, payer: PayerSchedule) -> None:
    assert build_charge_item(line(status=status), context(payer))["status"] == expected


def test_note_has_the_explanation_then_the_warnings(payer: PayerSchedule) -> None:
    warned = dataclasses.replace(line(), warnings=("no ECOG/Karnofsky in the month",))
    [note] = build_charge_item(warned, context(payer))["note"]
    assert note["text"] == (
        "Treatment Month 1: score 7 → level 3 (III-B)\nWarning: no ECOG/Karnofsky in the month"
    )


def test_optional_references_are_left_out_not_emptied(payer: PayerSchedule) -> None:
    ctx = context(payer, episode_ref=None, diagnosis=None, settings=PublishSettings())
    item = build_charge_item(line(), ctx)
    for absent in ("context", "reason", "performer", "performingOrganization"):
        assert absent not in item
    assert empty_paths(item) == []


def test_identifier_is_deterministic_and_readable(payer: PayerSchedule) -> None:
    item = build_charge_item(line(), context(payer))
    assert item["identifier"] == [
        {"system": SETTINGS.practice_identifier_system, "value": "p1.treatment-month.2025-04-01"}
    ]
    assert build_charge_item(line(), context(payer))["identifier"] == item["identifier"]


def test_identifier_stable_across_level_status_and_amount_changes() -> None:
    first = line("xx203", status=LineStatus.PROVISIONAL)
    later = dataclasses.replace(
        line("xx204", status=LineStatus.FINAL), amount=Decimal("800.00"), evidence=()
    )
    assert charge_item_identifier("Patient/p1", first) == charge_item_identifier(
        "Patient/p1", later
    )


def test_identifier_differs_across_components_months_and_patients() -> None:
    values = {
        charge_item_identifier("Patient/p1", line("xx203")),
        charge_item_identifier("Patient/p1", line("xx401")),  # same month, transition
        charge_item_identifier("Patient/p1", line("xx500")),  # same month, trial
        charge_item_identifier("Patient/p1", line("xx203", "2025-05-01", "2025-05-31")),
        charge_item_identifier("Patient/p2", line("xx203")),
    }
    assert len(values) == 5


def test_new_patient_identifier_once_per_patient() -> None:
    early = line("xx100", "2025-02-18", "2025-02-18", month=None)
    moved = line("xx100", "2025-03-01", "2025-03-01", month=1)
    assert charge_item_identifier("Patient/p1", early) == "p1.new-patient"
    assert charge_item_identifier("Patient/p1", moved) == "p1.new-patient"


def test_identifier_value_never_has_spaces() -> None:
    value = charge_item_identifier("Patient/odd id/x", line())
    assert " " not in value and value == "x.treatment-month.2025-04-01"
    assert " " not in charge_item_identifier("Patient/a b", line())


def test_invalid_resource_raises_value_error_naming_the_line(payer: PayerSchedule) -> None:
    bad = dataclasses.replace(
        payer, codes={"xx203": PayerCode("http://payer.example/codes", "X  1")}
    )
    with pytest.raises(ValueError, match=r"xx203 month 1 \(2025-04-01\) of Patient/p1"):
        build_charge_item(line(), context(bad))


def test_context_needs_a_time_zone_aware_instant(payer: PayerSchedule) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        context(payer, entered=datetime(2026, 3, 3, 9, 30))


def test_charge_context_picks_open_oncology_episode_and_latest_primary(
    payer: PayerSchedule,
) -> None:
    record = PatientRecord(
        patient_ref="Patient/p1",
        episodes=(
            CareEpisode("EpisodeOfCare/old", EpisodeKind.ONCOLOGY, date(2020, 1, 1), None),
            CareEpisode(
                "EpisodeOfCare/closed", EpisodeKind.ONCOLOGY, date(2024, 1, 1), date(2025, 1, 1)
            ),
            CareEpisode("EpisodeOfCare/open", EpisodeKind.ONCOLOGY, date(2025, 2, 1), None),
            CareEpisode("EpisodeOfCare/hospice", EpisodeKind.HOSPICE, date(2026, 1, 1), None),
        ),
        diagnoses=(
            Diagnosis(
                "Condition/first", ("C509",), onset=date(2019, 5, 1), cancer_role=CancerRole.PRIMARY
            ),
            Diagnosis(
                "Condition/mets",
                ("C787",),
                onset=date(2025, 6, 1),
                cancer_role=CancerRole.SECONDARY,
            ),
            Diagnosis(
                "Condition/second",
                ("C187",),
                ("363510005",),
                "Sigmoid colon cancer",
                onset=date(2025, 1, 20),
                cancer_role=CancerRole.PRIMARY,
            ),
            Diagnosis("Condition/dm", ("E119",), onset=date(2025, 3, 1)),
        ),
    )
    ctx = charge_context(record, payer, SETTINGS, ENTERED)
    assert ctx.episode_ref == "EpisodeOfCare/open"
    assert ctx.diagnosis == ChargeDiagnosis(
        "Condition/second", "C18.7", "363510005", "Sigmoid colon cancer"
    )
    reason = build_charge_item(line(), ctx)["reason"][0]
    assert [c["system"] for c in reason["coding"]] == [ICD10_CM, "http://snomed.info/sct"]


def test_charge_context_without_open_episode_takes_the_latest_and_secondary_fallback(
    payer: PayerSchedule,
) -> None:
    record = PatientRecord(
        patient_ref="Patient/p1",
        episodes=(
            CareEpisode(
                "EpisodeOfCare/a", EpisodeKind.ONCOLOGY, date(2023, 1, 1), date(2024, 1, 1)
            ),
            CareEpisode(
                "EpisodeOfCare/b", EpisodeKind.ONCOLOGY, date(2024, 2, 1), date(2025, 1, 1)
            ),
        ),
        diagnoses=(Diagnosis("Condition/mets", ("C7951",), cancer_role=CancerRole.SECONDARY),),
    )
    ctx = charge_context(record, payer, SETTINGS, ENTERED)
    assert ctx.episode_ref == "EpisodeOfCare/b"
    assert ctx.diagnosis is not None and ctx.diagnosis.icd10 == "C79.51"
    empty = charge_context(PatientRecord("Patient/p1"), payer, SETTINGS, ENTERED)
    assert empty.episode_ref is None and empty.diagnosis is None


@pytest.mark.parametrize(
    ("code", "dotted"),
    [
        ("C187", "C18.7"),
        ("C20", "C20"),
        ("C3411", "C34.11"),
        ("c18.7", "C18.7"),
        ("T451X5A", "T45.1X5A"),
    ],
)
def test_icd10_dotted(code: str, dotted: str) -> None:
    assert icd10_dotted(code) == dotted


def test_changed_detects_a_level_change(payer: PayerSchedule) -> None:
    existing = build_charge_item(line("xx203"), context(payer))
    level_4 = dataclasses.replace(line("xx204"), amount=Decimal("800.00"))
    assert charge_item_changed(existing, build_charge_item(level_4, context(payer)))


def test_changed_ignores_entered_date_meta_id_and_number_spelling(payer: PayerSchedule) -> None:
    desired = build_charge_item(line(), context(payer))
    later = build_charge_item(line(), context(payer, entered=ENTERED + timedelta(days=31)))
    assert later["enteredDate"] != desired["enteredDate"]
    assert not charge_item_changed(desired, later)
    # What a server gives back: id, meta, a float price, a note with a time.
    stored = json.loads(to_json(desired))
    stored |= {"id": "123", "meta": {"versionId": "4", "lastUpdated": "2026-03-04T00:00:00Z"}}
    stored["priceOverride"]["value"] = 610
    stored["note"][0]["time"] = "2026-03-03T09:30:00-05:00"
    assert not charge_item_changed(stored, desired)


@pytest.mark.parametrize(
    "change",
    [
        {"status": LineStatus.PROVISIONAL},
        {"amount": Decimal("610.01")},
        {"end": date(2025, 4, 29)},
        {"evidence": ("MedicationAdministration/ma1",)},
        {"explanation": ("another reason",)},
    ],
)
def test_changed_detects_owned_field_changes(payer: PayerSchedule, change: dict) -> None:
    existing = build_charge_item(line(), context(payer))
    changed = dataclasses.replace(line(), **change)
    assert charge_item_changed(existing, build_charge_item(changed, context(payer)))


def test_changed_detects_a_new_reason_or_episode(payer: PayerSchedule) -> None:
    existing = build_charge_item(line(), context(payer))
    assert charge_item_changed(existing, build_charge_item(line(), context(payer, diagnosis=None)))
    other = context(payer, episode_ref="EpisodeOfCare/eoc2")
    assert charge_item_changed(existing, build_charge_item(line(), other))


def test_to_json_writes_decimals_exactly() -> None:
    data = {"a": Decimal("430.00"), "b": [Decimal("1.10"), Decimal("-0.02")], "s": "ü", "n": 1}
    assert to_json(data) == '{"a":430.00,"b":[1.10,-0.02],"s":"ü","n":1}'
    plain = {"x": [1, {"y": "z"}, []], "e": {}, "t": True}
    assert to_json(plain, indent=2) == json.dumps(plain, indent=2)
    with pytest.raises(ValueError):
        to_json({"v": Decimal("NaN")})


def test_unvalidated_build_equals_validated_and_is_checked_later(payer: PayerSchedule) -> None:
    from cpoc_fhir.fhir.write import ResourceValidationError, validate_charge_item

    ctx = context(payer)
    assert build_charge_item(line(), ctx, validate=False) == build_charge_item(line(), ctx)
    broken = dict(build_charge_item(line(), ctx, validate=False), occurrenceTiming="soon")
    with pytest.raises(ResourceValidationError, match="occurrenceTiming"):
        validate_charge_item(broken)
