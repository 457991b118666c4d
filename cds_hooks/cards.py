"""Billing lines → CDS Hooks cards (CDS Hooks 2.0.1 §Card Attributes).

Cards say what the clinician would want to know at that moment and nothing else: the CPOC code
and level, what drives it (the four scores and their evidence), the other lines the order
brings, and what documentation the level lacks. Summaries stay under 140 characters; details
are GitHub-flavoured Markdown; every card has a uuid (for feedback), an indicator and a source.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.packs.cpoc.codes import DISPLAY, Component
from cpoc_fhir.packs.cpoc.draft import draft_target, is_draft_evidence
from cpoc_fhir.store.hooks import CardRecord

Card = dict[str, Any]
SUMMARY_LIMIT = 139  # the spec: "<140-character summary"
OVERRIDE_SYSTEM = "https://cpoc-fhir.example.org/CodeSystem/cds-override-reason"
# Why a clinician may dismiss a documentation card; the display is required (spec §Card).
OVERRIDE_REASONS = (
    ("documented-elsewhere", "Documented elsewhere in the record"),
    ("will-document", "Will document before the month ends"),
    ("not-applicable", "Does not apply to this patient"),
)
# Cards say what they are about, for the audit and for clients that sort them (spec §Extensions).
KIND_EXTENSION = "org.cpoc-fhir.card-kind"
_FACTORS = ("Comorbidity", "Performance", "Toxicity", "Administration")


@dataclass(frozen=True)
class CardSource:
    """What every card of one response shares: its source and the review app's launch link."""

    label: str
    url: str | None
    review_launch_url: str | None
    patient_id: str

    def card(
        self,
        kind: str,
        summary: str,
        indicator: str,
        detail: str,
        month: str | None,
        model: str = "CPOC",
    ) -> Card:
        """``model``: the short name of the pack whose lines the review link opens."""
        card: Card = {
            "uuid": str(uuid.uuid4()),
            "summary": shorten(summary),
            "indicator": indicator,
            "detail": detail,
            "source": {"label": self.label, "url": self.url},
            "links": [self._review_link(month, model)] if self.review_launch_url else None,
            "extension": {KIND_EXTENSION: kind},
        }
        return card

    def _review_link(self, month: str | None, model: str) -> Card:
        context = {"patient": self.patient_id, "month": month}
        return {
            "label": f"Review {shorten(model, 40)} lines",
            "url": self.review_launch_url,
            "type": "smart",
            "appContext": json.dumps({k: v for k, v in context.items() if v}),
        }


def fitted(required: str, optional: str = "", limit: int = SUMMARY_LIMIT) -> str | None:
    """``required`` followed by ``optional`` when both fit whole; None when they do not.

    Summaries are built from bounded parts (codes, numbers, dates, fixed words) plus optional
    parts that are shown whole or not at all: nothing is ever cut mid-word."""
    text = " ".join(f"{required}{optional}".split())
    return text if len(text) <= limit else None


def first_fitting(*choices: str, fallback: str) -> str:
    """The first of ``choices`` (most informative first) that fits the limit whole, else
    ``fallback``, a fixed phrase that always fits."""
    for choice in choices:
        text = fitted(choice)
        if text is not None:
            return text
    return fallback


