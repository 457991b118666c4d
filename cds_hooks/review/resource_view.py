"""The evidence viewer's summary of one FHIR resource, as plain data (issue 17 item 3).

Pure: no I/O, no Flask. Evidence opens inside the app (``GET /review/patient/<id>/resource/
<type>/<rid>``, evidence.py): the resource fetched with the session's token, shown as a few
readable fields and its JSON, never a raw FHIR URL the browser would open through the EHR's
proxy without a token. ``belongs_to`` keeps the viewer to the page's patient: a resource the
reader files under another patient is not shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks.review.record import own_resources

RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,40}")
RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

# (label, the elements that may carry it), the first present wins.
_WHAT = ("code", "medicationCodeableConcept", "type", "vaccineCode", "class")
_WHEN = (
    "effectiveDateTime",
    "effectivePeriod",
    "occurrenceDateTime",
    "occurrencePeriod",
    "authoredOn",
    "performedDateTime",
    "performedPeriod",
    "onsetDateTime",
    "recordedDate",
    "issued",
    "period",
    "whenHandedOver",
    "birthDate",
)
_VALUE = ("valueQuantity", "valueCodeableConcept", "valueInteger", "valueString", "valueBoolean")
_WHO = ("subject", "patient", "beneficiary", "individual")


@dataclass(frozen=True)
class ResourceSummary:
    reference: str  # "Type/id"
    title: str  # what it is, in words
    fields: tuple[tuple[str, str], ...]  # (label, value) pairs, readable
    json: str  # the resource, pretty-printed


def belongs_to(resource: dict[str, Any], patient_ref: str) -> bool:
    """Whether the viewer may show ``resource`` on ``patient_ref``'s page: the patient's own
    resource or a shared one (Medication, ResearchStudy, …), never another patient's."""
    return bool(own_resources([resource], patient_ref))


def summarise(resource: Mapping[str, Any]) -> ResourceSummary:
    """The readable summary of ``resource``."""
    kind = str(resource.get("resourceType", "Resource"))
    ref = f"{kind}/{resource.get('id', '')}"
    fields: list[tuple[str, str]] = [("Type", kind)]
    what = _first(resource, _WHAT, concept)
    if what:
        fields.append(("What", what))
    if isinstance(resource.get("status"), str):
        fields.append(("Status", resource["status"]))
    when = _first(resource, _WHEN, moment)
    if when:
        fields.append(("When", when))
    value = _first(resource, _VALUE, quantity)
    if value:
        fields.append(("Value", value))
    components = [
        f"{concept(c.get('code'))}: {_first(c, _VALUE, quantity)}"
        for c in resource.get("component") or []
        if isinstance(c, Mapping)
    ]
    if components:
        fields.append(("Components", "; ".join(components)))
    who = _first(resource, _WHO, reference)
    if who:
        fields.append(("Patient", who))
    for label, key in (("Reason", "reasonCode"), ("Category", "category")):
        listed = [concept(c) for c in resource.get(key) or [] if isinstance(c, Mapping)]
        if any(listed):
            fields.append((label, "; ".join(x for x in listed if x)))
    title = f"{kind}: {what}" if what else ref
    return ResourceSummary(ref, title, tuple(fields), json.dumps(resource, indent=2))


def concept(value: Any) -> str:
    """A CodeableConcept (or Coding, or a list of them) as text: its text, else its codings'
    displays or codes."""
    if isinstance(value, list):
        return "; ".join(x for x in (concept(v) for v in value) if x)
    if not isinstance(value, Mapping):
        return ""
    if value.get("text"):
        return str(value["text"])
    codings = value.get("coding") if "coding" in value else [value]
    shown = [
        str(c.get("display") or f"{c.get('code', '')}")
        for c in codings or []
        if isinstance(c, Mapping) and (c.get("display") or c.get("code"))
    ]
    return "; ".join(shown)


def moment(value: Any) -> str:
    """A dateTime, or a Period as "start – end"."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return f"{value.get('start', '…')} – {value.get('end', '…')}"
    return ""


def quantity(value: Any) -> str:
    if isinstance(value, Mapping) and "value" in value:
        return f"{value['value']} {value.get('unit') or value.get('code') or ''}".strip()
    if isinstance(value, Mapping):
        return concept(value)
    return "" if value is None else str(value)


def reference(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("reference") or value.get("display") or "")
    return ""


def _first(resource: Mapping[str, Any], keys: tuple[str, ...], show: Any) -> str:
    for key in keys:
        if resource.get(key) is not None:
            text: str = show(resource[key])
            if text:
                return text
    return ""
