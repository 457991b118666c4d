"""What every published resource shares: settings, the CPOC coding, the product tag, checks, JSON.

Money stays ``Decimal`` from the payer file to the wire: resources are dicts whose decimal
values are ``Decimal`` objects, and ``to_json`` writes each one as a JSON number in its own
fixed-point form (``Decimal("430.00")`` → ``430.00``) — ``json.dumps`` cannot serialise
``Decimal`` and a float round trip could change a cent. Read such JSON back with
``json.loads(text, parse_float=Decimal)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from cpoc_fhir import __version__
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.json_text import dumps
from cpoc_fhir.packs.cpoc.codes import DISPLAY
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.registry import code_entry

Resource = dict[str, Any]

# The tag on every resource this product publishes (ChargeItem, CodeSystem,
# ChargeItemDefinition): a capture run finds its own items with
# ``_tag=<product_tag_system>|cpoc-fhir``.
PRODUCT_TAG_CODE = "cpoc-fhir"
PRODUCT_TAG_DISPLAY = "Produced by cpoc-fhir (ASCO CPOC billing from FHIR R4)"


class ResourceValidationError(CpocError, ValueError):
    """A resource this product built is not valid R4 (or has an empty value): never sent."""


@dataclass(frozen=True)
class PublishSettings:
    """Canonical URLs and practice references of the published resources.

    The defaults live under example.org: a deployment sets its own canonical base
    (``codesystem_url``, ``definition_base``, ``practice_identifier_system`` and
    ``product_tag_system``) before publishing anything to a real server.
    """

    codesystem_url: str = "http://example.org/fhir/CodeSystem/cpoc"
    definition_base: str = "http://example.org/fhir/ChargeItemDefinition"
    practice_identifier_system: str = "http://example.org/fhir/sid/cpoc-charge"
    performing_organization: str | None = None  # "Organization/<id>" of the practice
    performer_practitioner: str | None = None  # "Practitioner/<id>" (or PractitionerRole)
    version: str = __version__
    product_tag_system: str = "http://example.org/fhir/CodeSystem/cpoc-fhir-tag"
    # The Measures of the value-based adjustment (§12) and their MeasureReports' identifiers;
    # unset: "Measure" beside definition_base (…/fhir/ChargeItemDefinition → …/fhir/Measure).
    measure_base: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "codesystem_url",
            "definition_base",
            "practice_identifier_system",
            "product_tag_system",
            "version",
        ):
            _require_token(name, getattr(self, name))
        for name in ("performing_organization", "performer_practitioner", "measure_base"):
            value = getattr(self, name)
            if value is not None:
                _require_token(name, value)

    def definition_url(self, code: str) -> str:
        """The canonical URL of the ChargeItemDefinition of one CPOC code."""
        return f"{self.definition_base.rstrip('/')}/cpoc-{code}"

    @property
    def canonical_root(self) -> str:
        """The base the canonical URLs share: definition_base without its last segment."""
        return self.definition_base.rstrip("/").rpartition("/")[0] or self.definition_base

    def measure_url(self, measure_id: str) -> str:
        """The canonical URL of one Measure (value-and-models §12.2 submission)."""
        base = self.measure_base or f"{self.canonical_root}/Measure"
        return f"{base.rstrip('/')}/{measure_id}"

    @property
    def measure_report_identifier_system(self) -> str:
        """The identifier system of the MeasureReports a practice submits (one per measure,
        year and practice, and per patient for individual reports)."""
        return self.measure_url("cpoc-measure-report")

    def extension_url(self, name: str) -> str:
        """A product extension's URL, under the canonical root."""
        return f"{self.canonical_root}/StructureDefinition/{name}"

    @property
    def price_component_system(self) -> str:
        """Codes of the ChargeItemDefinition price components (base, gpci, …)."""
        return f"{self.codesystem_url}-price-component"

    @property
    def product_tag(self) -> Resource:
        return {
            "system": self.product_tag_system,
            "code": PRODUCT_TAG_CODE,
            "display": PRODUCT_TAG_DISPLAY,
        }


def _require_token(name: str, value: str) -> None:
    if not isinstance(value, str) or not value or value != value.strip() or " " in value:
        raise ValueError(f"PublishSettings.{name} must be a non-empty URL/reference: {value!r}")


