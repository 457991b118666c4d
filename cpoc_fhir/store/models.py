"""The run ledger's tables (SQLAlchemy 2.0 typed ORM); migration 0001 creates the same schema.

- ``runs``: one row per run (capture…), its settings, counts, duration, host and pid.
- ``run_patients``: a patient finished (``done``) or ``failed`` in a run.
- ``writes``: one row per ChargeItem write a run made (or skipped), with its outcome.
- ``locks``: one row per scope being worked on; the primary key makes a single holder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

RUN_STATUSES = ("running", "finished", "failed", "interrupted")
PATIENT_STATUSES = ("done", "failed")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend (SQLite keeps no offset: store UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime given to the run ledger: {value.isoformat()}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="ck_runs_status"),
        Index("ix_runs_scope", "scope", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(512))
    month: Mapped[str] = mapped_column(String(7))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]]
    counts: Mapped[dict[str, Any] | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    resumed_from: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class RunPatient(Base):
    __tablename__ = "run_patients"
    __table_args__ = (
        UniqueConstraint("run_id", "patient_ref", name="uq_run_patients_run_patient"),
        CheckConstraint(_one_of("status", PATIENT_STATUSES), name="ck_run_patients_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    patient_ref: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    lines: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime]


class Write(Base):
    __tablename__ = "writes"
    __table_args__ = (
        Index("ix_writes_run_id", "run_id"),
        Index("ix_writes_identifier", "identifier"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    patient_ref: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    chargeitem_id: Mapped[str | None] = mapped_column(String(255))
    version_id: Mapped[str | None] = mapped_column(String(64))
    http_status: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class Lock(Base):
    __tablename__ = "locks"

    scope: Mapped[str] = mapped_column(String(512), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    holder_host: Mapped[str] = mapped_column(String(255))
    holder_pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


# --- CDS Hooks (migration 0002) ------------------------------------------------------------
FEEDBACK_OUTCOMES = ("accepted", "overridden")


class HookInvocation(Base):
    """One CDS Hooks call: who, which service, what came of it, how long it took.

    No patient data beyond the Patient resource id (``patient_ref``); cards are recorded by
    uuid, kind and CPOC code only, so feedback can be joined to what was shown.
    """

    __tablename__ = "hook_invocations"
    __table_args__ = (
        Index("ix_hook_invocations_hook_instance", "hook_instance"),
        Index("ix_hook_invocations_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hook_instance: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str] = mapped_column(String(64))
    hook: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(512))  # the verified JWT issuer
    outcome: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    patient_ref: Mapped[str | None] = mapped_column(String(255))
    cards: Mapped[dict[str, Any] | None]  # {"cards": [{uuid, kind, code, indicator}]}
    writes: Mapped[dict[str, Any] | None]  # {"writes": [{identifier, outcome, id}]}
    at: Mapped[datetime]


class HookFeedback(Base):
    """CDS Hooks feedback (spec §Feedback), one row per (service, card, outcome)."""

    __tablename__ = "hook_feedback"
    __table_args__ = (
        UniqueConstraint("service", "card", "outcome", name="uq_hook_feedback_card_outcome"),
        CheckConstraint(_one_of("outcome", FEEDBACK_OUTCOMES), name="ck_hook_feedback_outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[dict[str, Any] | None]  # {"ids": [...]}
    override_system: Mapped[str | None] = mapped_column(String(512))
    override_code: Mapped[str | None] = mapped_column(String(255))
    override_display: Mapped[str | None] = mapped_column(String(512))
    user_comment: Mapped[str | None] = mapped_column(Text)
    outcome_timestamp: Mapped[datetime]
    client: Mapped[str | None] = mapped_column(String(512))
    received_at: Mapped[datetime]


class ClientTokenUse(Base):
    """A CDS client JWT's ``jti`` once seen, kept until the token expires (replay refusal)."""

    __tablename__ = "client_token_uses"
    __table_args__ = (Index("ix_client_token_uses_expires_at", "expires_at"),)

    issuer: Mapped[str] = mapped_column(String(512), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime]
    seen_at: Mapped[datetime]


