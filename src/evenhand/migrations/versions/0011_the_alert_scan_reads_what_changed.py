"""the alert scan reads what changed: marks, the scan's moment, and the indexes of the windows it reads

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('alert_marks',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('entity_type', sa.String(length=24), nullable=False),
    sa.Column('entity_id', ID, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_marks'))
    )
    op.create_table('alert_scan_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('scanned_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=False),
    sa.Column('standards_version', sa.Integer(), nullable=True),
    sa.Column('full_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_scan_state'))
    )
    with op.batch_alter_table('alert_stage_clocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_stage_clocks_due_at'), ['due_at'], unique=False)
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_occurred_at', ['occurred_at'], unique=False)
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_opportunities_stage_changed_at', ['stage_changed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_stage_changed_at')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_occurred_at')
    with op.batch_alter_table('alert_stage_clocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_stage_clocks_due_at'))
    op.drop_table('alert_scan_state')
    op.drop_table('alert_marks')
