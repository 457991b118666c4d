"""Coverage → who pays for the patient when (value-and-models §15: the payer selects the
payment-model pack; https://hl7.org/fhir/R4/coverage.html).

A Coverage counts while its status is ``active`` (or absent); ``cancelled``, ``draft`` and
``entered-in-error`` ones are out of force. Only the first ``payor`` names the payer (R4: the
issuer of the policy): its reference, else its identifier ("system|value"), else its display.
A Coverage with no payor that can be named is left out with a warning: guessing a payer would
bill the patient under the wrong model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpoc_fhir.engine.facts import CoverageFact
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.context import ReadContext
from cpoc_fhir.fhir.read.references import reference_key, resource_key

OUT_OF_FORCE = frozenset({"cancelled", "draft", "entered-in-error"})


def read_coverages(ctx: ReadContext) -> list[CoverageFact]:
    coverages: list[CoverageFact] = []
    for resource in ctx.of_type("Coverage"):
        with ctx.reading(resource):
            if access.code(resource, "status") in OUT_OF_FORCE:
                continue
            start, end = access.period(resource, "period")
            payors = access.references(resource, "payor")
            order = access.integer(resource, "order")
            kind = access.concept(resource, "type")
            classes = access.objects(resource, "class")
            payer = payer_name(payors[0]) if payors else None
            if payer is None:
                ctx.warn(resource, "no payor named; its payer is not used")
                continue
            display = payors[0].get("display")
            coverages.append(
                CoverageFact(
                    ref=resource_key(resource),
                    payer=payer,
                    start=start,
                    end=end,
                    order=order if order is not None else 1 << 30,
                    payer_display=display if isinstance(display, str) else "",
                    type_codes=_codes(kind),
                    class_values=tuple(
                        v for c in classes if isinstance(v := c.get("value"), str) and v
                    ),
                )
            )
    return coverages


def payer_name(reference: Mapping[str, Any]) -> str | None:
    """A payor Reference as the settings name payers: "Organization/x", "system|value",
    or the display."""
    key = reference_key(reference.get("reference"))
    if key is not None:
        return key
    identifier = reference.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        system = identifier.get("system")
        return f"{system}|{identifier['value']}" if isinstance(system, str) else identifier["value"]
    display = reference.get("display")
    return display if isinstance(display, str) and display else None


def _codes(concept: Mapping[str, Any] | None) -> tuple[str, ...]:
    if not concept:
        return ()
    out = []
    for coding in concept.get("coding") or ():
        code = coding.get("code")
        if isinstance(code, str) and code:
            system = coding.get("system")
            out.append(f"{system}|{code}" if isinstance(system, str) else code)
    return tuple(out)
