"""FHIR R4 read adapter: resources → the engine's facts (``cpoc_fhir.engine.facts``).

Sources group resources per patient (``open_source``: Bundle file, folder, Bulk NDJSON;
``patient_resources`` for in-memory resources); ``read_record`` turns one patient's
resources into a ``PatientRecord``.
"""

from cpoc_fhir.fhir.read.context import ReaderSettings
from cpoc_fhir.fhir.read.record import read_record
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.sources import (
    BundleSource,
    FolderSource,
    NdjsonSource,
    RecordSource,
    ResourceListSource,
    open_source,
    patient_resources,
)

__all__ = [
    "BundleSource",
    "FolderSource",
    "NdjsonSource",
    "PatientResources",
    "ReaderSettings",
    "RecordSource",
    "ResourceListSource",
    "open_source",
    "patient_resources",
    "read_record",
]
