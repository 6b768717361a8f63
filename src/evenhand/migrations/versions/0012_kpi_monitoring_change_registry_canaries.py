"""kpi monitoring, change registry, canaries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('anomalies',
    sa.Column('kpi', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('detected_on', sa.Date(), nullable=False),
    sa.Column('last_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('observed', sa.Float(), nullable=True),
    sa.Column('effect', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('status', sa.Enum('open', 'closed', name='anomalystatus', native_enum=False, length=24), nullable=False),
    sa.Column('explanation', evenhand.models.base.Json, nullable=False),
    sa.Column('change_ids', evenhand.models.base.Json, nullable=False),
    sa.Column('updated_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anomalies')),
    sa.UniqueConstraint('kpi', 'kind', 'detected_on', name=op.f('uq_anomalies_kpi_kind_detected_on'))
    )
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_anomalies_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_anomalies_detected_on'), ['detected_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_anomalies_status'), ['status'], unique=False)

    op.create_table('kpi_points',
    sa.Column('kpi', sa.String(length=60), nullable=False),
    sa.Column('dimension', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('n', sa.Float(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('x2', sa.Float(), nullable=False),
    sa.Column('v', sa.Float(), nullable=True),
    sa.Column('by_age', evenhand.models.base.Json, nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_points')),
    sa.UniqueConstraint('kpi', 'dimension', 'value', 'day', name=op.f('uq_kpi_points_kpi_dimension_value_day'))
    )
    op.create_table('kpi_watermarks',
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('seen_until', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('refreshed_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_kpi_watermarks'))
    )
    op.create_table('kpi_definitions',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_kpi_definitions_author_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_definitions')),
    sa.UniqueConstraint('version', name=op.f('uq_kpi_definitions_version'))
    )
    with op.batch_alter_table('kpi_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_definitions_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_kpi_definitions_created_at'), ['created_at'], unique=False)

    op.create_table('canaries',
    sa.Column('document', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('control_version', sa.Integer(), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('salt', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('running', 'rolled_back', 'promoted', name='canarystatus', native_enum=False, length=24), nullable=False),
    sa.Column('metrics', evenhand.models.base.Json, nullable=False),
    sa.Column('started_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('ended_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('started_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('ended_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('change_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['change_entries.id'], name=op.f('fk_canaries_change_id_change_entries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], name=op.f('fk_canaries_ended_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_canaries_started_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canaries'))
    )
    with op.batch_alter_table('canaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_canaries_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_canaries_status'), ['status'], unique=False)

    with op.batch_alter_table('change_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('planned', 'released', 'rolled_back', name='changestatus', native_enum=False, length=24), server_default='released', nullable=False))
        batch_op.add_column(sa.Column('source', sa.String(length=20), server_default='manual', nullable=False))
        batch_op.add_column(sa.Column('document', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('document_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checklist', evenhand.models.base.Json, server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(sa.Column('monitors', evenhand.models.base.Json, server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('released_at', evenhand.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('released_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_change_entries_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_change_entries_released_by_id_users'), 'users', ['released_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('routing_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arm', sa.String(length=10), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('routing_decisions', schema=None) as batch_op:
        batch_op.drop_column('arm')

    with op.batch_alter_table('change_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_change_entries_released_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_change_entries_status'))
        batch_op.drop_column('released_by_id')
        batch_op.drop_column('released_at')
        batch_op.drop_column('monitors')
        batch_op.drop_column('checklist')
        batch_op.drop_column('document_version')
        batch_op.drop_column('document')
        batch_op.drop_column('source')
        batch_op.drop_column('status')

    with op.batch_alter_table('canaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canaries_status'))
        batch_op.drop_index(batch_op.f('ix_canaries_created_at'))

    op.drop_table('canaries')
    with op.batch_alter_table('kpi_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpi_definitions_created_at'))
        batch_op.drop_index(batch_op.f('ix_kpi_definitions_active'))

    op.drop_table('kpi_definitions')
    op.drop_table('kpi_watermarks')
    op.drop_table('kpi_points')
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_anomalies_status'))
        batch_op.drop_index(batch_op.f('ix_anomalies_detected_on'))
        batch_op.drop_index(batch_op.f('ix_anomalies_created_at'))

    op.drop_table('anomalies')
