"""routing counts from covering indexes: ix_leads_owner_assigned carries the score

Routing counts each candidate's leads this week (all and high-value) from this index alone, without
reading the lead rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_owner_assigned')
        batch_op.create_index('ix_leads_owner_assigned', ['owner_id', 'assigned_at', 'score'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_owner_assigned')
        batch_op.create_index('ix_leads_owner_assigned', ['owner_id', 'assigned_at'], unique=False)
