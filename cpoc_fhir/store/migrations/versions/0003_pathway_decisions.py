"""Pathway decisions: one row per order, its pathway assessment and the feedback on its cards.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Kept literal (not imported from models) so this revision never changes after release.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pathway_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_key", sa.String(2048), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("hook_instance", sa.String(255), nullable=True),
        sa.Column("card_uuid", sa.String(255), nullable=True),
        sa.Column("select_card_uuid", sa.String(255), nullable=True),
        sa.Column("pathway_id", sa.String(255), nullable=True),
        sa.Column("pathway_title", sa.String(512), nullable=True),
        sa.Column("pathway_url", sa.String(1024), nullable=True),
        sa.Column("pathway_version", sa.String(64), nullable=True),
        sa.Column("cancer", sa.String(64), nullable=True),
        sa.Column("regimen_id", sa.String(255), nullable=True),
        sa.Column("regimen_name", sa.String(512), nullable=True),
        sa.Column("line_of_therapy", sa.Integer(), nullable=True),
        sa.Column("alternatives", sa.JSON(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=True),
        sa.Column("feedback_outcome", sa.String(16), nullable=True),
        sa.Column("feedback_at", _TS, nullable=True),
        sa.Column("feedback_card", sa.String(255), nullable=True),
        sa.Column("feedback_reason_system", sa.String(512), nullable=True),
        sa.Column("feedback_reason_code", sa.String(255), nullable=True),
        sa.Column("feedback_reason_display", sa.String(512), nullable=True),
        sa.Column("feedback_comment", sa.Text(), nullable=True),
        sa.Column("feedback_accepted_regimen", sa.String(255), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("order_key", name="uq_pathway_decisions_order_key"),
        sa.CheckConstraint("stage IN ('selected', 'signed')", name="ck_pathway_decisions_stage"),
        sa.CheckConstraint(
            "status IN ('on-pathway', 'off-pathway', 'no-pathway', 'undetermined')",
            name="ck_pathway_decisions_status",
        ),
        sa.CheckConstraint(
            "feedback_outcome IS NULL OR feedback_outcome IN ('accepted', 'overridden')",
            name="ck_pathway_decisions_feedback_outcome",
        ),
    )
    op.create_index("ix_pathway_decisions_decided_at", "pathway_decisions", ["decided_at"])
    op.create_index("ix_pathway_decisions_card_uuid", "pathway_decisions", ["card_uuid"])
    op.create_index(
        "ix_pathway_decisions_select_card_uuid", "pathway_decisions", ["select_card_uuid"]
    )


def downgrade() -> None:
    op.drop_index("ix_pathway_decisions_select_card_uuid", table_name="pathway_decisions")
    op.drop_index("ix_pathway_decisions_card_uuid", table_name="pathway_decisions")
    op.drop_index("ix_pathway_decisions_decided_at", table_name="pathway_decisions")
    op.drop_table("pathway_decisions")
