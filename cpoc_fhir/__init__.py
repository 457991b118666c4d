"""CPOC over FHIR R4: ASCO's Consolidated Payments for Oncology Care, computed from EHR data."""

__version__ = "0.1.0"
