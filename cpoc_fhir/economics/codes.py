"""Procedure code systems and the three FFS classes the model reports (§14.1).

- **replaced**: the codes CPOC replaces (cpoc-rules §10, the II-D table) — the list is
  ``cpoc_fhir.packs.cpoc.ffs.REPLACED_CODES``, used as is;
- **drug**: payments for drugs, the same under CPOC and FFS (proposal III-F): HCPCS Level II
  J-codes (J0120–J9999: drugs administered other than orally, J8xxx oral anti-cancer and
  anti-emetic drugs, J9xxx chemotherapy drugs), Q5101–Q5199 (biosimilars), and items coded
  by NDC;
- **other**: every other service (laboratory, imaging, consultations 99241–99255, procedures).

CPT codes arrive under the AMA's system or, in CMS Blue Button and many payers' CARIN data,
under the HCPCS system (CPT is HCPCS Level I): both count.
"""

from __future__ import annotations

import re
from enum import Enum

from cpoc_fhir.packs.cpoc.ffs import REPLACED_CODES

# https://hl7.org/fhir/R4/terminologies-systems.html (CPT, HCPCS), CARIN BB C4BBEOBProfessional
# item.productOrService bindings, and CMS Blue Button 2.0's own HCPCS system.
CPT_SYSTEMS = frozenset({"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12"})
HCPCS_SYSTEMS = frozenset(
    {
        "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",  # FHIR R4 terminologies
        "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",  # CARIN BB Aliases.fsh
        "http://terminology.hl7.org/CodeSystem/HCPCS",
        "urn:oid:2.16.840.1.113883.6.285",
    }
)
PROCEDURE_SYSTEMS = CPT_SYSTEMS | HCPCS_SYSTEMS
NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
PROCEDURE_FAMILY = "cpt-hcpcs"  # one namespace: CPT codes are HCPCS Level I codes

_DRUG_HCPCS = re.compile(r"J\d{4}|Q51\d\d")


class FfsKind(Enum):
    REPLACED = "replaced"
    DRUG = "drug"
    OTHER = "other"


def family(system: str | None) -> str | None:
    """The namespace a code is priced and classified in: CPT and HCPCS share one."""
    if system in PROCEDURE_SYSTEMS:
        return PROCEDURE_FAMILY
    return system


def classify(system: str | None, code: str) -> FfsKind:
    """Replaced, drug or other (this module's docstring says which codes)."""
    if system in PROCEDURE_SYSTEMS:
        if code in REPLACED_CODES:
            return FfsKind.REPLACED
        if _DRUG_HCPCS.fullmatch(code):
            return FfsKind.DRUG
    elif system == NDC_SYSTEM:
        return FfsKind.DRUG
    return FfsKind.OTHER
