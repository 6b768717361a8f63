"""indexes on a column a new row may leave empty hold only the rows that have it: a lead's owner, assignment time,
contact keys and duplicate link, a delivery's message and a message's next escalation. Every read through them
compares the column, which excludes NULL; the rows without it cost each write an entry nothing found.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# (index, table, columns): the first column is the one that must be set
_PARTIAL = (
    ("ix_leads_owner_status", "leads", ["owner_id", "status"]),
    ("ix_leads_owner_assigned", "leads", ["owner_id", "assigned_at", "score"]),
    ("ix_leads_assigned_at", "leads", ["assigned_at"]),
    ("ix_leads_email_key", "leads", ["email_key"]),
    ("ix_leads_phone_key", "leads", ["phone_key"]),
    ("ix_leads_duplicate_of_id", "leads", ["duplicate_of_id"]),
    ("ix_notifications_message_id", "notifications", ["message_id"]),
    ("ix_notifications_escalate_at", "notifications", ["escalate_at"]),
)


def upgrade() -> None:
    for name, table, columns in _PARTIAL:
        where = sa.text(f"{columns[0]} IS NOT NULL")
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, columns in _PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
