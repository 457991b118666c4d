"""FHIR R4 adapters: reading resources into facts, writing CPOC resources."""