# --- Pathway decisions (migration 0003) ----------------------------------------------------
DECISION_STAGES = ("selected", "signed")
DECISION_STATUSES = ("on-pathway", "off-pathway", "no-pathway", "undetermined")


class PathwayDecisionRow(Base):
    """One row per order (``order_key``): the pathway assessment of its latest hook call.

    ``card_uuid`` is the card of the row's own stage, ``select_card_uuid`` the order-select
    card of the same order (kept when order-sign replaces the row, so feedback on it still
    lands). Feedback columns hold the latest feedback on either card. No patient data beyond
    the Patient resource id.
    """

    __tablename__ = "pathway_decisions"
    __table_args__ = (
        UniqueConstraint("order_key", name="uq_pathway_decisions_order_key"),
        CheckConstraint(_one_of("stage", DECISION_STAGES), name="ck_pathway_decisions_stage"),
        CheckConstraint(_one_of("status", DECISION_STATUSES), name="ck_pathway_decisions_status"),
        CheckConstraint(
            f"feedback_outcome IS NULL OR {_one_of('feedback_outcome', FEEDBACK_OUTCOMES)}",
            name="ck_pathway_decisions_feedback_outcome",
        ),
        Index("ix_pathway_decisions_decided_at", "decided_at"),
        Index("ix_pathway_decisions_card_uuid", "card_uuid"),
        Index("ix_pathway_decisions_select_card_uuid", "select_card_uuid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_key: Mapped[str] = mapped_column(String(2048))
    patient_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime]
    hook_instance: Mapped[str | None] = mapped_column(String(255))
    card_uuid: Mapped[str | None] = mapped_column(String(255))
    select_card_uuid: Mapped[str | None] = mapped_column(String(255))
    pathway_id: Mapped[str | None] = mapped_column(String(255))
    pathway_title: Mapped[str | None] = mapped_column(String(512))
    pathway_url: Mapped[str | None] = mapped_column(String(1024))
    pathway_version: Mapped[str | None] = mapped_column(String(64))
    cancer: Mapped[str | None] = mapped_column(String(64))
    regimen_id: Mapped[str | None] = mapped_column(String(255))
    regimen_name: Mapped[str | None] = mapped_column(String(512))
    line_of_therapy: Mapped[int | None] = mapped_column(Integer)
    alternatives: Mapped[dict[str, Any] | None]  # {"ids": [...]}
    reasons: Mapped[dict[str, Any] | None]  # {"reasons": [...]}
    suggestion_uuids: Mapped[dict[str, Any] | None]  # {suggestion uuid: regimen id}
    feedback_outcome: Mapped[str | None] = mapped_column(String(16))
    feedback_at: Mapped[datetime | None]
    feedback_card: Mapped[str | None] = mapped_column(String(255))
    feedback_reason_system: Mapped[str | None] = mapped_column(String(512))
    feedback_reason_code: Mapped[str | None] = mapped_column(String(255))
    feedback_reason_display: Mapped[str | None] = mapped_column(String(512))
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    feedback_accepted_regimen: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime]


# --- SMART review app sessions (migration 0004) --------------------------------------------
REVIEW_SESSION_STATUSES = ("pending", "active")


class ReviewSessionRow(Base):
    """A review app session: a launch waiting for its callback (``pending``, keyed by its
    ``state``) or a signed-in user (``active``).

    ``id`` is the SHA-256 of the browser's opaque session cookie, never the cookie itself; the
    tokens are encrypted with the app's secret key. No patient data beyond the launch's Patient
    resource id.
    """

    __tablename__ = "review_sessions"
    __table_args__ = (
        CheckConstraint(
            _one_of("status", REVIEW_SESSION_STATUSES), name="ck_review_sessions_status"
        ),
        Index("ix_review_sessions_ends_at", "ends_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(128))
    iss: Mapped[str] = mapped_column(String(1024))
    token_endpoint: Mapped[str] = mapped_column(String(1024))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    requested_scope: Mapped[str] = mapped_column(Text)
    launch: Mapped[str | None] = mapped_column(Text)
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    scope: Mapped[str | None] = mapped_column(Text)
    patient: Mapped[str | None] = mapped_column(String(64))
    fhir_user: Mapped[str | None] = mapped_column(String(1024))
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ends_at: Mapped[datetime]
