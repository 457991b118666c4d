"""Text rendering of timelines and summaries for people (``--format table``).

The table fits 80 columns by default (issue 17 item 6): the "to" column (a month's last day)
is left out, a Treatment Month's score goes on a line of its own under its row, and titles,
model spans, explanations and warnings are wrapped. ``width=None`` (``--wide``) keeps every
column on one line and nothing wrapped, as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from cpoc_fhir.engine.lines import (
    BillingLine,
    LineStatus,
    ModelSpan,
    PatientTimeline,
    is_resource_reference,
)
from cpoc_fhir.packs.settings import NO_MODEL
from cpoc_fhir.terminal import WIDTH, wrap_all, wrapped, wrapped_query

_COMPONENT_LABEL = {
    "new-patient": "New Patient",
    "treatment-month": "Treatment Month",
    "active-monitoring": "Active Monitoring",
    "transition": "Transition",
    "clinical-trial": "Clinical Trial",
    "enhanced-care": "Enhanced Care",
    "meos": "MEOS",  # value-and-models §15.1, §15.2
    "care-management": "Care Management",  # §15.3
}


def timeline_table(
    timeline: PatientTimeline, explain: bool = False, width: int | None = WIDTH
) -> str:
    """A patient's month-by-month lines as a fixed-width table, fitted to ``width`` columns
    (None: every column on one line, nothing wrapped)."""
    out = wrapped(f"{timeline.patient_ref} — lines as of {timeline.as_of.isoformat()}", width)
    if timeline.models:  # §15: which payment model held the patient when
        spans = "; ".join(_span(s) for s in timeline.models)
        out.extend(wrapped(spans, width, "  models: ", " " * 4))
    if timeline.fee_for_service is not None:
        out.extend(wrapped(f"(no CPOC lines: {timeline.fee_for_service})", width, "  "))
    elif (
        not timeline.lines and timeline.models and all(s.model == NO_MODEL for s in timeline.models)
    ):
        out.append("  no payment model (fee-for-service)")  # the "none" pack (§15)
    elif not timeline.lines:
        out.append("  (no lines)" if timeline.models else "  (no CPOC lines)")
    else:
        # CPOC's codes are 5 wide; a pack's may be longer (CPC+ "CPCP-T1-2"): one width.
        code_width = max(5, *(len(line.code) for line in timeline.lines))
        columns = _Columns(code_width, width)
        out.append("  " + columns.header())
        for line in timeline.lines:
            out.extend("  " + row for row in columns.row(line))
            if explain:
                out.extend(wrap_all(line.explanation, width, f"{'':9}· "))
                out.extend(wrap_all(line.warnings, width, f"{'':9}! "))
                if line.evidence:
                    out.extend(_evidence(line.evidence, width))
        out.extend(wrapped(_totals(timeline.lines), width, "  ", " " * 9))
        if columns.narrow:
            out.append("  (to: each month's last day; --wide shows every column on one line)")
    warnings = [w for w in timeline.warnings if w != timeline.fee_for_service]
    if warnings:
        out.append("  warnings:")
        out.extend(wrap_all(warnings, width, "    - ", " " * 6))
    return "\n".join(out)


def _evidence(evidence: tuple[str, ...], width: int | None) -> list[str]:
    """The references behind a line: on one line (wide), else under "evidence:" one
    resource type a line ("MedicationAdministration/") with its ids filled below it, so that
    a FHIR id (at most 64 characters) always fits and is never cut; other evidence (what a
    search did not find) as wrapped prose."""
    if width is None:
        return [f"{'':9}evidence: {', '.join(evidence)}"]
    out = [f"{'':9}evidence:"]
    by_type: dict[str, list[str]] = {}
    for ref in evidence:
        if is_resource_reference(ref):
            kind, _, ident = ref.partition("/")
            by_type.setdefault(kind, []).append(ident)
        else:
            out.extend(wrapped_query(ref, width, " " * 11, " " * 13))
    for kind, ids in by_type.items():
        if len(ids) == 1 and len(kind) + len(ids[0]) + 12 <= width:
            out.append(f"{'':11}{kind}/{ids[0]}")
            continue
        out.append(f"{'':11}{kind}/")
        out.extend(wrapped(", ".join(ids), width, " " * 13))
    return out


class _Columns:
    """The table's columns: all of them (wide), or without "to" and with the score on its
    own line when the wide row would pass ``width``; the component too when a long code
    still does not fit."""

    def __init__(self, code_width: int, width: int | None) -> None:
        self.code_width = code_width
        # 2 (indent) + month 5 + from 10 + code + component 17 + lvl 3 + status 12 +
        # amount 9, two spaces between: 70 + code width.
        self.narrow = width is not None
        self.component = width is None or 70 + code_width <= width

    def header(self) -> str:
        if not self.narrow:
            return (
                f"{'month':>5}  {'from':10}  {'to':10}  {'code':{self.code_width}}  "
                f"{'component':17}  {'lvl':>3}  {'status':12}  {'amount':>9}  score"
            )
        component = f"{'component':17}  " if self.component else ""
        return (
            f"{'month':>5}  {'from':10}  {'code':{self.code_width}}  {component}"
            f"{'lvl':>3}  {'status':12}  {'amount':>9}"
        )

    def row(self, line: BillingLine) -> list[str]:
        if not self.narrow:
            return [_row(line, self.code_width)]
        component = f"{_COMPONENT_LABEL[line.component.value]:17}  " if self.component else ""
        row = (
            f"{_month(line):>5}  {line.start.isoformat():10}  "
            f"{line.code:{self.code_width}}  {component}{_level(line):>3}  "
            f"{line.status.value:12}  {line.amount:>9}"
        )
        score = _score(line)
        return [row, f"{'':7}score {score}"] if score else [row]


def _span(span: ModelSpan) -> str:
    when = (
        f"from {span.start.isoformat()}" if span.start else "",
        f"to {span.end.isoformat()}" if span.end else "",
    )
    dates = " ".join(w for w in when if w) or "throughout"
    return f"{span.model} {dates} ({span.reason})"


def _month(line: BillingLine) -> str:
    month = "—" if line.month is None else str(line.month)
    if line.episode is not None:  # an episode model's month: "episode.month" (2.3)
        month = f"{line.episode}.{month}"
    return month


def _level(line: BillingLine) -> str:
    return "—" if line.level is None else str(line.level)


def _score(line: BillingLine) -> str:
    if line.score is None:
        return ""
    s = line.score
    regimen = f" {s.regimen}" if s.regimen else ""
    return f"{s.comorbidity}+{s.performance}+{s.toxicity}+{s.administration}={s.total}{regimen}"


def _row(line: BillingLine, code_width: int = 5) -> str:
    return (
        f"{_month(line):>5}  {line.start.isoformat():10}  {line.end.isoformat():10}  "
        f"{line.code:{code_width}}  "
        f"{_COMPONENT_LABEL[line.component.value]:17}  {_level(line):>3}  "
        f"{line.status.value:12}  {line.amount:>9}  {_score(line)}"
    ).rstrip()


def _totals(lines: Iterable[BillingLine]) -> str:
    amounts: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for line in lines:
        amounts[line.status.value] += line.amount  # type: ignore[assignment]
        counts[line.status.value] += 1
    parts = []
    for status in LineStatus:
        if counts[status.value]:
            total = Decimal(amounts[status.value]).quantize(Decimal("0.01"))
            parts.append(f"{status.value} {counts[status.value]} line(s) {total}")
    return "total: " + ", ".join(parts)
