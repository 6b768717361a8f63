"""indexes every lead taken in wrote and no query read: the leads' source (the unique index starts with it), raw
e-mail and phone (duplicates are sought by their keys), and the audit entries' link (the seq, unique, already makes
the chain one line)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_DROPPED = {"ix_leads_source": "source", "ix_leads_email": "email", "ix_leads_phone": "phone"}


def upgrade() -> None:
    for name in _DROPPED:
        op.drop_index(name, table_name="leads")
    with op.batch_alter_table("audit_log") as batch:  # SQLite rebuilds the table
        batch.drop_constraint("uq_audit_log_hash", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.create_unique_constraint("uq_audit_log_hash", ["hash"])
    for name, column in _DROPPED.items():
        op.create_index(name, "leads", [column])
