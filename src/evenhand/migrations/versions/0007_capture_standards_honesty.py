"""capture, stage standards and honesty flags

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('capture_queue',
    sa.Column('connector', sa.String(length=24), nullable=False),
    sa.Column('payload', evenhand.models.base.Json, nullable=False),
    sa.Column('received_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('done_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capture_queue'))
    )
    with op.batch_alter_table('capture_queue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_queue_done_at'), ['done_at'], unique=False)

    op.create_table('capture_receipts',
    sa.Column('connector', sa.String(length=24), nullable=False),
    sa.Column('event_key', sa.String(length=200), nullable=False),
    sa.Column('received_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capture_receipts')),
    sa.UniqueConstraint('connector', 'event_key', name=op.f('uq_capture_receipts_connector_event_key'))
    )
    with op.batch_alter_table('capture_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_receipts_received_at'), ['received_at'], unique=False)

    op.create_table('connector_status',
    sa.Column('connector', sa.String(length=24), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('last_event_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_error_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connector_status')),
    sa.UniqueConstraint('connector', name=op.f('uq_connector_status_connector'))
    )
    op.create_table('graph_subscriptions',
    sa.Column('subscription_id', sa.String(length=120), nullable=False),
    sa.Column('resource', sa.String(length=300), nullable=False),
    sa.Column('client_state', sa.String(length=128), nullable=False),
    sa.Column('expires_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('renewed_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_graph_subscriptions')),
    sa.UniqueConstraint('subscription_id', name=op.f('uq_graph_subscriptions_subscription_id'))
    )
    with op.batch_alter_table('graph_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_graph_subscriptions_expires_at'), ['expires_at'], unique=False)

    op.create_table('stage_standards',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_stage_standards_author_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_standards')),
    sa.UniqueConstraint('version', name=op.f('uq_stage_standards_version'))
    )
    with op.batch_alter_table('stage_standards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_standards_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_stage_standards_created_at'), ['created_at'], unique=False)

    op.create_table('honesty_flags',
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('unbacked', 'duplicate', name='flagkind', native_enum=False, length=24), nullable=False),
    sa.Column('rep_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('open', 'confirmed', 'dismissed', name='flagstatus', native_enum=False, length=24), nullable=False),
    sa.Column('evidence', evenhand.models.base.Json, nullable=False),
    sa.Column('decided_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_honesty_flags_activity_id_activities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_honesty_flags_decided_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rep_id'], ['users.id'], name=op.f('fk_honesty_flags_rep_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_honesty_flags')),
    sa.UniqueConstraint('activity_id', 'kind', name=op.f('uq_honesty_flags_activity_id_kind'))
    )
    with op.batch_alter_table('honesty_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_honesty_flags_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_honesty_flags_rep_id'), ['rep_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_honesty_flags_status'), ['status'], unique=False)

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('declared_type', sa.Enum('call', 'email', 'message', 'meeting', 'visit', 'note', name='activitytype', native_enum=False, length=24), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('declared_type')
        batch_op.drop_column('body')
        batch_op.drop_column('message_count')

    with op.batch_alter_table('honesty_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_honesty_flags_status'))
        batch_op.drop_index(batch_op.f('ix_honesty_flags_rep_id'))
        batch_op.drop_index(batch_op.f('ix_honesty_flags_created_at'))

    op.drop_table('honesty_flags')
    with op.batch_alter_table('stage_standards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_standards_created_at'))
        batch_op.drop_index(batch_op.f('ix_stage_standards_active'))

    op.drop_table('stage_standards')
    with op.batch_alter_table('graph_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_graph_subscriptions_expires_at'))

    op.drop_table('graph_subscriptions')
    op.drop_table('connector_status')
    with op.batch_alter_table('capture_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capture_receipts_received_at'))

    op.drop_table('capture_receipts')
    with op.batch_alter_table('capture_queue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capture_queue_done_at'))

    op.drop_table('capture_queue')
