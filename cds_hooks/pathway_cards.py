"""The care-pathway card of an order (proposal IV-A; CDS Hooks 2.0.1 §Card, §Suggestion).

- on pathway: info, naming the pathway and the option;
- off pathway: warning, with one suggestion per on-pathway regimen (value order, the first
  recommended): delete the order's draft MedicationRequests, create the alternative's —
  complete orders (medication, route, dose, timing), not placeholders, with the supportive
  orders a pharmacist expects as separate MedicationRequests — and override reasons for the
  deviations pathways are meant to learn from;
- off every pathway that may apply while a fact is missing: the same warning, the candidate
  pathways' regimens as suggestions, and the missing fact that decides between them;
- undetermined: info, saying what the record lacks ("PD-L1 … not on record");
- no pathway: info, and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_hooks.cards import Card, CardSource, first_fitting
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.knowledge.supportive import load_supportive_care
from cpoc_fhir.pathways.assess import PathwayAssessment, PathwayStatus
from cpoc_fhir.pathways.model import Pathway
from cpoc_fhir.pathways.orders import OrderFrame, SuggestedOrders, regimen_orders

DEVIATION_SYSTEM = "https://cpoc-fhir.example.org/CodeSystem/pathway-deviation-reason"
# Why an oncologist deviates (proposal IV-A.1: "the patient has just moved and needs
# to continue on a regimen started by a different practice").
DEVIATION_REASONS = (
    ("contraindication", "Contraindication to the on-pathway regimens"),
    ("patient-preference", "Patient preference"),
    ("continuing-regimen", "Continuing a regimen started elsewhere"),
    ("clinical-trial", "Treatment on a clinical trial"),
    ("other", "Other reason (please comment)"),
)
KIND = "pathway"


@dataclass(frozen=True)
class _Ordering:
    """What a suggestion's orders need besides the assessment."""

    source: CardSource
    catalog: RegimenCatalog
    draft_refs: tuple[str, ...]  # the draft orders a switch replaces
    today: date
    encounter_id: str | None


@dataclass
class PathwayCard:
    card: Card
    suggestions: dict[str, str] = field(default_factory=dict)  # suggestion uuid → regimen id


def pathway_card(
    source: CardSource,
    assessment: PathwayAssessment,
    catalog: RegimenCatalog,
    draft_refs: Sequence[str],
    today: date,
    encounter_id: str | None = None,
) -> PathwayCard:
    """``draft_refs``: the draft orders a switch replaces (the regimen's drafts)."""
    status = assessment.status
    regimen = assessment.regimen.name
    month = assessment.regimen.start.isoformat()
    if status is PathwayStatus.ON:
        pathway = _pathway(assessment)
        summary = first_fitting(
            f"On pathway: {regimen} — {pathway.title}",
            f"On pathway: {regimen}",
            fallback="On the practice's care pathway",
        )
        detail = _join([_applies(assessment), _on_detail(assessment, catalog)])
        return PathwayCard(
            _from_pathway(source.card(KIND, summary, "info", detail, month), pathway)
        )
    if status is PathwayStatus.OFF:
        at = _Ordering(source, catalog, tuple(draft_refs), today, encounter_id)
        if assessment.pathway is None:  # off every candidate pathway, a fact missing
            return _off_candidates_card(assessment, at)
        return _off_card(assessment, at)
    if status is PathwayStatus.UNDETERMINED:
        what = ", ".join(assessment.missing) or "; ".join(assessment.reasons)
        summary = first_fitting(
            f"Pathway undetermined for {regimen}: {what}",
            f"Pathway undetermined for {regimen}: a fact is not on record",
            fallback="Pathway undetermined: a fact is not on record",
        )
        detail = _join(
            [
                "Whether this order is on the practice's pathway cannot be told from the record:",
                _bullets(assessment.missing or assessment.reasons),
                _candidates(assessment, catalog),
                "Record the missing results (or the histology/stage) to get a pathway answer; "
                "nothing is guessed.",
            ]
        )
        return PathwayCard(source.card(KIND, summary, "info", detail, month))
    summary = first_fitting(
        f"No care pathway applies to {regimen}: {assessment.reasons[0]}",
        f"No care pathway applies to {regimen}",
        fallback="No care pathway applies to this order",
    )
    detail = _join(
        [
            "None of the practice's pathways applies to this order, so it counts neither for "
            "nor against pathway adherence (proposal IV-A).",
            _bullets(assessment.reasons),
            _facts(assessment),
        ]
    )
    return PathwayCard(source.card(KIND, summary, "info", detail, month))


