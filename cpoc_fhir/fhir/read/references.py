"""FHIR references reduced to "Type/id", and the patient a resource belongs to.

https://hl7.org/fhir/R4/references.html: a literal reference is relative ("Patient/1"),
absolute ("http://x/fhir/Patient/1", maybe with "/_history/2"), a Bundle fullUrl
("urn:uuid:…", resolved through the Bundle's entries) or local to the resource ("#med1").
Conditional references ("Practitioner?identifier=…") cannot be resolved without a server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cpoc_fhir.fhir.read.memo import UNSEEN, BoundedMemo

# Elements that name the patient a resource is about, in the order they are tried
# (Observation.subject, AllergyIntolerance.patient, ResearchSubject.individual,
# Coverage.beneficiary, …).
PATIENT_FIELDS = ("subject", "patient", "individual", "beneficiary")

_ABSOLUTE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([^/?#]+)(?:/_history/[^/?#]+)?/?$")


def reference_key(reference: object, aliases: Mapping[str, str] | None = None) -> str | None:
    """The "Type/id" of a literal reference, else None (conditional, contained or unknown)."""
    if type(reference) is not str or not reference:
        return None
    if aliases:
        alias = aliases.get(reference)
        if alias is not None:
            return alias
    # A record names its patient, its orders … again and again: each string is split once.
    # Looked up inline (the memo's table, then the memo for a new string): ~200 000 calls
    # per 2 000 patients.
    found = _seen_keys.get(reference, UNSEEN)
    return _keys(reference) if found is UNSEEN else found  # type: ignore[return-value]


def _literal_key(reference: str) -> str | None:
    if ":" not in reference and "?" not in reference and "#" not in reference:
        parts = reference.split("/")
        if len(parts) == 2 and parts[0][:1].isupper() and parts[1]:
            return reference
        if len(parts) == 4 and parts[2] == "_history" and parts[0][:1].isupper():
            return f"{parts[0]}/{parts[1]}"
    if reference.startswith(("urn:", "#")) or "?" in reference:
        return None
    match = _ABSOLUTE.search(reference)
    return f"{match.group(1)}/{match.group(2)}" if match else None


_keys: BoundedMemo[str | None] = BoundedMemo(_literal_key)
_seen_keys = _keys.table


def patient_key(
    resource: Mapping[str, Any], aliases: Mapping[str, str] | None = None
) -> str | None:
    """The "Patient/id" of the patient a resource is about, or None.

    An unresolved ``urn:uuid:x`` that is explicitly typed Patient (``"type": "Patient"``)
    becomes "Patient/x": Bundles from some exporters name patients that way without
    including the Patient resource.
    """
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return f"Patient/{rid}" if isinstance(rid, str) and rid else None
    for name in PATIENT_FIELDS:
        value = resource.get(name)
        if not isinstance(value, dict):
            continue
        reference = value.get("reference")
        key = reference_key(reference, aliases)
        if key is not None:
            if key.startswith("Patient/"):
                return key
            continue
        if (
            isinstance(reference, str)
            and reference.startswith("urn:")
            and value.get("type") == "Patient"
        ):
            return "Patient/" + reference.rsplit(":", 1)[-1]
    return None


def has_patient_field(resource: Mapping[str, Any]) -> bool:
    """True when the resource has an element naming a patient (so it belongs to one)."""
    return any(resource.get(name) is not None for name in PATIENT_FIELDS)


def patient_field_problem(resource: Mapping[str, Any]) -> str | None:
    """What is wrong ("subject is not a FHIR Reference") when an element naming the patient
    has the wrong FHIR type (cpoc-rules §11: the resource is then unreadable), else None."""
    for name in PATIENT_FIELDS:
        value = resource.get(name)
        if value is None:
            continue
        if type(value) is not dict:
            return f"{name} is not a FHIR Reference"
        if not isinstance(value.get("reference", ""), str):
            return f"{name}.reference is not a FHIR string"
    return None


def resource_key(resource: Mapping[str, Any]) -> str:
    """The "Type/id" of a resource (id "?" when it has none)."""
    rid = resource.get("id")
    return f"{resource.get('resourceType')}/{rid if isinstance(rid, str) and rid else '?'}"


def patient_id(value: str) -> str:
    """The bare id of "Patient/x" or "x"."""
    return value[len("Patient/") :] if value.startswith("Patient/") else value
