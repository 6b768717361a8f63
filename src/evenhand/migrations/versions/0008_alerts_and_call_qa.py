"""alerts and call qa

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_rules',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_alert_rules_author_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules')),
    sa.UniqueConstraint('version', name=op.f('uq_alert_rules_version'))
    )
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rules_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_rules_created_at'), ['created_at'], unique=False)

    op.create_table('alerts',
    sa.Column('rule', sa.String(length=80), nullable=False),
    sa.Column('entity_type', sa.String(length=24), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('open_key', sa.String(length=160), nullable=True),
    sa.Column('rep_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'snoozed', 'resolved', name='alertstatus', native_enum=False, length=24), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('evidence', evenhand.models.base.Json, nullable=False),
    sa.Column('opened_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('snoozed_until', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['rep_id'], ['users.id'], name=op.f('fk_alerts_rep_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_alerts_resolved_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('open_key', name=op.f('uq_alerts_open_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_rule'), ['rule'], unique=False)
        batch_op.create_index('ix_alerts_status_rep', ['status', 'rep_id'], unique=False)

    op.create_table('qa_rubrics',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_qa_rubrics_author_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_rubrics')),
    sa.UniqueConstraint('version', name=op.f('uq_qa_rubrics_version'))
    )
    with op.batch_alter_table('qa_rubrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qa_rubrics_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_rubrics_created_at'), ['created_at'], unique=False)

    op.create_table('qa_samples',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('share', sa.Double(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('drawn', sa.Integer(), nullable=False),
    sa.Column('drawn_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('drawn_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['drawn_by'], ['users.id'], name=op.f('fk_qa_samples_drawn_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_samples')),
    sa.UniqueConstraint('period', 'seed', name=op.f('uq_qa_samples_period_seed'))
    )
    with op.batch_alter_table('qa_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qa_samples_period'), ['period'], unique=False)

    op.create_table('alert_actions',
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('comment', sa.String(length=2000), nullable=False),
    sa.Column('until', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_alert_actions_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_actions_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_actions'))
    )
    with op.batch_alter_table('alert_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_actions_alert_id'), ['alert_id'], unique=False)

    op.create_table('qa_reviews',
    sa.Column('sample_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rep_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('pending', 'reviewed', 'acknowledged', name='reviewstatus', native_enum=False, length=24), nullable=False),
    sa.Column('reviewer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('rubric_version', sa.Integer(), nullable=True),
    sa.Column('scores', evenhand.models.base.Json, nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('coaching', evenhand.models.base.Json, nullable=False),
    sa.Column('reviewed_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_qa_reviews_activity_id_activities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rep_id'], ['users.id'], name=op.f('fk_qa_reviews_rep_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_qa_reviews_reviewer_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_id'], ['qa_samples.id'], name=op.f('fk_qa_reviews_sample_id_qa_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_reviews')),
    sa.UniqueConstraint('sample_id', 'activity_id', name=op.f('uq_qa_reviews_sample_id_activity_id'))
    )
    with op.batch_alter_table('qa_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qa_reviews_rep_id'), ['rep_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_reviews_sample_id'), ['sample_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_reviews_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('qa_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qa_reviews_status'))
        batch_op.drop_index(batch_op.f('ix_qa_reviews_sample_id'))
        batch_op.drop_index(batch_op.f('ix_qa_reviews_rep_id'))

    op.drop_table('qa_reviews')
    with op.batch_alter_table('alert_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_actions_alert_id'))

    op.drop_table('alert_actions')
    with op.batch_alter_table('qa_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qa_samples_period'))

    op.drop_table('qa_samples')
    with op.batch_alter_table('qa_rubrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qa_rubrics_created_at'))
        batch_op.drop_index(batch_op.f('ix_qa_rubrics_active'))

    op.drop_table('qa_rubrics')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_status_rep')
        batch_op.drop_index(batch_op.f('ix_alerts_rule'))
        batch_op.drop_index(batch_op.f('ix_alerts_opened_at'))

    op.drop_table('alerts')
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_rules_created_at'))
        batch_op.drop_index(batch_op.f('ix_alert_rules_active'))

    op.drop_table('alert_rules')
