"""FHIR R4 write adapter: billing lines → ChargeItems; the CPOC CodeSystem and the payer's
ChargeItemDefinitions. Pure functions returning JSON dicts, each validated with the R4B models
(``fhir.resources.R4B``) before it is returned; ``to_json`` writes them with exact decimals.
"""

from cpoc_fhir.fhir.write.charge_item import (
    CHARGE_STATUS,
    ICD10_CM,
    SERVICE_TYPES,
    SNOMED_CT,
    ChargeContext,
    ChargeDiagnosis,
    build_charge_item,
    cancer_diagnosis,
    charge_context,
    charge_item_changed,
    charge_item_identifier,
    icd10_dotted,
    oncology_episode,
    validate_charge_item,
)
from cpoc_fhir.fhir.write.definitions import (
    charge_item_definitions,
    code_system,
    price_components,
    write_resources,
)
from cpoc_fhir.fhir.write.publish import (
    PRODUCT_TAG_CODE,
    PublishSettings,
    ResourceValidationError,
    cpoc_codings,
    empty_paths,
    to_json,
)

__all__ = [
    "CHARGE_STATUS",
    "ICD10_CM",
    "PRODUCT_TAG_CODE",
    "SERVICE_TYPES",
    "SNOMED_CT",
    "ChargeContext",
    "ChargeDiagnosis",
    "PublishSettings",
    "ResourceValidationError",
    "build_charge_item",
    "cancer_diagnosis",
    "charge_context",
    "charge_item_changed",
    "charge_item_definitions",
    "charge_item_identifier",
    "code_system",
    "cpoc_codings",
    "empty_paths",
    "icd10_dotted",
    "oncology_episode",
    "price_components",
    "to_json",
    "validate_charge_item",
    "write_resources",
]
