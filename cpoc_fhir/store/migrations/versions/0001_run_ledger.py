"""Run ledger: runs, run_patients, writes, locks.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Kept literal (not imported from models) so this revision never changes after release.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(512), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("resumed_from", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'interrupted')", name="ck_runs_status"
        ),
    )
    op.create_index("ix_runs_scope", "runs", ["scope", "id"])
    op.create_table(
        "run_patients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("patient_ref", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", _TS, nullable=False),
        sa.UniqueConstraint("run_id", "patient_ref", name="uq_run_patients_run_patient"),
        sa.CheckConstraint("status IN ('done', 'failed')", name="ck_run_patients_status"),
    )
    op.create_table(
        "writes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("patient_ref", sa.String(255), nullable=False),
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("chargeitem_id", sa.String(255), nullable=True),
        sa.Column("version_id", sa.String(64), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_writes_run_id", "writes", ["run_id"])
    op.create_index("ix_writes_identifier", "writes", ["identifier"])
    op.create_table(
        "locks",
        sa.Column("scope", sa.String(512), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("holder_host", sa.String(255), nullable=False),
        sa.Column("holder_pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("locks")
    op.drop_index("ix_writes_identifier", table_name="writes")
    op.drop_index("ix_writes_run_id", table_name="writes")
    op.drop_table("writes")
    op.drop_table("run_patients")
    op.drop_index("ix_runs_scope", table_name="runs")
    op.drop_table("runs")
