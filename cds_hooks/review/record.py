"""The record a review page evaluates, read from the session's FHIR server, kept to one patient.

A server may answer a patient-scoped search with other patients' resources (sekmet-fhir ignores
``ResearchSubject?individual=``; a server may ignore ``ChargeItem?subject=`` too). Those are
never the page's business: they are left out before anything is evaluated or shown, and the
administrator is told in the log, by resource id only (engineering rule: no patient data in
logs). Billing staff are told nothing: nothing about another patient reaches the page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.read import PatientResources, ResourceListSource, patient_resources
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES

log = logging.getLogger(__name__)

Resource = dict[str, Any]
PAGE = "200"
# How many left-out ids one log line names (the count is always complete).
_LOGGED_IDS = 20


def patient_record(client: FhirClient, patient_id: str) -> PatientResources:
    """The patient's resources: the searches every reader reads (``RECORD_QUERIES``, as the
    capture run issues them), other patients' resources left out and logged."""
    resources: list[Resource] = [client.read("Patient", patient_id)]
    for search in RECORD_QUERIES:
        query = search.for_patient(patient_id)
        if search.resource_type == "MedicationRequest":
            query["_include"] = "MedicationRequest:medication"
        query["_count"] = PAGE
        resources.extend(client.search(search.resource_type, query))
    ref = f"Patient/{patient_id}"
    return patient_resources(own_resources(resources, ref), ref)


def own_resources(resources: list[Resource], patient_ref: str) -> list[Resource]:
    """``resources`` without those the reader groups under another patient (shared ones,
    such as Medication or ResearchStudy, stay)."""
    foreign = {
        _key(resource)
        for group in ResourceListSource(resources).patients()
        if group.patient_ref != patient_ref
        for resource in group.resources
    }
    if not foreign:
        return resources
    report_foreign(patient_ref, sorted(foreign))
    return [r for r in resources if _key(r) not in foreign]


def report_foreign(patient_ref: str, keys: Iterable[str]) -> None:
    """Tell the administrator the server answered ``patient_ref``'s searches with other
    patients' resources (``keys``: "Type/id")."""
    listed = list(keys)
    shown = ", ".join(listed[:_LOGGED_IDS]) + (" …" if len(listed) > _LOGGED_IDS else "")
    log.warning(
        "review: the FHIR server answered the searches for %s with %d resource(s) of other "
        "patients (a search parameter it ignores?); left out of the page: %s",
        patient_ref,
        len(listed),
        shown,
    )


def _key(resource: Resource) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"
