"""the alert scan reads live alerts by entity and remembers each deal's stage standard

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_stage_clocks',
    sa.Column('opportunity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
              nullable=False),
    sa.Column('started_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=False),
    sa.Column('standards_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('judged_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'],
                            name=op.f('fk_alert_stage_clocks_opportunity_id_opportunities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('opportunity_id', name=op.f('pk_alert_stage_clocks'))
    )
    if op.get_bind().dialect.name == 'postgresql':  # room for the scan's "last seen" to update in place
        op.execute('ALTER TABLE alerts SET (fillfactor = 70)')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_live', ['entity_type', 'entity_id', 'rule'], unique=False,
                              sqlite_where=sa.text('open_key IS NOT NULL'),
                              postgresql_where=sa.text('open_key IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_live', sqlite_where=sa.text('open_key IS NOT NULL'),
                            postgresql_where=sa.text('open_key IS NOT NULL'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE alerts RESET (fillfactor)')
    op.drop_table('alert_stage_clocks')
