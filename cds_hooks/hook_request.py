"""A CDS Hooks request body, checked (CDS Hooks 2.0.1 §Calling a CDS Service).

Every problem becomes a ``RequestError`` naming the field (a JSON path) and what is wrong; the
app answers 400 with it. What real EHRs send is accepted where the meaning is clear: a
draftOrders Bundle without ``type``, a draft MedicationRequest without ``intent`` or ``status``.
No message repeats a value from the request (it may be patient data).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Resource = dict[str, Any]
ABSENT = object()  # a prefetch key the client did not send (``None`` means "no data")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 id datatype
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class RequestError(Exception):
    """A malformed request: ``where`` is a JSON path in the body; ``status`` 400, or 413 for
    a limit exceeded."""

    def __init__(self, where: str, message: str, status: int = 400) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
        self.status = status


@dataclass(frozen=True)
class FhirAccess:
    """The client's FHIR server and the bearer token it passed for this call (never logged)."""

    server: str
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class HookRequest:
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]
    fhir: FhirAccess | None = None
    # id() of each resource of the body → its JSON path, so that a resource the reader cannot
    # interpret is named in the 400 (see cds_hooks/uninterpretable.py). Draft copies are added.
    origins: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])

    def prefetched(self, key: str) -> Any:
        """The prefetch value for ``key``: a resource, ``None`` (no data) or ``ABSENT``."""
        return self.prefetch.get(key, ABSENT)


def parse_request(body: Any, hook: str, max_entries: int = 5000) -> HookRequest:
    """Check a request body for a service answering ``hook``; no Bundle in it (prefetch,
    draftOrders) may hold more than ``max_entries`` entries."""
    if not isinstance(body, dict):
        raise RequestError("$", "the request body must be a JSON object")
    given = _string(body, "hook", "$.hook")
    if given != hook:
        raise RequestError("$.hook", f"this service answers the {hook} hook")
    instance = _string(body, "hookInstance", "$.hookInstance")
    context = body.get("context")
    if not isinstance(context, dict):
        raise RequestError("$.context", "required, a JSON object")
    patient_id = _string(context, "patientId", "$.context.patientId")
    if not FHIR_ID.fullmatch(patient_id):
        raise RequestError(
            "$.context.patientId", "must be a FHIR id (1-64 of A-Z a-z 0-9 - .), not a reference"
        )
    prefetch = body.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise RequestError("$.prefetch", "must be a JSON object")
    origins: dict[int, str] = {}
    for key, value in prefetch.items():
        where = member("$.prefetch", key)
        if value is not None and not (isinstance(value, dict) and "resourceType" in value):
            raise RequestError(where, "must be a FHIR resource or null")
        if isinstance(value, dict):
            _register(value, where, max_entries, origins)
    _check_patient(prefetch.get("patient"), patient_id)
    drafts = context.get("draftOrders")
    if isinstance(drafts, dict):
        _entries(drafts, "$.context.draftOrders", max_entries)
    return HookRequest(given, instance, context, prefetch, _fhir_access(body), origins)


def _register(value: Resource, where: str, max_entries: int, origins: dict[int, str]) -> None:
    origins[id(value)] = where
    if value.get("resourceType") != "Bundle":
        return
    for i, entry in enumerate(_entries(value, where, max_entries)):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            origins[id(resource)] = f"{where}.entry[{i}].resource"


def _entries(bundle: Resource, where: str, max_entries: int) -> list[Any]:
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RequestError(f"{where}.entry", "must be an array")
    if len(entries) > max_entries:
        raise RequestError(
            f"{where}.entry", f"more than {max_entries} entries in one Bundle", status=413
        )
    return entries


def _check_patient(value: Any, patient_id: str) -> None:
    """``prefetch.patient`` must be the context's patient: another patient's record must
    never be billed under this one's id."""
    if value is None or value.get("resourceType") == "OperationOutcome":
        return
    if value.get("resourceType") != "Patient":
        raise RequestError("$.prefetch.patient", "must be a Patient resource")
    if value.get("id") != patient_id:
        raise RequestError("$.prefetch.patient", "is not the patient of context.patientId")


def member(where: str, name: Any) -> str:
    """The JSON path of ``where``'s member ``name``; a name that is no plain identifier (it is
    the caller's text) is shown as ``*``, never repeated."""
    return f"{where}.{name}" if isinstance(name, str) and _NAME.fullmatch(name) else f"{where}.*"


