"""The real value components (quality measures, ER collector, ratings, adjustment) bound for
``cpoc report value``; the pipeline (``value.report``) takes them as a parameter."""

from __future__ import annotations

import importlib

from cpoc_fhir.errors import CpocError
from cpoc_fhir.value.report import ValueComponents

_MODULES = ("quality", "er", "ratings", "adjustment")


def value_components() -> ValueComponents:
    try:
        for name in _MODULES:
            importlib.import_module(f"cpoc_fhir.value.{name}")
    except ImportError as exc:  # a build without the value measures
        raise CpocError(f"cpoc report value: the value measures are missing ({exc})") from None
    raise CpocError("cpoc report value: the value measures are not wired in this build yet")
