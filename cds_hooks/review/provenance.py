"""The FHIR R4 Provenance of one review action: who, when, which versions, why, before → after.

Built as a JSON dict and validated with the R4B model before it is sent (like every resource
this product writes). https://hl7.org/fhir/R4/provenance.html
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from fhir.resources.R4B.provenance import Provenance

from cpoc_fhir.fhir.write.publish import compact, validated
from cpoc_fhir.fhir.write.review_marks import REVIEW_ACTION

Resource = dict[str, Any]

DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
# What each action does to data (v3 DataOperation): a correction creates the new item.
OPERATION = {"approve": "UPDATE", "hold": "UPDATE", "decline": "UPDATE", "correct": "CREATE"}
# A reference the agent may carry: [base/]Practitioner|PractitionerRole|Patient|RelatedPerson/id
_USER = re.compile(
    r"^(?:https?://\S+/)?(?:Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]+$"
)


@dataclass(frozen=True)
class Change:
    """One review action as the Provenance and the audit record it."""

    action: str  # approve | hold | correct | decline
    targets: Sequence[str]  # ChargeItem/x/_history/n written by the action
    previous: str  # ChargeItem/x/_history/n before it
    before: str  # readable: "planned (on hold: …), xx202"
    after: str
    reason: str
    user: str | None  # the session's fhirUser
    recorded: datetime

    @property
    def summary(self) -> str:
        who = self.user or "unknown user"
        why = f" — reason: {self.reason}" if self.reason else ""
        return f"{self.action} {self.previous} by {who}: {self.before} → {self.after}{why}"


def agent_who(user: str | None) -> Resource:
    """The fhirUser as a reference when it is one, else a display."""
    if user and _USER.match(user):
        return {"reference": user}
    return {"display": user or "unknown"}


def build_provenance(change: Change, provenance_id: str) -> Resource:
    """The Provenance of ``change``; raises ``ResourceValidationError`` if it is not valid R4."""
    if change.recorded.tzinfo is None:
        raise ValueError("Provenance.recorded must be time-zone aware")
    resource = {
        "resourceType": "Provenance",
        "id": provenance_id,
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(change.summary)}</div>',
        },
        "target": [{"reference": t} for t in change.targets],
        "recorded": change.recorded.isoformat(timespec="seconds"),
        "activity": {
            "coding": [
                {"system": DATA_OPERATION, "code": OPERATION[change.action]},
                {"system": REVIEW_ACTION, "code": change.action},
            ],
            "text": change.action,
        },
        "reason": [{"text": change.reason}] if change.reason else None,
        "agent": [
            {
                "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "author"}]},
                "who": agent_who(change.user),
            }
        ],
        "entity": [{"role": "revision", "what": {"reference": change.previous}}],
    }
    return validated(compact(resource), Provenance, f"Provenance of {change.summary}")
