"""SMART review app sessions: pending launches and signed-in users, tokens encrypted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Kept literal (not imported from models) so this revision never changes after release.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("state", sa.String(128), nullable=True),
        sa.Column("iss", sa.String(1024), nullable=False),
        sa.Column("token_endpoint", sa.String(1024), nullable=False),
        sa.Column("redirect_uri", sa.String(1024), nullable=False),
        sa.Column("requested_scope", sa.Text(), nullable=False),
        sa.Column("launch", sa.Text(), nullable=True),
        sa.Column("code_verifier", sa.String(128), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("patient", sa.String(64), nullable=True),
        sa.Column("fhir_user", sa.String(1024), nullable=True),
        sa.Column("csrf_token", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'active')", name="ck_review_sessions_status"),
    )
    op.create_index("ix_review_sessions_ends_at", "review_sessions", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_review_sessions_ends_at", table_name="review_sessions")
    op.drop_table("review_sessions")