def shorten(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """A summary within the spec's limit, cut at a word with an ellipsis when too long."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:—-")
    return f"{cut}…"


def record_of(card: Card, code: str | None = None) -> CardRecord:
    """How the audit remembers a card (no patient data)."""
    kind = str((card.get("extension") or {}).get(KIND_EXTENSION, "card"))
    return CardRecord(card["uuid"], kind, card["indicator"], code)


# --- order-select / order-sign ------------------------------------------------------------


def treatment_card(
    source: CardSource,
    line: BillingLine,
    before: BillingLine | None,
    others: Sequence[BillingLine],
    extra: Sequence[str] = (),
) -> Card:
    """The Treatment Month the order falls in: code, level, score breakdown, evidence."""
    score = line.score
    total = f" (score {score.total})" if score else ""
    summary = f"CPOC {line.code}: Treatment Month {line.month}, level {line.level}{total}"
    summary += _change(line, before)
    parts = [_heading(line), _score_table(line)]
    if before is not None and before.code != line.code:
        parts.append(f"Without this order the month would bill **{_label(before)}**.")
    if others:
        parts.append("Also billed this month: " + "; ".join(_also(o) for o in others) + ".")
    parts += [_pending(line), _evidence(line), *extra]
    indicator = "warning" if line.status is LineStatus.NOT_BILLABLE else "info"
    return source.card("treatment-month", summary, indicator, _join(parts), line.start.isoformat())


def triggered_card(source: CardSource, line: BillingLine) -> Card:
    """A Transition, New Patient or Clinical Trial line the order brings or changes."""
    when = f" in month {line.month}" if line.month else f" on {line.start.isoformat()}"
    summary = f"CPOC {line.code}: {DISPLAY[line.code]}{when} ({line.status.value})"
    body = [_heading(line), _bullets(line.explanation), _evidence(line)]
    indicator = "warning" if line.status is LineStatus.NOT_BILLABLE else "info"
    return source.card(
        line.component.value, summary, indicator, _join(body), line.start.isoformat()
    )


def documentation_card(
    source: CardSource, warnings: Sequence[str], month: BillingLine | None, model: str = "CPOC"
) -> Card:
    """What the level or its support lacks (no ECOG in the window, regimen not in the catalog,
    disease status unknown, a class change with no reason on record…). ``model``: the short
    name of the pack holding the order (another pack's card lists the order's own gaps, such
    as a drug not identified, which decide whether it starts an episode)."""
    where = f"month {month.month}" if month and month.month else "this patient"
    # The one gap is named when it fits whole; else (and for several) the count, and the
    # gaps themselves in the detail.
    model = shorten(model, 24)
    one = (
        fitted(f"{model} documentation for {where}: ", warnings[0]) if len(warnings) == 1 else None
    )
    if one is not None and warnings[0].split():
        summary = one
    elif len(warnings) == 1:
        summary = f"{model}: 1 documentation gap affects {where}"
    else:
        summary = f"{model}: {len(warnings)} documentation gaps affect {where}"
    lead = (
        "These affect the CPOC level or what supports it; the line is billed as shown "
        "until the record changes."
        if model == "CPOC"
        else f"These affect what the order brings under {model} or what supports it."
    )
    detail = _join([lead, _bullets(warnings)])
    card = source.card(
        "documentation", summary, "warning", detail, month.start.isoformat() if month else None
    )
    card["overrideReasons"] = [
        {"system": OVERRIDE_SYSTEM, "code": code, "display": display}
        for code, display in OVERRIDE_REASONS
    ]
    return card


def fee_for_service_card(source: CardSource, notice: str) -> Card:
    """A patient whose cancer type this payer does not bill under CPOC (value-and-models
    §14.3, Option 1): no CPOC line, no ChargeItem; the practice bills fee-for-service."""
    detail = _join(
        [
            f"**{_inline(notice)}**",
            "No CPOC line or ChargeItem is produced for this patient: visits, drug "
            "administration and the other services are billed fee-for-service as usual, and "
            "those charges are not CPOC conflicts.",
        ]
    )
    summary = "CPOC: billed fee-for-service: not a CPOC cancer type for this payer"
    return source.card("fee-for-service", summary, "info", detail, None)


# --- patient-view -----------------------------------------------------------------------------


def month_card(source: CardSource, lines: Sequence[BillingLine]) -> Card:
    """The current billing month's lines and their statuses."""
    first = lines[0]
    label = f"month {first.month}" if first.month else "this month"
    head = f"CPOC {label} ({first.start.isoformat()} to {first.end.isoformat()}): "
    summary = _listed(head, [f"{line.code} {line.status.value}" for line in lines])
    body = [
        f"**{_label(line)}** — {_status(line)}\n\n{_bullets(line.explanation)}" for line in lines
    ]
    warnings = list(dict.fromkeys(w for line in lines for w in line.warnings))
    if warnings:
        body.append("**Documentation gaps**\n\n" + _bullets(warnings))
    flagged = warnings or any(line.status is LineStatus.NOT_BILLABLE for line in lines)
    indicator = "warning" if flagged else "info"
    return source.card("current-month", summary, indicator, _join(body), first.start.isoformat())


def _listed(head: str, items: Sequence[str]) -> str:
    """``head`` and as many whole items as fit, then "+N more" for the rest."""
    for shown in range(len(items), -1, -1):
        rest = len(items) - shown
        listed = [*items[:shown], *([f"+{rest} more"] if rest else [])]
        text = fitted(head, ", ".join(listed))
        if text is not None:
            return text
    raise ValueError("a summary's required part exceeds the limit")  # bounded: never


# --- Markdown pieces ----------------------------------------------------------------------


def _label(line: BillingLine) -> str:
    return f"{line.code} {DISPLAY[line.code]}"


def _also(line: BillingLine) -> str:
    """Another line of the month; the enhanced-care supplement (§13.1) with its amount, the
    one thing the clinician would not otherwise see for it (it has no card of its own)."""
    if line.component is Component.ENHANCED_CARE:
        return f"{_label(line)} ({_status(line)}; payer opted in, II-B.2)"
    return _label(line)


def _status(line: BillingLine) -> str:
    return f"{line.status.value}, {line.amount}"


def _heading(line: BillingLine) -> str:
    month = f"month {line.month}, " if line.month else ""
    period = (
        line.start.isoformat()
        if line.component is Component.NEW_PATIENT
        else f"{line.start.isoformat()} to {line.end.isoformat()}"
    )
    return f"**{_label(line)}** ({month}{period}): *{_status(line)}*"


def _change(line: BillingLine, before: BillingLine | None) -> str:
    if before is None:
        return "; this order starts it"
    if before.component is not line.component:
        return f"; this order turns {before.code} monitoring into treatment"
    if before.level is not None and line.level is not None and before.level != line.level:
        return f"; this order moves it from level {before.level}"
    return "; level unchanged by this order"


def _score_table(line: BillingLine) -> str:
    score = line.score
    if score is None:
        return ""
    points = {
        "Comorbidity": score.comorbidity,
        "Performance": score.performance,
        "Toxicity": score.toxicity,
        "Administration": score.administration,
    }
    rows = ["| Factor | Points | Basis |", "|---|---:|---|"]
    for factor in _FACTORS:
        basis = next((e for e in line.explanation if e.startswith(f"{factor}:")), "")
        basis = basis.removeprefix(f"{factor}:").strip()
        rows.append(f"| {factor} | {points[factor]} | {_cell(basis)} |")
    rows.append(f"| **Total** | **{score.total}** | level {line.level} (III-B) |")
    return "\n".join(rows)


def _pending(line: BillingLine) -> str:
    pending = [e for e in line.explanation if e.startswith(("Provisional:", "Not billable:"))]
    return _bullets(pending)


def _evidence(line: BillingLine) -> str:
    if not line.evidence:
        return ""
    return "Evidence: " + ", ".join(_cited(ref) for ref in line.evidence)


def _cited(ref: str) -> str:
    """A server resource as its reference; a draft order by its local id, as a draft, with no
    reference a client could resolve against the FHIR server (cpoc-rules §11)."""
    if not is_draft_evidence(ref):
        return f"`{ref}`"
    kind, _, local_id = draft_target(ref).partition("/")
    return f"draft {kind} {_inline(local_id)} (not yet on the server)"


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {_inline(item)}" for item in items)


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _inline(text: str) -> str:
    # Markdown that could start HTML or a link from record text is neutralised.
    return " ".join(text.split()).replace("<", "&lt;").replace("[", "\\[")


def _join(parts: Iterable[str]) -> str:
    return "\n\n".join(p for p in parts if p)
