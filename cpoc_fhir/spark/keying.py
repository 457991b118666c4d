"""The patient of one NDJSON line: what the Spark engine keys each resource by (pure, no I/O).

The Bulk Data patient compartment (https://hl7.org/fhir/uv/bulkdata/export.html): a resource
belongs to the patient named by ``subject``, ``patient``, ``individual`` or ``beneficiary``
(``cpoc_fhir.fhir.read.references.PATIENT_FIELDS``), a Patient to itself; a resource naming no
patient (Medication, Organization, Practitioner …) is *shared* and broadcast to every
executor. This mirrors ``fhir.read.index.Index.add`` so the Spark engine groups exactly what
the local engine groups (value-and-models §15: the same packs then bill the same lines).

Each line becomes zero or more ``Keyed`` tuples ``(kind, key, order, payload)``:

- ``PATIENT``: key "Patient/x", payload the resource's JSON text;
- ``SHARED``: key "Type/id", payload the resource's JSON text (the first by ``order`` wins);
- ``ALIAS``: key a Bundle fullUrl (urn:uuid:…), payload the "Type/id" it names;
- ``WARNING``: key "", payload a message naming the file and byte offset (never patient data).

``order`` is ``(file number, byte offset, position inside a Bundle)``: sorting a patient's
resources by it restores the order the local engine reads them in (files by name, lines in
file order), which decides which of two copies of a resource is kept.
"""

from __future__ import annotations

import json
from typing import Any

from cpoc_fhir.fhir.read.bundles import flatten
from cpoc_fhir.fhir.read.index import decode_reason
from cpoc_fhir.fhir.read.references import (
    has_patient_field,
    patient_field_problem,
    patient_key,
    resource_key,
)

PATIENT, SHARED, ALIAS, WARNING = "P", "S", "A", "W"
Order = tuple[int, int, int]
Keyed = tuple[str, str, Order, str]
Resource = dict[str, Any]


def key_line(file_no: int, name: str, offset: int, text: str) -> list[Keyed]:
    """The keyed records of one NDJSON line (``name``: its file's name, for warnings)."""
    if not text.strip():
        return []
    where = f"{name}@{offset}"
    try:
        resource = json.loads(text)
    except ValueError as exc:
        return [
            (
                WARNING,
                "",
                (file_no, offset, 0),
                f"{where}: not JSON ({decode_reason(exc)}); line skipped",
            )
        ]
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [(WARNING, "", (file_no, offset, 0), f"{where}: not a FHIR resource; line skipped")]
    if resource["resourceType"] != "Bundle":
        return key_resource(resource, (file_no, offset, 0), where, {}, text)
    aliases: dict[str, str] = {}
    warnings: list[str] = []
    inner = list(flatten(resource, aliases, warnings, where))
    out: list[Keyed] = [(WARNING, "", (file_no, offset, 0), w) for w in warnings]
    out += [(ALIAS, url, (file_no, offset, 0), key) for url, key in sorted(aliases.items())]
    for position, item in enumerate(inner, start=1):
        out += key_resource(item, (file_no, offset, position), where, aliases, None)
    return out


def key_resource(
    resource: Resource, order: Order, where: str, aliases: dict[str, str], text: str | None
) -> list[Keyed]:
    """One parsed resource keyed as ``Index.add`` files it (``text``: its JSON, if known)."""
    problem = patient_field_problem(resource)
    rid = resource.get("id")
    named = isinstance(rid, str) and bool(rid)
    if problem is not None:
        return [(WARNING, "", order, f"{where}: {resource_key(resource)}: {problem}; left out")]
    key = patient_key(resource, aliases)
    if key is not None:
        return [(PATIENT, key, order, text if text is not None else json.dumps(resource))]
    if has_patient_field(resource):
        return [
            (
                WARNING,
                "",
                order,
                f"{where}: {resource_key(resource)} names no patient that can be resolved; skipped",
            )
        ]
    if not named:
        # Unreferenceable: the local engine names it "no-id-N"; here the line's position.
        resource = {**resource, "id": f"no-id-{order[0]}-{order[1]}-{order[2]}"}
        return [
            (
                WARNING,
                "",
                order,
                f"{where}: a resource without id is named {resource_key(resource)}",
            ),
            (SHARED, resource_key(resource), order, json.dumps(resource)),
        ]
    return [
        (SHARED, resource_key(resource), order, text if text is not None else json.dumps(resource))
    ]


def first_by_order(a: tuple[Order, str], b: tuple[Order, str]) -> tuple[Order, str]:
    """Of two copies of a shared resource, the one read first (``Index.add``'s setdefault)."""
    return a if a[0] <= b[0] else b
