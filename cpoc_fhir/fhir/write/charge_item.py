"""One R4 ChargeItem per billing line, validated before it is returned.

Decisions:
- identifier: ``practice_identifier_system`` | ``<patient id>.<component>.<month start>``
  ("appendix-a-folfox.treatment-month.2025-03-03"); New Patient: ``<patient id>.new-patient``
  (once per patient, §4). The level, status and amount are not part of it, so a line whose level
  or status changes updates its ChargeItem instead of creating a second one.
- status (§11): provisional → planned, final → billable, not-billable → not-billable.
- ``meta.tag`` is ``PublishSettings.product_tag`` (code "cpoc-fhir") on every item.
- ``service`` holds the evidence R4 allows there; ``supportingInformation`` all of it. A hook's
  draft order is never referenced (its id is the EHR's local id, cpoc-rules §11): a line that
  rests only on drafts cites its diagnosis and the Patient instead.
- ``enteredDate`` is the run's instant, injected (no clock read here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.chargeitem import ChargeItem

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import (
    CancerRole,
    CareEpisode,
    Diagnosis,
    EpisodeKind,
    PatientRecord,
)
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine, LineStatus, is_resource_reference
from cpoc_fhir.fhir.write.publish import (
    PublishSettings,
    Resource,
    compact,
    line_codings,
    validated,
)
from cpoc_fhir.packs.cpoc.payer import CENT, PayerSchedule

ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED_CT = "http://snomed.info/sct"

CHARGE_STATUS = {
    LineStatus.PROVISIONAL: "planned",
    LineStatus.FINAL: "billable",
    LineStatus.NOT_BILLABLE: "not-billable",
}

# R4 ChargeItem.service: Reference(DiagnosticReport | ImagingStudy | Immunization |
# MedicationAdministration | MedicationDispense | Observation | Procedure | SupplyDelivery).
SERVICE_TYPES = frozenset(
    {
        "DiagnosticReport",
        "ImagingStudy",
        "Immunization",
        "MedicationAdministration",
        "MedicationDispense",
        "Observation",
        "Procedure",
        "SupplyDelivery",
    }
)

# The fields a capture run owns on an existing item (note: its text only).
_OWNED = (
    "status",
    "code",
    "subject",
    "context",
    "occurrencePeriod",
    "occurrenceDateTime",
    "performer",
    "performingOrganization",
    "quantity",
    "priceOverride",
    "reason",
    "service",
    "supportingInformation",
    "definitionCanonical",
)


@dataclass(frozen=True)
class ChargeDiagnosis:
    """The cancer diagnosis a ChargeItem gives as its reason."""

    ref: str
    icd10: str | None = None  # ICD-10-CM, dotted ("C18.7")
    snomed: str | None = None
    display: str = ""

    def concept(self) -> Resource:
        """The diagnosis as an R4 CodeableConcept (ICD-10-CM and/or SNOMED CT, text)."""
        coding = [
            {"system": ICD10_CM, "code": self.icd10} if self.icd10 else None,
            {"system": SNOMED_CT, "code": self.snomed} if self.snomed else None,
        ]
        return compact({"coding": coding, "text": self.display})


@dataclass(frozen=True)
class ChargeContext:
    """What a patient's ChargeItems share besides the line: references, payer, run instant."""

    patient_ref: str
    episode_ref: str | None
    diagnosis: ChargeDiagnosis | None
    entered: datetime  # the run's instant, time-zone aware
    payer: PayerSchedule
    settings: PublishSettings

    def __post_init__(self) -> None:
        if self.entered.tzinfo is None or self.entered.utcoffset() is None:
            raise ValueError("ChargeContext.entered must be time-zone aware")


def charge_context(
    record: PatientRecord, payer: PayerSchedule, settings: PublishSettings, entered: datetime
) -> ChargeContext:
    """The patient's oncology EpisodeOfCare and primary cancer diagnosis, bound to the run."""
    episode = oncology_episode(record.episodes)
    return ChargeContext(
        patient_ref=record.patient_ref,
        episode_ref=episode.ref if episode else None,
        diagnosis=cancer_diagnosis(record.diagnoses),
        entered=entered,
        payer=payer,
        settings=settings,
    )


def oncology_episode(episodes: Iterable[CareEpisode]) -> CareEpisode | None:
    """The oncology episode covering the latest period: an open one first, then the latest."""
    candidates = [e for e in episodes if e.kind is EpisodeKind.ONCOLOGY]
    return max(
        candidates,
        key=lambda e: (e.end is None, e.end or date.min, e.start or date.min, e.ref),
        default=None,
    )


def cancer_diagnosis(diagnoses: Iterable[Diagnosis]) -> ChargeDiagnosis | None:
    """The primary cancer with the latest onset (else a secondary one), ICD-10-CM dotted."""
    for role in (CancerRole.PRIMARY, CancerRole.SECONDARY):
        found = [d for d in diagnoses if d.cancer_role is role]
        if found:
            best = max(found, key=lambda d: (d.onset or date.min, d.ref))
            return ChargeDiagnosis(
                ref=best.ref,
                icd10=icd10_dotted(best.icd10[0]) if best.icd10 else None,
                snomed=best.snomed[0] if best.snomed else None,
                display=best.display,
            )
    return None


def icd10_dotted(code: str) -> str:
    """ICD-10-CM as billed: "C187" → "C18.7", "C20" → "C20" (a dot after 3 characters)."""
    code = code.strip().upper().replace(".", "")
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


