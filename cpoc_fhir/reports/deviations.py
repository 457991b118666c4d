"""The adherence report's deviations export (``cpoc report adherence --deviations OUT``).

``OUT.csv``: one row per off-pathway signed order (internal: it has Patient ids);
``OUT.json``: a FHIR R4 Bundle (collection) of de-identified GuidanceResponses for pathway
developers (no subject, no ids, month precision, no free-text comment), each validated with
``fhir.resources.R4B``.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from cpoc_fhir.store.pathways import StoredDecision

NO_REASON = "no reason given"
DEVIATION_COLUMNS = (
    "date",
    "patient_id",
    "pathway_id",
    "pathway_title",
    "pathway_version",
    "cancer",
    "regimen_id",
    "regimen_name",
    "line_of_therapy",
    "feedback",
    "reason_system",
    "reason_code",
    "reason_display",
    "comment",
    "alternatives_offered",
)


def deviations_csv(deviations: Sequence[StoredDecision], tz: tzinfo | None) -> str:
    """One row per off-pathway signed order (it names Patient resource ids: internal use)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DEVIATION_COLUMNS)
    for d in deviations:
        fb = d.feedback if d.feedback and d.feedback.outcome == "overridden" else None
        given = fb is not None and bool(fb.reason_code or fb.reason_display or fb.comment)
        writer.writerow(
            [
                _local_date(d.decided_at, tz).isoformat(),
                d.patient_id,
                d.pathway_id or "",
                d.pathway_title or "",
                d.pathway_version or "",
                d.cancer or "",
                d.regimen_id or "",
                d.regimen_name or "",
                "" if d.line_of_therapy is None else d.line_of_therapy,
                d.feedback.outcome if d.feedback else "",
                (fb.reason_system or "") if fb else "",
                (fb.reason_code or "") if fb else "",
                (fb.reason_display or "") if given and fb else NO_REASON,
                (fb.comment or "") if fb else "",
                " ".join(d.alternatives),
            ]
        )
    return buffer.getvalue()


def deviations_bundle(deviations: Sequence[StoredDecision], tz: tzinfo | None) -> dict[str, Any]:
    """A Bundle (collection) of de-identified GuidanceResponses, one per off-pathway order.

    No subject, no Patient or order ids, no hookInstance, no free-text comment; the date is
    the month only, and entries are sorted by month, pathway and regimen (not by time).
    """
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.guidanceresponse import GuidanceResponse

    from cpoc_fhir.fhir.write.publish import validated

    resources = []
    for d in deviations:
        month = _local_date(d.decided_at, tz).strftime("%Y-%m")
        resource = _guidance_response(d, month)
        resources.append(
            validated(resource, GuidanceResponse, f"GuidanceResponse ({d.pathway_id})")
        )
    resources.sort(
        key=lambda r: (
            r["occurrenceDateTime"],
            json.dumps(r.get("moduleCanonical") or r.get("moduleCodeableConcept")),
            json.dumps(r["note"]),
        )
    )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if resources:
        bundle["entry"] = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    return validated(bundle, Bundle, "deviations Bundle")


def _guidance_response(d: StoredDecision, month: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": str(uuid.uuid4()),
        "status": "success",
        "occurrenceDateTime": month,
    }
    if d.pathway_url:
        version = f"|{d.pathway_version}" if d.pathway_version else ""
        resource["moduleCanonical"] = f"{d.pathway_url}{version}"
    else:
        version = f" version {d.pathway_version}" if d.pathway_version else ""
        resource["moduleCodeableConcept"] = {
            "text": f"care pathway {d.pathway_id or 'unknown'}{version}"
            + (f" ({d.pathway_title})" if d.pathway_title else "")
        }
    resource["reasonCode"] = [_override_reason(d)]
    regimen = (
        f"{d.regimen_name} ({d.regimen_id})"
        if d.regimen_name and d.regimen_id
        else d.regimen_name or d.regimen_id or "not identified in the regimen catalog"
    )
    line = "unknown" if d.line_of_therapy is None else str(d.line_of_therapy)
    offered = ", ".join(d.alternatives) if d.alternatives else "none offered"
    notes = [f"Regimen given: {regimen}", f"Line of therapy: {line}"]
    notes.append(f"On-pathway alternatives offered: {offered}")
    if d.cancer:
        notes.append(f"Cancer: {d.cancer}")
    resource["note"] = [{"text": text} for text in notes]
    return resource


def _override_reason(d: StoredDecision) -> dict[str, Any]:
    """The override reason as a CodeableConcept; a free-text comment is never shared."""
    fb = d.feedback if d.feedback and d.feedback.outcome == "overridden" else None
    if fb is None or not (fb.reason_code or fb.reason_display or fb.comment):
        return {"text": NO_REASON}
    reason: dict[str, Any] = {}
    if fb.reason_code:
        coding = {"system": fb.reason_system, "code": fb.reason_code}
        coding["display"] = fb.reason_display
        reason["coding"] = [{k: v for k, v in coding.items() if v}]
    reason["text"] = (
        fb.reason_display or fb.reason_code or "overridden with a free-text comment (not shared)"
    )
    return reason


def _local_date(moment: datetime, tz: tzinfo | None) -> date:
    return moment.astimezone(tz).date()
