"""Charge capture: CPOC lines written to the EHR as FHIR ChargeItems, exactly once."""
