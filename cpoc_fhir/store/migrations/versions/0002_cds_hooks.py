"""CDS Hooks: invocation audit, feedback, client JWT ids seen (replay refusal).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Kept literal (not imported from models) so this revision never changes after release.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hook_invocations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("hook_instance", sa.String(255), nullable=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("hook", sa.String(64), nullable=True),
        sa.Column("client", sa.String(512), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("patient_ref", sa.String(255), nullable=True),
        sa.Column("cards", sa.JSON(), nullable=True),
        sa.Column("writes", sa.JSON(), nullable=True),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_hook_invocations_hook_instance", "hook_invocations", ["hook_instance"])
    op.create_index("ix_hook_invocations_at", "hook_invocations", ["at"])
    op.create_table(
        "hook_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("card", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=True),
        sa.Column("override_system", sa.String(512), nullable=True),
        sa.Column("override_code", sa.String(255), nullable=True),
        sa.Column("override_display", sa.String(512), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", _TS, nullable=False),
        sa.Column("client", sa.String(512), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.UniqueConstraint("service", "card", "outcome", name="uq_hook_feedback_card_outcome"),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'overridden')", name="ck_hook_feedback_outcome"
        ),
    )
    op.create_table(
        "client_token_uses",
        sa.Column("issuer", sa.String(512), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
    )
    op.create_index("ix_client_token_uses_expires_at", "client_token_uses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_client_token_uses_expires_at", table_name="client_token_uses")
    op.drop_table("client_token_uses")
    op.drop_table("hook_feedback")
    op.drop_index("ix_hook_invocations_at", table_name="hook_invocations")
    op.drop_index("ix_hook_invocations_hook_instance", table_name="hook_invocations")
    op.drop_table("hook_invocations")
