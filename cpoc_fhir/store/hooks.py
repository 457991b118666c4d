"""What the CDS Hooks service keeps: an audit row per call, feedback, client JWT ids seen.

It shares the run ledger's database (``open_ledger``), so one URL (``CPOC_STORE_URL``) holds
everything the product records. Nothing here holds patient data beyond Patient resource ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from cpoc_fhir.store.ledger import Ledger
from cpoc_fhir.store.models import ClientTokenUse, HookFeedback, HookInvocation

# Expired jti rows are purged at most this often (per process).
_PURGE_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class CardRecord:
    """A card as the audit keeps it: enough to join feedback to what was shown."""

    uuid: str
    kind: str
    indicator: str
    code: str | None = None

    def as_json(self) -> dict[str, str]:
        out = {"uuid": self.uuid, "kind": self.kind, "indicator": self.indicator}
        if self.code:
            out["code"] = self.code
        return out


@dataclass(frozen=True)
class Invocation:
    """One call to a CDS service, as audited."""

    service: str
    outcome: str  # cards | no-guidance | bad-request | unauthorized | precondition-failed | …
    http_status: int
    latency_ms: float
    hook_instance: str | None = None
    hook: str | None = None
    client: str | None = None
    patient_ref: str | None = None
    cards: Sequence[CardRecord] = ()
    writes: Sequence[dict[str, Any]] = ()
    at: datetime | None = None


@dataclass(frozen=True)
class FeedbackItem:
    """One entry of a feedback POST (CDS Hooks §Feedback)."""

    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_system: str | None = None
    override_code: str | None = None
    override_display: str | None = None
    user_comment: str | None = None


@dataclass
class HookLog:
    """The CDS Hooks tables of a ledger."""

    ledger: Ledger
    _last_purge: datetime | None = field(default=None, repr=False)

    # --- audit ----------------------------------------------------------------------------
    def record(self, call: Invocation) -> None:
        with self.ledger.transaction() as session:
            session.add(
                HookInvocation(
                    hook_instance=call.hook_instance,
                    service=call.service,
                    hook=call.hook,
                    client=call.client,
                    outcome=call.outcome,
                    http_status=call.http_status,
                    latency_ms=round(call.latency_ms, 3),
                    patient_ref=call.patient_ref,
                    cards={"cards": [c.as_json() for c in call.cards]} if call.cards else None,
                    writes={"writes": list(call.writes)} if call.writes else None,
                    at=call.at or self.ledger.now(),
                )
            )

    def invocations(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit rows first, as plain dicts."""
        query = select(HookInvocation).order_by(HookInvocation.id.desc()).limit(limit)
        with self.ledger.transaction() as session:
            return [_invocation_dict(row) for row in session.scalars(query)]

    # --- feedback -------------------------------------------------------------------------
    def add_feedback(
        self, service: str, items: Iterable[FeedbackItem], client: str | None = None
    ) -> list[str]:
        """Store each item once per (service, card, outcome); "stored", "merged" (new accepted
        suggestions added to an earlier acceptance) or "duplicate" for each."""
        return [self._add_one(service, item, client) for item in items]

    def _add_one(self, service: str, item: FeedbackItem, client: str | None) -> str:
        with self.ledger.transaction() as session:
            existing = session.scalars(
                select(HookFeedback).where(
                    HookFeedback.service == service,
                    HookFeedback.card == item.card,
                    HookFeedback.outcome == item.outcome,
                )
            ).first()
            if existing is None:
                try:
                    with session.begin_nested():
                        session.add(_feedback_row(service, item, client, self.ledger.now()))
                    return "stored"
                except IntegrityError:  # a concurrent copy of the same feedback won
                    return "duplicate"
            known = list((existing.accepted_suggestions or {}).get("ids", []))
            added = [s for s in item.accepted_suggestions if s not in known]
            if not added:
                return "duplicate"
            existing.accepted_suggestions = {"ids": known + added}
            return "merged"

    def feedback(self, service: str | None = None) -> list[dict[str, Any]]:
        query = select(HookFeedback).order_by(HookFeedback.id)
        if service is not None:
            query = query.where(HookFeedback.service == service)
        with self.ledger.transaction() as session:
            return [_feedback_dict(row) for row in session.scalars(query)]

    # --- client JWT replay ----------------------------------------------------------------
    def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Record a client JWT id; False when it was already used (a replay).

        The primary key makes this atomic across gunicorn workers and hosts sharing the store.
        """
        now = self.ledger.now()
        self._purge_expired(now)
        row = {"issuer": issuer, "jti": jti, "expires_at": expires_at, "seen_at": now}
        try:
            with self.ledger.engine.begin() as conn:
                conn.execute(insert(ClientTokenUse).values(**row))
        except IntegrityError:
            return False
        return True

    def _purge_expired(self, now: datetime) -> None:
        if self._last_purge is not None and now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        with self.ledger.transaction() as session:
            session.execute(delete(ClientTokenUse).where(ClientTokenUse.expires_at < now))


def _feedback_row(
    service: str, item: FeedbackItem, client: str | None, now: datetime
) -> HookFeedback:
    return HookFeedback(
        service=service,
        card=item.card,
        outcome=item.outcome,
        accepted_suggestions={"ids": list(item.accepted_suggestions)}
        if item.accepted_suggestions
        else None,
        override_system=item.override_system,
        override_code=item.override_code,
        override_display=item.override_display,
        user_comment=item.user_comment,
        outcome_timestamp=item.outcome_timestamp,
        client=client,
        received_at=now,
    )


def _invocation_dict(row: HookInvocation) -> dict[str, Any]:
    return {
        "hookInstance": row.hook_instance,
        "service": row.service,
        "hook": row.hook,
        "client": row.client,
        "outcome": row.outcome,
        "httpStatus": row.http_status,
        "latencyMs": row.latency_ms,
        "patient": row.patient_ref,
        "cards": (row.cards or {}).get("cards", []),
        "writes": (row.writes or {}).get("writes", []),
        "at": row.at,
    }


def _feedback_dict(row: HookFeedback) -> dict[str, Any]:
    return {
        "service": row.service,
        "card": row.card,
        "outcome": row.outcome,
        "acceptedSuggestions": (row.accepted_suggestions or {}).get("ids", []),
        "overrideReason": {
            "system": row.override_system,
            "code": row.override_code,
            "display": row.override_display,
            "userComment": row.user_comment,
        },
        "outcomeTimestamp": row.outcome_timestamp,
        "client": row.client,
    }