def _off_card(assessment: PathwayAssessment, at: _Ordering) -> PathwayCard:
    pathway = _pathway(assessment)
    options = assessment.alternatives
    names = ", ".join(_name(o.regimen, at.catalog) for o in options[:3])
    summary = first_fitting(
        f"Off pathway: {assessment.regimen.name} is not on {pathway.title}; on pathway: {names}",
        f"Off pathway: {assessment.regimen.name} is not on {pathway.title}",
        f"Off pathway: {assessment.regimen.name}",
        fallback="Off the practice's care pathway: see the on-pathway options",
    )
    rows = ["| # | On-pathway regimen | Note |", "|---|---|---|"]
    rows += [
        f"| {i} | {_name(o.regimen, at.catalog)} | {o.note or ''} |"
        for i, o in enumerate(pathway.options, start=1)
    ]
    detail = _join(
        [
            _applies(assessment),
            f"**{assessment.regimen.name}** is not one of this pathway's regimens (listed in "
            "value order: the lower-cost option first where efficacy and toxicity are "
            "equivalent):",
            "\n".join(rows),
            "Switch with one of the suggestions (the draft orders are replaced), or keep the "
            "order and give the reason: deviations are reported to improve the pathway.",
        ]
    )
    card = _from_pathway(
        at.source.card(KIND, summary, "warning", detail, assessment.regimen.start.isoformat()),
        pathway,
    )
    return _with_suggestions(card, assessment, at)


def _off_candidates_card(assessment: PathwayAssessment, at: _Ordering) -> PathwayCard:
    """Off every pathway that could apply whatever the missing facts: the warning, with the
    candidates' regimens as suggestions, and what the record lacks to choose between them."""
    name = assessment.regimen.name
    first, more = assessment.missing[0], len(assessment.missing) - 1
    missing = f"{first}, and {more} more" if more else first
    count = len(assessment.candidates)
    which = "the pathway" if count == 1 else f"any of the {count} pathways"
    summary = first_fitting(
        f"Off pathway: {name} is not on {which} that may apply ({missing})",
        f"Off pathway: {name} is not on {which} that may apply",
        f"Off pathway: {name}",
        fallback="Off every care pathway that may apply: see the options",
    )
    rows = ["| # | Regimen | On pathway if |", "|---|---|---|"]
    rows += [
        f"| {i} | {_name(o.regimen, at.catalog)} | "
        f"{'; or '.join(p.title for p in assessment.offering(o.regimen))} |"
        for i, o in enumerate(assessment.alternatives, start=1)
    ]
    detail = _join(
        [
            f"**{name}** is on none of the practice's pathways that may apply to this patient, "
            "whatever the record's missing facts turn out to be: the order is off pathway.",
            "Not on record (it decides which of these pathways applies):\n\n"
            + _bullets(assessment.missing),
            _candidates(assessment, at.catalog),
            "The suggestions are the regimens of those pathways (value order within each):",
            "\n".join(rows),
            _facts(assessment),
            "Switch with one of the suggestions once the missing result confirms its pathway, "
            "or keep the order and give the reason: deviations are reported to improve the "
            "pathway.",
        ]
    )
    card = at.source.card(KIND, summary, "warning", detail, assessment.regimen.start.isoformat())
    return _with_suggestions(card, assessment, at)


def _with_suggestions(card: Card, assessment: PathwayAssessment, at: _Ordering) -> PathwayCard:
    """One suggestion per alternative regimen: delete the drafts, create the regimen's orders
    and its supportive orders (antiemetics, premedication, vitamins, G-CSF), all complete
    R4 MedicationRequests; the override reasons. The first is recommended only when one
    pathway applies (with candidates, the missing fact decides)."""
    made = PathwayCard(card)
    care = load_supportive_care()
    suggestions: list[dict[str, Any]] = []
    cancer = assessment.context.answer("cancer")
    cancer_ref = assessment.context.cancer.ref if assessment.context.cancer else None
    single = assessment.pathway is not None or len(assessment.candidates) == 1
    supportive_lines: list[str] = []
    for option in assessment.alternatives:
        regimen = at.catalog.regimen(option.regimen)
        if regimen is None or not regimen.dosing:
            continue
        pathways = assessment.offering(option.regimen)
        titles = "; or ".join(p.title for p in pathways)
        frame = OrderFrame(
            patient_id=at.source.patient_id,
            authored_on=at.today,
            canonicals=tuple(f"{p.url}|{p.version}" for p in pathways),
            note=f"{regimen.name}, on pathway: {titles} "
            f"({', '.join(f'{p.id} {p.version}' for p in pathways)}).",
            reason_ref=cancer_ref,
            encounter_id=at.encounter_id,
        )
        orders = regimen_orders(
            regimen, at.catalog, frame, str(cancer) if cancer else None, option.dose_setting, care
        )
        actions: list[dict[str, Any]] = [
            {
                "type": "delete",
                "description": f"Remove the draft order {ref} ({assessment.regimen.name})",
                "resourceId": ref,
            }
            for ref in at.draft_refs
        ]
        actions += [
            {"type": "create", "description": f"Order {_text(o)}", "resource": o}
            for o in orders.anticancer
        ]
        actions += [
            {"type": "create", "description": f"Supportive: {_text(o)}", "resource": o}
            for o in orders.supportive
        ]
        supportive_lines.append(_supportive_line(regimen.name, orders))
        suggestion_id = str(uuid.uuid4())
        made.suggestions[suggestion_id] = regimen.id
        label = (
            f"Switch to {regimen.name} (on pathway)"
            if single
            else f"Switch to {regimen.name} (on pathway if: {titles})"
        )
        suggestions.append(
            {
                "label": label,
                "uuid": suggestion_id,
                "isRecommended": single and not suggestions,
                "actions": actions,
            }
        )
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
        card["detail"] = _join(
            [
                card["detail"],
                "Each suggestion also orders its supportive care, as separate orders "
                "(antiemetics by emetogenic risk, ASCO 2020; premedication and vitamins per "
                "label; pegfilgrastim at a febrile-neutropenia risk of 20 % or more):",
                _bullets(supportive_lines),
            ]
        )
    card["overrideReasons"] = [
        {"system": DEVIATION_SYSTEM, "code": code, "display": display}
        for code, display in DEVIATION_REASONS
    ]
    return made


