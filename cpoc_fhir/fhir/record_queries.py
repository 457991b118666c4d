"""The FHIR searches that make up one patient's CPOC record, for every reader of a server.

The month-end capture run issues them itself; the CDS Hooks services publish them as prefetch
templates (``{{context.patientId}}`` in place of the id) and issue the ones a client did not
prefetch. One list, so both always read the same record.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from cpoc_fhir.fhir.read.pathway_facts import BIOMARKER_LOINC

# The Observation codes the reader interprets (fhir/read/observations.py, stages.py): ECOG,
# Karnofsky, cancer disease status (STU4 and STU1), TNM stage groups (LOINC and SNOMED CT);
# the biomarkers care pathways branch on (fhir/read/pathway_facts.py); and the health-related
# social needs screenings EOM requires (value-and-models §15.2): 96777-8 AHC HRSN screening
# tool, 96778-6 its supplemental questions, 93025-5 PRAPARE.
HRSN_SCREENING_LOINC = ("96777-8", "96778-6", "93025-5")
OBSERVATION_CODES = ",".join(
    [
        f"http://loinc.org|{c}"
        for c in (
            *("89247-1", "89243-0", "97509-4", "88040-1", "21908-9", "21902-2", "21914-7"),
            *BIOMARKER_LOINC,
            *HRSN_SCREENING_LOINC,
        )
    ]
    + [f"http://snomed.info/sct|{c}" for c in ("399537006", "399588009")]
)


@dataclass(frozen=True)
class RecordQuery:
    """One search of the record: ``key`` names it as a CDS Hooks prefetch key."""

    key: str
    resource_type: str
    params: tuple[tuple[str, str], ...]  # values may hold {pid}

    def for_patient(self, patient_id: str) -> dict[str, str]:
        return {name: value.format(pid=patient_id) for name, value in self.params}

    def template(self, token: str = "{{context.patientId}}") -> str:
        """The prefetch template: a type-level search with the patient id as a token."""
        query = urlencode(self.for_patient("PID"), safe="|,:/").replace("PID", token)
        return f"{self.resource_type}?{query}"


RECORD_QUERIES: tuple[RecordQuery, ...] = (
    RecordQuery("conditions", "Condition", (("patient", "{pid}"),)),
    RecordQuery("observations", "Observation", (("patient", "{pid}"), ("code", OBSERVATION_CODES))),
    RecordQuery("medicationRequests", "MedicationRequest", (("patient", "{pid}"),)),
    RecordQuery("medicationAdministrations", "MedicationAdministration", (("patient", "{pid}"),)),
    RecordQuery("medicationDispenses", "MedicationDispense", (("patient", "{pid}"),)),
    RecordQuery("medicationStatements", "MedicationStatement", (("patient", "{pid}"),)),
    RecordQuery("encounters", "Encounter", (("patient", "{pid}"),)),
    RecordQuery("episodesOfCare", "EpisodeOfCare", (("patient", "{pid}"),)),
    RecordQuery("researchSubjects", "ResearchSubject", (("individual", "Patient/{pid}"),)),
    RecordQuery("procedures", "Procedure", (("patient", "{pid}"),)),
    # value-and-models §15: the payer (Coverage.payor) selects the patient's payment model;
    # EOM's enhanced services are recorded as screenings and QuestionnaireResponses (§15.2).
    RecordQuery("coverages", "Coverage", (("beneficiary", "Patient/{pid}"),)),
    RecordQuery("questionnaireResponses", "QuestionnaireResponse", (("patient", "{pid}"),)),
)
