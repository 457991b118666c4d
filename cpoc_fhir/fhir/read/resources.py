"""One patient's resources as plain JSON dicts, with what their references need to resolve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cpoc_fhir.fhir.read.references import reference_key, resource_key

Resource = dict[str, Any]


@dataclass
class PatientResources:
    """The resources of one patient, as a source groups them.

    ``resources`` are the patient's own (the Patient itself included when present);
    ``shared`` holds resources tied to no patient (Medication, Practitioner, Organization,
    ResearchStudy, Location …) by "Type/id"; ``aliases`` maps Bundle fullUrls (urn:uuid)
    to "Type/id"; ``warnings`` are problems met while gathering them (never patient data).
    """

    patient_ref: str
    resources: list[Resource]
    shared: Mapping[str, Resource] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def patient(self) -> Resource | None:
        """The Patient resource, when the source had it."""
        for resource in self.resources:
            if resource.get("resourceType") == "Patient":
                return resource
        return None

    def key(self, reference: object) -> str | None:
        """The "Type/id" of a reference made inside this record (fullUrls resolved)."""
        return reference_key(reference, self.aliases)

    def of_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources if r.get("resourceType") == resource_type]


def dedupe(resources: list[Resource], warnings: list[str]) -> list[Resource]:
    """Keep the first of several copies of one "Type/id" (a folder may hold a resource both
    alone and inside a Bundle); warn when the copies differ."""
    seen: dict[str, Resource] = {}
    kept: list[Resource] = []
    for resource in resources:
        key = resource_key(resource)
        if key.endswith("/?"):
            kept.append(resource)
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = resource
            kept.append(resource)
        elif _content(first) != _content(resource):
            warnings.append(
                f"{key}: appears more than once with different content; the first is used"
            )
    return kept


def _content(resource: Resource) -> Resource:
    """A resource without its narrative and meta: copies that differ only there are equal."""
    return {k: v for k, v in resource.items() if k not in ("text", "meta")}
