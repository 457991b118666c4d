"""Precise problems of a resource, from the fhir.resources R4 (``R4B``) models.

The reader works on plain dicts for speed; these models are the slow path, used when a
resource could not be read or when every resource is to be checked (``ReaderSettings``).
Messages name the element and the rule, never the offending value (it may be patient data).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

MAX_PROBLEMS = 3


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class  # R4 models; the default is R5

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None


def problems(resource: Mapping[str, Any]) -> list[str]:
    """Up to three "element: rule" problems; empty when the resource is valid R4."""
    from pydantic import ValidationError

    resource_type = resource.get("resourceType")
    model = _model(resource_type) if isinstance(resource_type, str) else None
    if model is None:
        return [f"resourceType: unknown type {resource_type!r}"] if resource_type else []
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        return [_describe(error) for error in exc.errors()[:MAX_PROBLEMS]]
    except Exception as exc:  # a model bug must not stop reading a record
        return [f"could not be validated ({type(exc).__name__})"]
    return []


def _describe(error: Mapping[str, Any]) -> str:
    path = ""
    for part in error.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{path or 'resource'}: {message}"