def _from_pathway(card: Card, pathway: Pathway) -> Card:
    """The card's source names the pathway (its guidance), the link stays our /about page."""
    card["source"] = {**card["source"], "label": f"Care pathway: {pathway.title}"}
    return card


def _applies(assessment: PathwayAssessment) -> str:
    pathway = _pathway(assessment)
    criteria = [f"{c.description}{_evidence(assessment, c.fact)}" for c in pathway.criteria]
    return _join(
        [
            f"**Pathway: {pathway.title}** ({pathway.id}, version {pathway.version}) — "
            f"{pathway.setting}.",
            "It applies because:\n\n" + _bullets(criteria),
        ]
    )


def _on_detail(assessment: PathwayAssessment, catalog: RegimenCatalog) -> str:
    option = assessment.option
    pathway = _pathway(assessment)
    parts = []
    if option is not None:
        note = f" ({option.note})" if option.note else ""
        rank = pathway.options.index(option) + 1
        parts.append(
            f"{_name(option.regimen, catalog)} is option {rank} of {len(pathway.options)}{note}."
        )
    else:
        parts.append("The order is the pathway's backbone therapy, given with every option.")
    others = [_name(o.regimen, catalog) for o in assessment.alternatives]
    if others:
        parts.append("Other on-pathway regimens: " + ", ".join(others) + ".")
    return " ".join(parts)


def _candidates(assessment: PathwayAssessment, catalog: RegimenCatalog) -> str:
    if not assessment.candidates:
        return ""
    ordered = set(assessment.regimen.regimen_ids)
    lines = []
    for pathway, needs in zip(assessment.candidates, assessment.reasons, strict=False):
        mark = " — includes this order's regimen" if ordered & set(pathway.regimens) else ""
        names = ", ".join(_name(r, catalog) for r in pathway.regimens)
        needed = needs.partition(" needs: ")[2]
        lines.append(f"**{pathway.title}** ({names}){mark}; needs: {needed}")
    return "Pathways that may apply:\n\n" + _bullets(lines)


def _facts(assessment: PathwayAssessment) -> str:
    described = assessment.context.describe()
    return f"On record: {', '.join(described)}." if described else ""


def _evidence(assessment: PathwayAssessment, fact: str) -> str:
    refs = assessment.context.evidence.get(fact, ())
    refs = tuple(r for r in refs if "/" in r and " " not in r)
    return f" (`{'`, `'.join(refs)}`)" if refs else ""


def _pathway(assessment: PathwayAssessment) -> Pathway:
    assert assessment.pathway is not None
    return assessment.pathway


def _supportive_line(name: str, orders: SuggestedOrders) -> str:
    products = ", ".join(
        dict.fromkeys(str(o["medicationCodeableConcept"]["text"]) for o in orders.supportive)
    )
    risk = orders.plan.emetic_risk if orders.plan else None
    said = f"emetogenic risk {risk}" if risk else "no parenteral chemotherapy"
    return f"{name} ({said}): {products or 'none'}"


def _text(order: dict[str, Any]) -> str:
    return str(order["dosageInstruction"][0]["text"])


def _name(regimen_id: str, catalog: RegimenCatalog) -> str:
    regimen = catalog.regimen(regimen_id)
    return regimen.name if regimen else regimen_id


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _join(parts: Sequence[str]) -> str:
    return "\n\n".join(p for p in parts if p)
