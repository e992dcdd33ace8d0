"""The first schema: API keys and scan jobs.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "scans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("media_type", sa.String(40)),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("stored_path", sa.Text),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(10)),
        sa.Column("fake_probability", sa.Float),
        sa.Column("duration_s", sa.Float),
        sa.Column("result", sa.Text),
        sa.Column("spectrogram", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("purge_after", sa.DateTime(timezone=True)),
    )
    for column in ("owner", "status", "model", "verdict", "created_at"):
        op.create_index(f"ix_scans_{column}", "scans", [column])


def downgrade() -> None:
    op.drop_table("scans")
    op.drop_table("api_keys")
