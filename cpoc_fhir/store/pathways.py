"""Pathway decisions: one row per order, what the pathway check said and what the clinician did.

The CDS Hooks service calls ``PathwayLog.record`` for each order it assesses against a care
pathway (order-select: stage ``selected``; order-sign: stage ``signed``) and
``PathwayLog.apply_feedback`` when a feedback POST names the pathway card; ``cpoc report
adherence`` reads ``PathwayLog.decisions``. It shares the run ledger's database
(``open_ledger``, ``CPOC_STORE_URL``), on SQLite and PostgreSQL alike.

Rules of the upsert (``record``), keyed by ``order_key``:

- a later decision replaces the earlier one, except that a ``selected`` decision never replaces
  a ``signed`` one (it only lends its card, if the row has no order-select card yet);
- feedback already recorded is kept (feedback on the order-select card counts for the signed
  order);
- the order-select card's uuid is kept in ``select_card_uuid`` when order-sign replaces the row,
  and the suggestion uuids of both cards stay mapped, so feedback on either card lands.

Feedback (``apply_feedback``): the latest by its own time (``DecisionFeedback.at``) wins; an
equal time replaces. Nothing about the patient beyond the Patient resource id is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cpoc_fhir.store.ledger import Ledger
from cpoc_fhir.store.models import (
    DECISION_STAGES,
    DECISION_STATUSES,
    FEEDBACK_OUTCOMES,
    PathwayDecisionRow,
)

# FHIR R4 id: https://hl7.org/fhir/R4/datatypes.html#id
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True)
class PathwayDecision:
    """The pathway assessment of one order at one hook call."""

    order_key: str  # "Patient/<id>|MedicationRequest/a,MedicationRequest/b"
    patient_id: str  # the FHIR Patient resource id only
    stage: str  # "selected" (order-select) | "signed" (order-sign)
    status: str  # "on-pathway" | "off-pathway" | "no-pathway" | "undetermined"
    decided_at: datetime  # aware
    hook_instance: str | None = None
    card_uuid: str | None = None  # the pathway card shown
    pathway_id: str | None = None
    pathway_title: str | None = None
    pathway_url: str | None = None  # PlanDefinition canonical
    pathway_version: str | None = None
    cancer: str | None = None
    regimen_id: str | None = None  # catalog regimen of the order; None if unidentified
    regimen_name: str | None = None
    line_of_therapy: int | None = None
    alternatives: tuple[str, ...] = ()  # on-pathway regimen ids offered, in value order
    reasons: tuple[str, ...] = ()  # why no pathway / undetermined (plain words, no PHI)
    suggestion_uuids: dict[str, str] = field(default_factory=dict)  # uuid -> regimen id


@dataclass(frozen=True)
class DecisionFeedback:
    """What a feedback POST said about a decision's card."""

    outcome: str  # "accepted" | "overridden"
    at: datetime  # aware
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    comment: str | None = None
    accepted_regimen: str | None = None  # regimen id of the accepted suggestion


@dataclass(frozen=True)
class StoredDecision(PathwayDecision):
    """A decision as stored: the latest decision of its order, and the latest feedback."""

    select_card_uuid: str | None = None  # the order-select card of the same order
    feedback: DecisionFeedback | None = None
    feedback_card: str | None = None  # the card the feedback was about

    @property
    def signed(self) -> bool:
        return self.stage == "signed"

    @property
    def accepted(self) -> bool:
        """A suggestion of the order's card was accepted (the order was switched)."""
        return self.feedback is not None and self.feedback.outcome == "accepted"

    @property
    def override_reason(self) -> bool:
        """The card was overridden with a reason (a coded reason or a comment)."""
        fb = self.feedback
        return (
            fb is not None
            and fb.outcome == "overridden"
            and bool(fb.reason_code or fb.reason_display or fb.comment)
        )


