"""`cpoc regimens --check`: what a reviewer of the regimen catalog must look at before billing.

Findings (exit 1) are gaps against the one Table 3 method of cpoc-rules §5 and the catalog's
own rules: a figure without its source or without the trial, arm, table and number it was read
from; a figure marked "estimate" or read from all-cause rates; an RxNorm code not confirmed
against a second source; a regimen without dosing, or with an infused drug but no
``infusion_basis`` (the Table 4 infusion times it rests on). Notices are listed but do not
fail the check: regimens that share one anti-cancer set and differ by companions (allowed,
cpoc-rules §5 identity), and equal-size covers that the catalog order decides (the matching
tie-break of ``RegimenCatalog.match``).

Pure: reads a built ``RegimenCatalog``; the CLI prints the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from cpoc_fhir.knowledge.regimen_data import FIGURES
from cpoc_fhir.knowledge.regimen_model import Regimen, ToxicityFigure
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.terminal import WIDTH, wrapped

FINDING, NOTICE = "finding", "notice"
_CITATION = ("trial", "arm", "table", "number")
_ESTIMATE_RE = re.compile(r"\bestimated?\b", re.IGNORECASE)


@dataclass(frozen=True)
class CheckItem:
    """One line of the check: its level, kind, the entry it is about and what is wrong."""

    level: str  # FINDING | NOTICE
    kind: str  # e.g. "figure-estimate"
    subject: str  # e.g. "regimen 'folfox'"
    detail: str


def check_catalog(catalog: RegimenCatalog) -> list[CheckItem]:
    """Every finding and notice, in catalog order: drugs first, then regimens, then sets."""
    items: list[CheckItem] = []
    for drug in catalog.drugs.values():
        if not drug.rxcui_confirmed:
            note = f" ({drug.rxcui_note})" if drug.rxcui_note else ""
            items.append(
                CheckItem(
                    FINDING,
                    "rxcui-unconfirmed",
                    f"drug {drug.id!r}",
                    f"RxNorm {drug.rxcui} not confirmed{note}",
                )
            )
    for regimen in catalog.regimens.values():
        items.extend(_regimen_items(regimen))
    items.extend(_variants(catalog))
    items.extend(_cover_ties(catalog))
    return items


def _regimen_items(regimen: Regimen) -> list[CheckItem]:
    subject = f"regimen {regimen.id!r}"
    items = []
    figures: tuple[ToxicityFigure, ...] = (regimen.hospitalization, regimen.qol, regimen.death)
    for name, figure in zip(FIGURES, figures, strict=True):
        if not figure.source.strip():
            items.append(CheckItem(FINDING, "figure-no-source", subject, f"{name}: no source"))
        missing = [key for key in _CITATION if not getattr(figure, key)]
        if missing:
            items.append(
                CheckItem(FINDING, "figure-citation", subject, f"{name}: no {', '.join(missing)}")
            )
        if _ESTIMATE_RE.search(figure.source):
            items.append(
                CheckItem(
                    FINDING, "figure-estimate", subject, f"{name} {figure.percent}%: an estimate"
                )
            )
        if figure.basis == "all-cause":
            items.append(
                CheckItem(
                    FINDING, "figure-all-cause", subject, f"{name} {figure.percent}%: all-cause"
                )
            )
    if not regimen.dosing:
        items.append(CheckItem(FINDING, "no-dosing", subject, "no dosing"))
    if regimen.infusion_category is not None and not regimen.infusion_basis:
        items.append(
            CheckItem(
                FINDING,
                "no-infusion-basis",
                subject,
                f"Table 4 category {regimen.infusion_category} without infusion_basis",
            )
        )
    return items


def _variants(catalog: RegimenCatalog) -> list[CheckItem]:
    """Regimens sharing one anti-cancer set (they differ by companions: allowed, listed)."""
    groups: dict[frozenset[str], list[Regimen]] = {}
    for regimen in catalog.regimens.values():
        groups.setdefault(frozenset(regimen.drugs), []).append(regimen)
    items = []
    for members in groups.values():
        if len(members) < 2:
            continue
        described = "; ".join(
            f"{r.id} (companions: {', '.join(r.companions) or 'none'})" for r in members
        )
        drugs = " + ".join(members[0].drugs)
        items.append(CheckItem(NOTICE, "same-drug-set", f"drugs {drugs}", described))
    return items


def _cover_ties(catalog: RegimenCatalog) -> list[CheckItem]:
    """Two overlapping regimens of one size whose union no catalog regimen equals and no larger
    regimen inside it covers first: for those drugs, the one listed first wins the cover."""
    regimens = list(catalog.regimens.values())
    sets = {frozenset(r.drugs) for r in regimens}
    items = []
    seen: set[frozenset[str]] = set()
    for first, second in combinations(regimens, 2):
        a, b = frozenset(first.drugs), frozenset(second.drugs)
        if len(a) != len(b) or a == b or not a & b:
            continue
        union = a | b
        if union in sets or union in seen:
            continue
        if any(len(s) > len(a) and s <= union for s in sets):
            continue
        seen.add(union)
        tied = [r.id for r in regimens if len(r.drugs) == len(a) and set(r.drugs) <= union]
        items.append(
            CheckItem(
                NOTICE,
                "cover-tie",
                f"drugs {' + '.join(sorted(union))}",
                f"{' and '.join(tied)} tie at {len(a)} drugs; {tied[0]} wins (listed first)",
            )
        )
    return items


def check_failed(items: list[CheckItem]) -> bool:
    """True when any item is a finding (notices alone pass)."""
    return any(item.level == FINDING for item in items)


def check_json(catalog: RegimenCatalog, items: list[CheckItem]) -> dict[str, Any]:
    """The check as JSON-ready data."""
    return {
        "version": catalog.version,
        "findings": sum(item.level == FINDING for item in items),
        "notices": sum(item.level == NOTICE for item in items),
        "items": [
            {"level": i.level, "kind": i.kind, "subject": i.subject, "detail": i.detail}
            for i in items
        ],
    }


def check_text(catalog: RegimenCatalog, items: list[CheckItem], width: int | None = WIDTH) -> str:
    """The check for a person: a count line, then each item in fixed-width columns, its
    detail wrapped to ``width`` under itself (None: one line an item)."""
    findings = sum(item.level == FINDING for item in items)
    title = f"Regimen catalog {catalog.version}".rstrip()
    lines = [f"{title}: {findings} finding(s), {len(items) - findings} notice(s)"]
    if items:
        kind_width = max(len(item.kind) for item in items)
        lines.append("")
        for item in items:
            first = f"{item.level:<7}  {item.kind:<{kind_width}}  "
            text = f"{item.subject}: {item.detail}"
            lines.extend(wrapped(text, width, first, " " * min(len(first), 30)))
    return "\n".join(lines) + "\n"