def charge_item_identifier(patient_ref: str, line: BillingLine) -> str:
    """Deterministic identifier value: patient id, component and billing month start."""
    patient_id = quote(patient_ref.rstrip("/").rsplit("/", 1)[-1], safe="-._~")
    if line.component is Component.NEW_PATIENT:
        return f"{patient_id}.{line.component.value}"
    return f"{patient_id}.{line.component.value}.{line.start.isoformat()}"


def build_charge_item(line: BillingLine, ctx: ChargeContext, validate: bool = True) -> Resource:
    """The R4 ChargeItem of one line; raises ``ValueError`` naming the line if it is invalid.

    ``validate=False`` skips the R4B model check (about half the cost): the capture run builds
    every line's item to plan, and validates only those it sends (``validate_charge_item``).
    """
    settings = ctx.settings
    evidence = _server_evidence(line, ctx)
    item = {
        "resourceType": "ChargeItem",
        "meta": {"tag": [settings.product_tag]},
        "identifier": [
            {
                "system": settings.practice_identifier_system,
                "value": charge_item_identifier(ctx.patient_ref, line),
            }
        ],
        # Only CPOC's codes have a published ChargeItemDefinition (definitions.py); a pack's
        # line is priced by its pack's data file and cites none (value-and-models §15).
        "definitionCanonical": (
            [settings.definition_url(line.code)] if line.model == DEFAULT_MODEL else None
        ),
        "status": CHARGE_STATUS[line.status],
        "code": {"coding": line_codings(line, ctx.payer, settings)},
        "subject": _reference(ctx.patient_ref),
        "context": _reference(ctx.episode_ref),
        **_occurrence(line),
        "performer": [{"actor": _reference(settings.performer_practitioner)}],
        "performingOrganization": _reference(settings.performing_organization),
        "quantity": {"value": 1},
        "priceOverride": {"value": line.amount.quantize(CENT), "currency": ctx.payer.currency},
        "enteredDate": ctx.entered.isoformat(timespec="seconds"),
        "reason": [ctx.diagnosis.concept()] if ctx.diagnosis else None,
        "service": [_reference(r) for r in evidence if r.split("/", 1)[0] in SERVICE_TYPES],
        "supportingInformation": [_reference(r) for r in evidence],
        "note": [{"text": note_text(line)}],
    }
    if not validate:
        return compact(item)
    month = f"month {line.month}" if line.month is not None else "before month 1"
    what = f"ChargeItem for {line.code} {month} ({line.start.isoformat()}) of {ctx.patient_ref}"
    return validated(compact(item), ChargeItem, what)


def validate_charge_item(item: Resource) -> Resource:
    """Check a ChargeItem built with ``validate=False`` before it is sent."""
    ident = (item.get("identifier") or [{}])[0].get("value", "?")
    return validated(item, ChargeItem, f"ChargeItem {ident}")


def note_text(line: BillingLine) -> str:
    """The line's explanation, one sentence a line, then its warnings."""
    return "\n".join([*line.explanation, *(f"Warning: {w}" for w in line.warnings)])


def _server_evidence(line: BillingLine, ctx: ChargeContext) -> list[str]:
    """The line's evidence that names server resources (§11: drafts and the searches that
    found nothing are no References)."""
    evidence = [r for r in dict.fromkeys(line.evidence) if is_resource_reference(r)]
    if evidence or not line.evidence:
        return evidence
    # Only drafts or searches: what the line also rests on, the diagnosis and the Patient.
    diagnosis = ctx.diagnosis.ref if ctx.diagnosis else None
    return [r for r in (diagnosis, ctx.patient_ref) if r]


def _reference(ref: str | None) -> Resource | None:
    return {"reference": ref} if ref else None


def _occurrence(line: BillingLine) -> Resource:
    if line.component is Component.NEW_PATIENT:
        return {"occurrenceDateTime": line.start.isoformat()}
    return {"occurrencePeriod": {"start": line.start.isoformat(), "end": line.end.isoformat()}}


def charge_item_changed(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when a field the product owns differs (meta, id and enteredDate are ignored).

    Numbers compare by value (a server may write 430.00 as 430), empty values count as absent,
    and of the notes only the text counts. Most items a run compares are unchanged and equal as
    they are: ``_equal_as_they_are`` answers those without normalising anything.
    """
    if _equal_as_they_are(existing, desired):
        return False
    if any(_normal(existing.get(k)) != _normal(desired.get(k)) for k in _OWNED):
        return True
    return _note_texts(existing) != _note_texts(desired)


def _equal_as_they_are(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Every owned field and the note texts ``==`` as they are, and no float in them.

    Equal values normalise to equal values (``_normal`` is a function of the value, and ``==``
    of ints, Decimals and bools is exact), except floats: ``Decimal(str(1e23))`` is not the int
    a float equals. So a float anywhere sends the pair to the full comparison."""
    for key in _OWNED:
        mine, theirs = existing.get(key), desired.get(key)
        if mine != theirs or _holds_float(mine) or _holds_float(theirs):
            return False
    return _note_texts(existing) == _note_texts(desired)


def _holds_float(value: Any) -> bool:
    kind = value.__class__
    if kind is str or value is None or kind is int or kind is Decimal or kind is bool:
        return False
    if isinstance(value, float):
        return True
    if isinstance(value, Mapping):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_float(v) for v in value)
    return False


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in compact(dict(value)).items()} or None
    if isinstance(value, list | tuple):
        return [_normal(v) for v in compact(list(value))] or None
    return value


def _note_texts(resource: Mapping[str, Any]) -> list[str]:
    return [str(n.get("text", "")) for n in resource.get("note") or [] if isinstance(n, Mapping)]