class PathwayLog:
    """The ``pathway_decisions`` table of a ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def record(self, decision: PathwayDecision) -> None:
        """Upsert by ``order_key``: a later call replaces the earlier one, except that a
        ``selected`` decision never replaces a ``signed`` one, and feedback already recorded is
        kept."""
        _check_decision(decision)
        now = self.ledger.now()
        with self.ledger.transaction() as session:
            row = _row_for_update(session, decision.order_key)
            if row is None:
                try:
                    with session.begin_nested():
                        session.add(_new_row(decision, now))
                    return
                except IntegrityError:  # a concurrent call inserted the same order first
                    row = _row_for_update(session, decision.order_key)
                    if row is None:
                        raise
            _merge(row, decision, now)

    def apply_feedback(
        self,
        card_uuid: str,
        feedback: DecisionFeedback,
        accepted_suggestion_uuids: Sequence[str] = (),
    ) -> bool:
        """Attach feedback to the decision(s) whose card (order-sign or order-select) is
        ``card_uuid``; the latest feedback (by ``feedback.at``) wins. When
        ``feedback.accepted_regimen`` is None, the first accepted suggestion uuid that the
        decision offered gives it. False when no decision has that card."""
        _check_feedback(feedback)
        if isinstance(accepted_suggestion_uuids, str):
            raise TypeError("accepted_suggestion_uuids must be a sequence of uuids, not a str")
        with self.ledger.transaction() as session:
            rows = list(
                session.scalars(
                    select(PathwayDecisionRow)
                    .where(
                        or_(
                            PathwayDecisionRow.card_uuid == card_uuid,
                            PathwayDecisionRow.select_card_uuid == card_uuid,
                        )
                    )
                    .order_by(PathwayDecisionRow.id)
                    .with_for_update()
                )
            )
            for row in rows:
                if row.feedback_at is not None and feedback.at < row.feedback_at:
                    continue  # an older feedback arriving late: the newer one stands
                _set_feedback(row, card_uuid, feedback, accepted_suggestion_uuids)
                row.updated_at = self.ledger.now()
            return bool(rows)

    def decisions(self, start: date, end: date, tz: tzinfo | None = None) -> list[StoredDecision]:
        """Decisions whose ``decided_at``, as a date in ``tz`` (default: this host's local time
        zone), is in [start, end], both inclusive; oldest first."""
        if start > end:
            raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
        low, high = _local_midnight(start, tz), _local_midnight(end + timedelta(days=1), tz)
        query = (
            select(PathwayDecisionRow)
            .where(PathwayDecisionRow.decided_at >= low, PathwayDecisionRow.decided_at < high)
            .order_by(PathwayDecisionRow.decided_at, PathwayDecisionRow.id)
        )
        with self.ledger.transaction() as session:
            return [_stored(row) for row in session.scalars(query)]

    def decision(self, order_key: str) -> StoredDecision | None:
        """The stored decision of one order, if any."""
        query = select(PathwayDecisionRow).where(PathwayDecisionRow.order_key == order_key)
        with self.ledger.transaction() as session:
            row = session.scalars(query).first()
            return None if row is None else _stored(row)


# --- checks -----------------------------------------------------------------------------------
def _check_decision(d: PathwayDecision) -> None:
    if not d.order_key:
        raise ValueError("pathway decision: empty order_key")
    if not _FHIR_ID.fullmatch(d.patient_id or ""):
        raise ValueError(
            f"pathway decision: patient_id must be a FHIR Patient resource id: {d.patient_id!r}"
        )
    if d.stage not in DECISION_STAGES:
        raise ValueError(f"pathway decision: stage must be one of {DECISION_STAGES}: {d.stage!r}")
    if d.status not in DECISION_STATUSES:
        raise ValueError(
            f"pathway decision: status must be one of {DECISION_STATUSES}: {d.status!r}"
        )
    if d.decided_at.tzinfo is None:
        raise ValueError(f"pathway decision: naive decided_at {d.decided_at.isoformat()}")


def _check_feedback(f: DecisionFeedback) -> None:
    if f.outcome not in FEEDBACK_OUTCOMES:
        raise ValueError(f"feedback outcome must be one of {FEEDBACK_OUTCOMES}: {f.outcome!r}")
    if f.at.tzinfo is None:
        raise ValueError(f"feedback: naive time {f.at.isoformat()}")


# --- rows -------------------------------------------------------------------------------------
def _row_for_update(session: Session, order_key: str) -> PathwayDecisionRow | None:
    query = (
        select(PathwayDecisionRow)
        .where(PathwayDecisionRow.order_key == order_key)
        .with_for_update()
    )
    return session.scalars(query).first()


def _decision_columns(d: PathwayDecision) -> dict[str, Any]:
    return {
        "patient_id": d.patient_id,
        "stage": d.stage,
        "status": d.status,
        "decided_at": d.decided_at,
        "hook_instance": d.hook_instance,
        "card_uuid": d.card_uuid,
        "pathway_id": d.pathway_id,
        "pathway_title": d.pathway_title,
        "pathway_url": d.pathway_url,
        "pathway_version": d.pathway_version,
        "cancer": d.cancer,
        "regimen_id": d.regimen_id,
        "regimen_name": d.regimen_name,
        "line_of_therapy": d.line_of_therapy,
        "alternatives": {"ids": list(d.alternatives)} if d.alternatives else None,
        "reasons": {"reasons": list(d.reasons)} if d.reasons else None,
    }


def _new_row(d: PathwayDecision, now: datetime) -> PathwayDecisionRow:
    return PathwayDecisionRow(
        order_key=d.order_key,
        select_card_uuid=d.card_uuid if d.stage == "selected" else None,
        suggestion_uuids=dict(d.suggestion_uuids) or None,
        updated_at=now,
        **_decision_columns(d),
    )


def _merge(row: PathwayDecisionRow, d: PathwayDecision, now: datetime) -> None:
    suggestions = {**(row.suggestion_uuids or {}), **d.suggestion_uuids} or None
    if row.stage == "signed" and d.stage == "selected":
        # Never replaces the signed decision; its card still counts for the order's feedback.
        if row.select_card_uuid is None and d.card_uuid:
            row.select_card_uuid = d.card_uuid
            row.suggestion_uuids = suggestions
            row.updated_at = now
        return
    for name, value in _decision_columns(d).items():
        setattr(row, name, value)
    if d.stage == "selected" and d.card_uuid:
        row.select_card_uuid = d.card_uuid
    row.suggestion_uuids = suggestions
    row.updated_at = now


def _set_feedback(
    row: PathwayDecisionRow, card: str, f: DecisionFeedback, accepted: Sequence[str]
) -> None:
    regimen = f.accepted_regimen
    if regimen is None and f.outcome == "accepted":
        offered = row.suggestion_uuids or {}
        regimen = next((offered[u] for u in accepted if u in offered), None)
    row.feedback_outcome = f.outcome
    row.feedback_at = f.at
    row.feedback_card = card
    row.feedback_reason_system = f.reason_system
    row.feedback_reason_code = f.reason_code
    row.feedback_reason_display = f.reason_display
    row.feedback_comment = f.comment
    row.feedback_accepted_regimen = regimen


def _stored(row: PathwayDecisionRow) -> StoredDecision:
    feedback = None
    if row.feedback_outcome is not None and row.feedback_at is not None:
        feedback = DecisionFeedback(
            outcome=row.feedback_outcome,
            at=row.feedback_at,
            reason_system=row.feedback_reason_system,
            reason_code=row.feedback_reason_code,
            reason_display=row.feedback_reason_display,
            comment=row.feedback_comment,
            accepted_regimen=row.feedback_accepted_regimen,
        )
    return StoredDecision(
        order_key=row.order_key,
        patient_id=row.patient_id,
        stage=row.stage,
        status=row.status,
        decided_at=row.decided_at,
        hook_instance=row.hook_instance,
        card_uuid=row.card_uuid,
        pathway_id=row.pathway_id,
        pathway_title=row.pathway_title,
        pathway_url=row.pathway_url,
        pathway_version=row.pathway_version,
        cancer=row.cancer,
        regimen_id=row.regimen_id,
        regimen_name=row.regimen_name,
        line_of_therapy=row.line_of_therapy,
        alternatives=tuple((row.alternatives or {}).get("ids", ())),
        reasons=tuple((row.reasons or {}).get("reasons", ())),
        suggestion_uuids=dict(row.suggestion_uuids or {}),
        select_card_uuid=row.select_card_uuid,
        feedback=feedback,
        feedback_card=row.feedback_card,
    )


def _local_midnight(day: date, tz: tzinfo | None) -> datetime:
    """The instant ``day`` begins in ``tz`` (None: this host's local time zone)."""
    if tz is None:
        return datetime.combine(day, time()).astimezone()
    return datetime.combine(day, time(), tzinfo=tz)