def cpoc_codings(code: str, payer: PayerSchedule, settings: PublishSettings) -> list[Resource]:
    """The CPOC coding, then the payer's own code when its file maps this one."""
    codings: list[Resource] = [
        {"system": settings.codesystem_url, "code": code, "display": DISPLAY[code]}
    ]
    payer_code = payer.codes.get(code)
    if payer_code is not None:
        codings.append(
            {"system": payer_code.system, "code": payer_code.code, "display": payer_code.display}
        )
    return codings


def line_codings(
    line: BillingLine, payer: PayerSchedule, settings: PublishSettings
) -> list[Resource]:
    """A line's codings: CPOC's (above), or its pack's code in the pack's system — HCPCS for
    MEOS (value-and-models §15), the practice's CodeSystem for a code no public system has."""
    if line.model == DEFAULT_MODEL:
        return cpoc_codings(line.code, payer, settings)
    entry = code_entry(line.code, line.model)
    if entry is None:
        raise ValueError(f"pack {line.model!r} has no code {line.code!r}")
    system = entry.system or settings.codesystem_url
    return [{"system": system, "code": entry.code, "display": entry.display}]


def compact(value: Any) -> Any:
    """The value without None, "" , [] and {} anywhere (FHIR forbids empty elements).

    Mappings come back as dicts, lists and tuples as lists. On the capture run's hot path
    (every ChargeItem built): plain dicts, lists and strings are tested by their exact type
    first, which skips the ``Mapping`` ABC check and one call per leaf; anything else takes
    the general path, with the same result."""
    if value.__class__ is dict:
        return _compact_dict(value)
    if value.__class__ is list:
        return _compact_list(value)
    if isinstance(value, Mapping):
        return _compact_dict(value)
    if isinstance(value, list | tuple):
        return _compact_list(value)
    return value


def _compact_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        kind = item.__class__
        if kind is str:
            if item:
                out[key] = item
        elif kind is dict:
            item = _compact_dict(item)
            if item:
                out[key] = item
        elif kind is list:
            item = _compact_list(item)
            if item:
                out[key] = item
        elif item is not None:
            item = compact(item)
            if not _empty(item):
                out[key] = item
    return out


def _compact_list(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    out = []
    for item in value:
        kind = item.__class__
        if kind is str:
            if item:
                out.append(item)
        elif kind is dict:
            item = _compact_dict(item)
            if item:
                out.append(item)
        elif kind is list:
            item = _compact_list(item)
            if item:
                out.append(item)
        elif item is not None:
            item = compact(item)
            if not _empty(item):
                out.append(item)
    return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def empty_paths(value: Any, path: str = "") -> list[str]:
    """Where a resource holds an empty value or a null (FHIR allows neither).

    A resource almost always has none: ``_has_empty`` answers that in one pass without
    building any path; only a resource with one is walked again for the paths."""
    if not _has_empty(value):
        return []
    return _empty_paths(value, path)


def _has_empty(value: Any) -> bool:
    """Whether ``value`` is, or holds anywhere, what ``_empty_paths`` reports."""
    kind = value.__class__
    if kind is str:
        return not value or value.isspace()
    if kind is dict:
        if not value:
            return True
        return any(map(_has_empty, value.values()))
    if kind is list:
        if not value:
            return True
        return any(map(_has_empty, value))
    if value is None or kind is int or kind is Decimal or kind is bool:
        return value is None
    return bool(_empty_paths(value, ""))  # anything else: the general definition


def _empty_paths(value: Any, path: str) -> list[str]:
    if _empty(value) or (isinstance(value, str) and not value.strip()):
        return [path or "(root)"]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _empty_paths(v, f"{path}.{k}".lstrip("."))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _empty_paths(v, f"{path}[{i}]")]
    return []


def validated(resource: Resource, model: Any, what: str) -> Resource:
    """``resource`` itself, once it has no empty value and the R4B ``model`` accepts it."""
    empty = empty_paths(resource)
    if empty:
        raise ResourceValidationError(f"{what}: empty value at {', '.join(empty)}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ResourceValidationError(f"{what}: not a valid R4 resource: {problems}") from None
    return resource


def to_json(resource: Any, indent: int | None = None) -> str:
    """JSON text of a resource; ``Decimal`` values become numbers written exactly as they are.

    ``indent=None`` gives compact JSON (for a request body), ``indent=2`` pretty JSON (files).
    One writer serves the client and the files: ``cpoc_fhir.fhir.json_text.dumps``.
    """
    return dumps(resource, indent)
