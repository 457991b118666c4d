"""Pathways ⇄ FHIR R4 PlanDefinition, and the readable authoring form (TOML) → pathways.

How a pathway sits in a PlanDefinition (type ``clinical-protocol``):

- ``url`` / ``version`` / ``title`` / ``date`` / ``publisher`` / ``description``;
  ``useContext`` focus = the cancer; ``relatedArtifact`` citations = the sources.
- one top-level action coded ``options`` (``selectionBehavior`` at-most-one) whose
  ``condition`` list (kind ``applicability``, all must hold) is the pathway's criteria, one
  clause each in ``text/x-cpoc-criterion`` with a readable ``description``, and whose
  sub-actions are the on-pathway regimens in value order, each coded with its regimen-catalog
  id (system ``REGIMEN_SYSTEM``) and, when the option names one, the dose setting of the
  regimen's per-setting doses (system ``DOSE_SETTING_SYSTEM``; abiraterone's prednisone).
- optionally a second top-level action coded ``backbone`` (``selectionBehavior`` all): the
  regimens given alongside any option (androgen deprivation).

Both directions live here so that what the product publishes is exactly what it reads back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.pathways.model import Criterion, Pathway, PathwayOption

CANONICAL_BASE = "https://cpoc-fhir.example.org/fhir"
REGIMEN_SYSTEM = "https://cpoc-fhir.example.org/CodeSystem/regimen"
ACTION_SYSTEM = "https://cpoc-fhir.example.org/CodeSystem/pathway-action"
DOSE_SETTING_SYSTEM = "https://cpoc-fhir.example.org/CodeSystem/regimen-dose-setting"
CRITERION_LANGUAGE = "text/x-cpoc-criterion"
PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
USAGE_CONTEXT_TYPE = "http://terminology.hl7.org/CodeSystem/usage-context-type"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # FHIR id

Resource = dict[str, Any]


# ---- authoring form (TOML, already parsed) → pathways -------------------------------------


def pathways_from_authoring(data: Mapping[str, Any], origin: str) -> list[Pathway]:
    """One authoring file: ``version``, ``date``, ``publisher``, ``cancer`` and
    ``[[pathways]]`` each with ``id``, ``title``, ``setting``, ``criteria`` (``when`` clause +
    ``says`` wording), ``[[pathways.options]]`` (``regimen``, ``note``, ``dose_setting``),
    ``backbone``,
    ``sources``."""
    where = origin
    version = _text(data, "version", where)
    cancer = _text(data, "cancer", where)
    entries = data.get("pathways")
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{where}: needs at least one [[pathways]] table")
    found = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise KnowledgeError(f"{where}: pathways[{i}] must be a table")
        pid = _text(entry, "id", f"{where} pathways[{i}]")
        here = f"{where} pathway {pid!r}"
        if not _ID.match(pid):
            raise KnowledgeError(f"{here}: id must be a FHIR id (letters, digits, - and .)")
        criteria = [Criterion.parse(f"cancer = {cancer}", f"Cancer: {cancer}", here)]
        for j, clause in enumerate(_list(entry, "criteria", here)):
            if not isinstance(clause, Mapping):
                raise KnowledgeError(f"{here}: criteria[{j}] must be {{ when = ..., says = ... }}")
            criteria.append(
                Criterion.parse(
                    _text(clause, "when", f"{here} criteria[{j}]"),
                    str(clause.get("says", "")),
                    f"{here} criteria[{j}]",
                )
            )
        options = []
        for j, option in enumerate(_list(entry, "options", here)):
            if not isinstance(option, Mapping):
                raise KnowledgeError(f"{here}: options[{j}] must be a table")
            options.append(
                PathwayOption(
                    _text(option, "regimen", f"{here} options[{j}]"),
                    str(option.get("note", "")),
                    str(option.get("dose_setting", "")),
                )
            )
        if not options:
            raise KnowledgeError(f"{here}: needs at least one option")
        if len({o.regimen for o in options}) != len(options):
            raise KnowledgeError(f"{here}: a regimen is listed twice")
        found.append(
            Pathway(
                id=pid,
                title=_text(entry, "title", here),
                url=str(entry.get("url") or f"{CANONICAL_BASE}/PlanDefinition/{pid}"),
                version=str(entry.get("version") or version),
                cancer=cancer,
                setting=_text(entry, "setting", here),
                criteria=tuple(criteria),
                options=tuple(options),
                backbone=tuple(str(b) for b in _list(entry, "backbone", here)),
                sources=tuple(str(s) for s in _list(entry, "sources", here)),
                publisher=str(data.get("publisher", "")),
                date=str(data.get("date", "")),
                description=str(entry.get("description") or entry.get("setting", "")),
                origin=origin,
            )
        )
    return found


# ---- pathway → PlanDefinition -------------------------------------------------------------


def to_plan_definition(pathway: Pathway, catalog: RegimenCatalog) -> Resource:
    """The PlanDefinition that publishes ``pathway`` (regimen names from the catalog)."""
    criteria = [c for c in pathway.criteria]
    options_action: Resource = {
        "title": "Choose one on-pathway regimen",
        "description": pathway.setting,
        "code": [_concept(ACTION_SYSTEM, "options", "On-pathway regimens, in value order")],
        "condition": [
            {
                "kind": "applicability",
                "expression": {
                    "description": c.description,
                    "language": CRITERION_LANGUAGE,
                    "expression": c.expression,
                },
            }
            for c in criteria
        ],
        "selectionBehavior": "at-most-one",
        "action": [
            _regimen_action(option.regimen, option.note, rank, catalog, option.dose_setting)
            for rank, option in enumerate(pathway.options, start=1)
        ],
    }
    actions = [options_action]
    if pathway.backbone:
        actions.append(
            {
                "title": "Given alongside every option",
                "code": [_concept(ACTION_SYSTEM, "backbone", "Backbone therapy")],
                "selectionBehavior": "all",
                "action": [_regimen_action(r, "", None, catalog) for r in pathway.backbone],
            }
        )
    resource: Resource = {
        "resourceType": "PlanDefinition",
        "id": pathway.id,
        "url": pathway.url,
        "version": pathway.version,
        "name": _computable_name(pathway.id),
        "title": pathway.title,
        "type": _concept(PLAN_TYPE, "clinical-protocol", "Clinical Protocol"),
        "status": "active",
        "date": pathway.date or None,
        "publisher": pathway.publisher or None,
        "description": pathway.description or pathway.setting,
        "useContext": [
            {
                "code": {"system": USAGE_CONTEXT_TYPE, "code": "focus"},
                "valueCodeableConcept": {"text": pathway.cancer},
            }
        ],
        "relatedArtifact": [{"type": "citation", "citation": s} for s in pathway.sources] or None,
        "action": actions,
    }
    return {k: v for k, v in resource.items() if v is not None}


def _regimen_action(
    regimen_id: str, note: str, rank: int | None, catalog: RegimenCatalog, dose_setting: str = ""
) -> Resource:
    regimen = catalog.regimen(regimen_id)
    name = regimen.name if regimen else regimen_id
    action: Resource = {"title": name, "code": [_concept(REGIMEN_SYSTEM, regimen_id, name)]}
    if dose_setting:  # which of the regimen's per-setting doses (abiraterone's prednisone)
        action["code"].append(_concept(DOSE_SETTING_SYSTEM, dose_setting, dose_setting))
    if rank is not None:
        action["prefix"] = str(rank)
    if note:
        action["description"] = note
    return action


def _concept(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _computable_name(pathway_id: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", pathway_id)
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name if name[:1].isalpha() else f"Pathway{name}"


# ---- PlanDefinition → pathway -------------------------------------------------------------


def from_plan_definition(resource: Mapping[str, Any], origin: str) -> Pathway:
    """Read a PlanDefinition published by ``to_plan_definition`` (or written by hand in the
    same shape); a clear error naming the resource and the element otherwise."""
    rid = resource.get("id")
    where = f"{origin} PlanDefinition/{rid}"
    if resource.get("resourceType") != "PlanDefinition":
        raise KnowledgeError(f"{origin}: not a PlanDefinition")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise KnowledgeError(f"{where}: id missing or not a FHIR id")
    if resource.get("status") == "retired":
        raise KnowledgeError(f"{where}: retired (remove it or set status active)")
    actions = resource.get("action")
    if not isinstance(actions, list):
        raise KnowledgeError(f"{where}: action missing")
    options_action = _action_coded(actions, "options", where)
    if options_action is None:
        raise KnowledgeError(f"{where}: no action coded {ACTION_SYSTEM}|options")
    criteria = []
    for i, condition in enumerate(options_action.get("condition") or []):
        here = f"{where} action.condition[{i}]"
        if condition.get("kind") != "applicability":
            continue
        expression = condition.get("expression") or {}
        if expression.get("language") != CRITERION_LANGUAGE:
            raise KnowledgeError(f"{here}: language must be {CRITERION_LANGUAGE}")
        criteria.append(
            Criterion.parse(
                str(expression.get("expression", "")), str(expression.get("description", "")), here
            )
        )
    cancers = [c.values[0] for c in criteria if c.fact == "cancer" and c.op == "="]
    if len(cancers) != 1:
        raise KnowledgeError(f"{where}: needs exactly one 'cancer = …' condition")
    options = tuple(
        PathwayOption(
            _regimen_code(a, f"{where} option {i + 1}"),
            str(a.get("description", "")),
            _code_in(a, DOSE_SETTING_SYSTEM) or "",
        )
        for i, a in enumerate(options_action.get("action") or [])
    )
    if not options:
        raise KnowledgeError(f"{where}: the options action lists no regimen")
    backbone_action = _action_coded(actions, "backbone", where)
    backbone = tuple(
        _regimen_code(a, f"{where} backbone {i + 1}")
        for i, a in enumerate((backbone_action or {}).get("action") or [])
    )
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        raise KnowledgeError(f"{where}: url missing (the pathway's canonical)")
    return Pathway(
        id=rid,
        title=str(resource.get("title") or rid),
        url=url,
        version=str(resource.get("version", "")),
        cancer=cancers[0],
        setting=str(options_action.get("description") or resource.get("description") or ""),
        criteria=tuple(criteria),
        options=options,
        backbone=backbone,
        sources=tuple(
            str(a.get("citation") or a.get("display") or a.get("url"))
            for a in resource.get("relatedArtifact") or []
            if a.get("citation") or a.get("display") or a.get("url")
        ),
        publisher=str(resource.get("publisher", "")),
        date=str(resource.get("date", "")),
        description=str(resource.get("description", "")),
        origin=origin,
    )


def plan_definitions_in(document: Mapping[str, Any], origin: str) -> list[Mapping[str, Any]]:
    """The PlanDefinitions of a JSON document: one resource, or a Bundle of them."""
    if document.get("resourceType") == "Bundle":
        found: list[Mapping[str, Any]] = [
            e["resource"]
            for e in document.get("entry") or []
            if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
        ]
        plans = [r for r in found if r.get("resourceType") == "PlanDefinition"]
        if not plans:
            raise KnowledgeError(f"{origin}: the Bundle holds no PlanDefinition")
        return plans
    return [document]


def _action_coded(actions: Iterable[Any], code: str, where: str) -> Mapping[str, Any] | None:
    for action in actions:
        if not isinstance(action, Mapping):
            raise KnowledgeError(f"{where}: an action is not an object")
        for concept in action.get("code") or []:
            for coding in (concept or {}).get("coding") or []:
                if coding.get("system") == ACTION_SYSTEM and coding.get("code") == code:
                    return action
    return None


def _regimen_code(action: Mapping[str, Any], where: str) -> str:
    code = _code_in(action, REGIMEN_SYSTEM)
    if code is None:
        raise KnowledgeError(f"{where}: no code in {REGIMEN_SYSTEM}")
    return code


def _code_in(action: Mapping[str, Any], system: str) -> str | None:
    for concept in action.get("code") or []:
        for coding in (concept or {}).get("coding") or []:
            if coding.get("system") == system and coding.get("code"):
                return str(coding["code"])
    return None


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: {key} is required (text)")
    return value.strip()


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise KnowledgeError(f"{where}: {key} must be a list")
    return value
