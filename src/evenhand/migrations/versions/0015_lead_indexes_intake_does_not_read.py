"""the leads' indexes no query reads: the source's own (the unique index starts with it), the raw e-mail and phone's
(duplicates are sought by their keys); every lead taken in wrote them

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


def downgrade() -> None:
    for name, column in _DROPPED.items():
        op.create_index(name, "leads", [column])