def hook_instance_of(body: Any) -> str | None:
    """The hookInstance of a body, when it has a usable one (for the audit of refusals)."""
    value = body.get("hookInstance") if isinstance(body, dict) else None
    return value[:255] if isinstance(value, str) and value.strip() else None


def _string(obj: Mapping[str, Any], name: str, where: str) -> str:
    value = obj.get(name)
    if value is None:
        raise RequestError(where, "required")
    if not isinstance(value, str) or not value.strip():
        raise RequestError(where, "must be a non-empty string")
    return value


def _fhir_access(body: Mapping[str, Any]) -> FhirAccess | None:
    server = body.get("fhirServer")
    auth = body.get("fhirAuthorization")
    if server is None:
        if auth is not None:
            raise RequestError("$.fhirServer", "required when fhirAuthorization is given")
        return None
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise RequestError("$.fhirServer", "must be an absolute http(s) URL")
    if auth is None:
        return FhirAccess(server.rstrip("/"))
    if not isinstance(auth, dict):
        raise RequestError("$.fhirAuthorization", "must be a JSON object")
    token = auth.get("access_token")
    if not isinstance(token, str) or not token:
        raise RequestError("$.fhirAuthorization.access_token", "required, a string")
    token_type = auth.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise RequestError("$.fhirAuthorization.token_type", "must be Bearer")
    return FhirAccess(server.rstrip("/"), token)


# --- draft orders (order-select, order-sign) ------------------------------------------------


@dataclass(frozen=True)
class DraftOrders:
    """The draft orders of the context, normalised copies, and which ones are selected."""

    resources: tuple[Resource, ...]
    selected: frozenset[str]  # "Type/id" of the orders the hook is about


def draft_orders(request: HookRequest, today: str, selections: bool) -> DraftOrders:
    """``context.draftOrders`` as resources the reader takes as this patient's drafts.

    Copies get an id when they have none, the patient as subject when they name none, status
    ``draft`` when absent, and ``authoredOn`` = today when absent.
    ``selections`` (order-select) limits the orders the cards are about.
    """
    bundle = request.context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise RequestError("$.context.draftOrders", "required, a FHIR Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise RequestError("$.context.draftOrders.entry", "must be an array")
    resources = []
    for i, entry in enumerate(entries):
        where = f"$.context.draftOrders.entry[{i}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise RequestError(f"{where}.resource", "required, a FHIR resource")
        if "id" in resource and not (
            isinstance(resource["id"], str) and FHIR_ID.fullmatch(resource["id"])
        ):
            raise RequestError(f"{where}.resource.id", "must be a FHIR id")
        copy = _normalised(resource, i, request.patient_id, today, where)
        request.origins[id(copy)] = f"{where}.resource"
        resources.append(copy)
    refs = [f"{r['resourceType']}/{r['id']}" for r in resources]
    chosen = set(refs)
    if selections and "selections" in request.context:
        chosen = _selections(request.context["selections"], refs)
    return DraftOrders(tuple(resources), frozenset(chosen))


def _normalised(resource: Resource, i: int, patient_id: str, today: str, where: str) -> Resource:
    copy = dict(resource)
    copy.setdefault("id", f"draft-{i + 1}")
    subject = copy.get("subject")
    expected = f"Patient/{patient_id}"
    if subject is None:
        copy["subject"] = {"reference": expected}
    elif not isinstance(subject, dict) or str(subject.get("reference", "")).rsplit("/", 2)[-2:] != [
        "Patient",
        patient_id,
    ]:
        raise RequestError(f"{where}.resource.subject", "is not the patient of the context")
    copy.setdefault("status", "draft")
    # A draft is being authored now; planned dates (timing events, bounds, validity period)
    # still take precedence over authoredOn in the reader.
    if copy["resourceType"] in ("MedicationRequest", "ServiceRequest"):
        copy.setdefault("authoredOn", today)
    return copy


def _selections(value: Any, refs: list[str]) -> set[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestError("$.context.selections", "must be an array of strings")
    unknown = [v for v in value if v not in refs]
    if unknown:
        raise RequestError(
            "$.context.selections", f"{len(unknown)} selection(s) name no draft order"
        )
    return set(value)
