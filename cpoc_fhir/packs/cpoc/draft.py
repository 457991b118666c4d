"""A line being decided: its reasons accumulate, then it becomes a BillingLine (§11 status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cpoc_fhir.engine.lines import BillingLine, LineStatus, Score
from cpoc_fhir.packs.cpoc.codes import Component, code_for
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

NOTHING = Decimal("0.00")
# Evidence that is a hook's draft order, not a resource of the record's server (cpoc-rules §11):
# "draft:MedicationRequest/request-123". Cards cite it as a draft; no ChargeItem references it.
DRAFT_MARK = "draft:"


def draft_evidence(ref: str) -> str:
    """The evidence entry of a draft order ``ref`` ("MedicationRequest/<the EHR's local id>")."""
    return ref if ref.startswith(DRAFT_MARK) else f"{DRAFT_MARK}{ref}"


def is_draft_evidence(ref: str) -> bool:
    return ref.startswith(DRAFT_MARK)


def draft_target(ref: str) -> str:
    """The draft's own reference, without the mark."""
    return ref.removeprefix(DRAFT_MARK)


@dataclass
class LineDraft:
    component: Component
    level: int | None
    month: int | None
    start: date
    end: date
    explanation: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # what would make it final
    failures: list[str] = field(default_factory=list)  # the requirement that failed
    warnings: list[str] = field(default_factory=list)
    score: Score | None = None

    def cite(self, *refs: str) -> None:
        for ref in refs:
            if ref and ref not in self.evidence:
                self.evidence.append(ref)

    def warn(self, text: str | None) -> None:
        if text and text not in self.warnings:
            self.warnings.append(text)

    @property
    def status(self) -> LineStatus:
        if self.failures:
            return LineStatus.NOT_BILLABLE
        if self.pending:
            return LineStatus.PROVISIONAL
        return LineStatus.FINAL

    def finish(self, payer: PayerSchedule) -> BillingLine:
        """The line, its explanation followed by why it is not billable or provisional.

        Once per line of every timeline (~22 per patient), so: the status from the two lists
        at hand (``status``'s rule), the explanation copied alone when there is nothing to add,
        ``BillingLine.of`` called by position."""
        code = code_for(self.component, self.level)
        failures, pending = self.failures, self.pending
        if failures:
            status = LineStatus.NOT_BILLABLE
        elif pending:
            status = LineStatus.PROVISIONAL
        else:
            status = LineStatus.FINAL
        if failures or pending:
            explanation = (
                *self.explanation,
                *[f"Not billable: {reason}" for reason in failures],
                *[f"Provisional: {reason}" for reason in pending],
            )
        else:
            explanation = tuple(self.explanation)
        return BillingLine.of(
            code,
            self.component,
            self.level,
            self.month,
            self.start,
            self.end,
            status,
            # priced by the year of the billing month's start (New Patient: its visit day)
            NOTHING if failures else payer.amount(code, self.start),
            explanation,
            tuple(self.evidence),
            self.score,
            tuple(self.warnings),
        )
