"""Capture against a FHIR server: find the practice's patients, read their records, write the plan.

Writes are idempotent: creates are conditional (``If-None-Exist: identifier=system|value``,
in batch bundles), updates and entered-in-error carry ``If-Match`` on the version read; a 412
(someone else changed the item) re-reads it and re-plans that one item once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cpoc_fhir.capture.plan import UPDATABLE, Action, Plan, Step
from cpoc_fhir.capture.run import WriteOutcome
from cpoc_fhir.fhir.client import FhirClient, FhirPreconditionFailed, FhirServerError
from cpoc_fhir.fhir.read import PatientResources, patient_resources
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES
from cpoc_fhir.fhir.write.review_marks import is_staff_owned

Resource = dict[str, Any]

PAGE = "200"


class ServerStore:
    def __init__(
        self, client: FhirClient, system: str, changed: Callable[[Resource, Resource], bool]
    ) -> None:
        self.client = client
        self.system = system
        self.changed = changed

    # --- which patients -------------------------------------------------------------------
    def patients_from_group(self, group_id: str) -> list[str]:
        group = self.client.read("Group", group_id)
        ids = []
        for member in group.get("member") or []:
            ref = str((member.get("entity") or {}).get("reference", ""))
            if ref.startswith("Patient/") and not member.get("inactive"):
                ids.append(ref.split("/", 1)[1])
        return ids

    def patients_with_episodes(self) -> Iterator[str]:
        """Every patient with an EpisodeOfCare on the server (the practice's oncology care;
        the engine bills nothing for patients without cancer care)."""
        seen = set()
        for episode in self.client.search("EpisodeOfCare", {"_count": PAGE}):
            if episode.get("status") == "entered-in-error":
                continue
            ref = str((episode.get("patient") or {}).get("reference", ""))
            if ref.startswith("Patient/") and ref not in seen:
                seen.add(ref)
                yield ref.split("/", 1)[1]

    # --- reading --------------------------------------------------------------------------
    def patient_resources(self, patient_id: str) -> PatientResources:
        resources: list[Resource] = [self.client.read("Patient", patient_id)]
        for search in RECORD_QUERIES:
            query = search.for_patient(patient_id)
            if search.resource_type == "MedicationRequest":
                query["_include"] = "MedicationRequest:medication"
            query["_count"] = PAGE
            resources.extend(self.client.search(search.resource_type, query))
        return patient_resources(resources, f"Patient/{patient_id}")

    def charge_resources(self, patient_id: str) -> list[Resource]:
        ref = f"Patient/{patient_id}"
        items = list(self.client.search("ChargeItem", {"subject": ref, "_count": PAGE}))
        claims = list(self.client.search("Claim", {"patient": ref, "_count": PAGE}))
        return items + claims

    # --- writing --------------------------------------------------------------------------
    def apply(self, patient_id: str, steps: Plan) -> list[WriteOutcome]:
        outcomes = [
            WriteOutcome(
                s.identifier,
                s.action.value,
                "unchanged",
                s.existing_id,
                s.existing_version,
                message=s.reason,
            )
            for s in steps.of(Action.UNCHANGED)
        ]
        outcomes += self._create(steps.of(Action.CREATE))
        for step in steps.of(Action.UPDATE) + steps.of(Action.ENTER_IN_ERROR):
            outcomes.append(self._update(step))
        return outcomes

    def _create(self, steps: list[Step]) -> list[WriteOutcome]:
        if not steps:
            return []
        entries = [
            {
                "resource": step.resource,
                "request": {
                    "method": "POST",
                    "url": "ChargeItem",
                    "ifNoneExist": f"identifier={self.system}|{step.identifier}",
                },
            }
            for step in steps
        ]
        results = self.client.batch(entries)
        outcomes = []
        for step, result in zip(steps, results, strict=True):
            if result.status in (200, 201):
                outcome = "created" if result.status == 201 else "existed"
                outcomes.append(
                    WriteOutcome(
                        step.identifier, "create", outcome, result.id, result.version, result.status
                    )
                )
            else:
                outcomes.append(
                    WriteOutcome(
                        step.identifier,
                        "create",
                        "failed",
                        None,
                        None,
                        result.status,
                        result.outcome or "",
                    )
                )
        return outcomes

    def _update(self, step: Step, retry: bool = True) -> WriteOutcome:
        try:
            result = self.client.update(step.resource, if_match=_etag(step.existing_version))
        except FhirPreconditionFailed:
            if not retry or step.existing_id is None:
                return _failed(step, 412, "changed by someone else")
            return self._replan(step)
        except FhirServerError as exc:
            return _failed(step, exc.status, str(exc))
        return WriteOutcome(
            step.identifier, step.action.value, "updated", result.id, result.version, result.status
        )

    def _replan(self, step: Step) -> WriteOutcome:
        """412: read the item again; write our version on top of the current one if it still
        differs (entered-in-error stays entered-in-error; an item staff reviewed meanwhile is
        theirs)."""
        assert step.existing_id is not None
        current = self.client.read("ChargeItem", step.existing_id)
        version = str((current.get("meta") or {}).get("versionId", ""))
        now_theirs = _now_staffs(current)
        if now_theirs is not None:
            return WriteOutcome(
                step.identifier,
                step.action.value,
                "unchanged",
                step.existing_id,
                version,
                412,
                f"{now_theirs}: left for billing staff",
            )
        if step.action is Action.UPDATE and not self.changed(current, step.resource):
            return WriteOutcome(step.identifier, "update", "unchanged", step.existing_id, version)
        if step.action is Action.ENTER_IN_ERROR and current.get("status") == "entered-in-error":
            return WriteOutcome(
                step.identifier, step.action.value, "unchanged", step.existing_id, version
            )
        retried = Step(
            step.action, step.identifier, step.resource, step.existing_id, version, step.reason
        )
        return self._update(retried, retry=False)


def _failed(step: Step, status: int | None, message: str) -> WriteOutcome:
    return WriteOutcome(
        step.identifier, step.action.value, "failed", step.existing_id, None, status, message
    )


def _etag(version: str | None) -> str | None:
    return f'W/"{version}"' if version else None


def _now_staffs(current: dict[str, Any]) -> str | None:
    """Why an item re-read after a 412 now belongs to billing staff, or None."""
    if is_staff_owned(current):
        return "now reviewed by staff"
    if current.get("status") not in UPDATABLE:
        return f"now {current.get('status')}"
    return None
