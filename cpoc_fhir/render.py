"""Text rendering of timelines and summaries for people (``--format table``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from cpoc_fhir.engine.lines import BillingLine, LineStatus, ModelSpan, PatientTimeline
from cpoc_fhir.packs.settings import NO_MODEL

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


def timeline_table(timeline: PatientTimeline, explain: bool = False) -> str:
    """A patient's month-by-month lines as a fixed-width table."""
    out = [f"{timeline.patient_ref} — lines as of {timeline.as_of.isoformat()}"]
    if timeline.models:  # §15: which payment model held the patient when
        out.append("  models: " + "; ".join(_span(s) for s in timeline.models))
    if timeline.fee_for_service is not None:
        out.append(f"  (no CPOC lines: {timeline.fee_for_service})")
    elif (
        not timeline.lines and timeline.models and all(s.model == NO_MODEL for s in timeline.models)
    ):
        out.append("  no payment model (fee-for-service)")  # the "none" pack (§15)
    elif not timeline.lines:
        out.append("  (no lines)" if timeline.models else "  (no CPOC lines)")
    else:
        # CPOC's codes are 5 wide; a pack's may be longer (CPC+ "CPCP-T1-2"): one width.
        width = max(5, *(len(line.code) for line in timeline.lines))
        out.append(
            f"  {'month':>5}  {'from':10}  {'to':10}  {'code':{width}}  {'component':17}  "
            f"{'lvl':>3}  {'status':12}  {'amount':>9}  score"
        )
        for line in timeline.lines:
            out.append("  " + _row(line, width))
            if explain:
                out.extend(f"{'':9}· {text}" for text in line.explanation)
                out.extend(f"{'':9}! {text}" for text in line.warnings)
                if line.evidence:
                    out.append(f"{'':9}evidence: {', '.join(line.evidence)}")
        out.append("  " + _totals(timeline.lines))
    warnings = [w for w in timeline.warnings if w != timeline.fee_for_service]
    if warnings:
        out.append("  warnings:")
        out.extend(f"    - {w}" for w in warnings)
    return "\n".join(out)


def _span(span: ModelSpan) -> str:
    when = (
        f"from {span.start.isoformat()}" if span.start else "",
        f"to {span.end.isoformat()}" if span.end else "",
    )
    dates = " ".join(w for w in when if w) or "throughout"
    return f"{span.model} {dates} ({span.reason})"


def _row(line: BillingLine, code_width: int = 5) -> str:
    month = "—" if line.month is None else str(line.month)
    if line.episode is not None:  # an episode model's month: "episode.month" (2.3)
        month = f"{line.episode}.{month}"
    level = "—" if line.level is None else str(line.level)
    score = ""
    if line.score is not None:
        s = line.score
        regimen = f" {s.regimen}" if s.regimen else ""
        score = (
            f"{s.comorbidity}+{s.performance}+{s.toxicity}+{s.administration}={s.total}{regimen}"
        )
    return (
        f"{month:>5}  {line.start.isoformat():10}  {line.end.isoformat():10}  "
        f"{line.code:{code_width}}  "
        f"{_COMPONENT_LABEL[line.component.value]:17}  {level:>3}  {line.status.value:12}  "
        f"{line.amount:>9}  {score}"
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
