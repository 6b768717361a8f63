"""scorecards, peer review and complaints

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('peer_review_cycles',
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('per_reviewer', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='reviewcyclestatus', native_enum=False, length=24), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_review_cycles')),
    sa.UniqueConstraint('period', name=op.f('uq_peer_review_cycles_period'))
    )
    with op.batch_alter_table('peer_review_cycles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_peer_review_cycles_created_at'), ['created_at'], unique=False)

    op.create_table('metric_targets',
    sa.Column('metric', sa.String(length=60), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_metric_targets_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_metric_targets_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_targets')),
    sa.UniqueConstraint('metric', 'period', 'team_id', 'user_id', name=op.f('uq_metric_targets_metric_period_team_id_user_id'))
    )
    with op.batch_alter_table('metric_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_targets_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_targets_period'), ['period'], unique=False)

    op.create_table('peer_review_assignments',
    sa.Column('cycle_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reviewer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reviewee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['peer_review_cycles.id'], name=op.f('fk_peer_review_assignments_cycle_id_peer_review_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewee_id'], ['users.id'], name=op.f('fk_peer_review_assignments_reviewee_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_peer_review_assignments_reviewer_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_review_assignments')),
    sa.UniqueConstraint('cycle_id', 'reviewer_id', 'reviewee_id', name=op.f('uq_peer_review_assignments_cycle_id_reviewer_id_reviewee_id'))
    )
    with op.batch_alter_table('peer_review_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_peer_review_assignments_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_peer_review_assignments_reviewer_id'), ['reviewer_id'], unique=False)

    op.create_table('peer_reviews',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('cycle_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reviewee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('professionalism', sa.Integer(), nullable=False),
    sa.Column('collaboration', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['peer_review_cycles.id'], name=op.f('fk_peer_reviews_cycle_id_peer_review_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewee_id'], ['users.id'], name=op.f('fk_peer_reviews_reviewee_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_reviews'))
    )
    with op.batch_alter_table('peer_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_peer_reviews_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_peer_reviews_reviewee_id'), ['reviewee_id'], unique=False)

    op.create_table('score_periods',
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='periodstatus', native_enum=False, length=24), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('closed_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_score_periods_closed_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_periods')),
    sa.UniqueConstraint('period', name=op.f('uq_score_periods_period'))
    )
    with op.batch_alter_table('score_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_periods_created_at'), ['created_at'], unique=False)

    op.create_table('scorecard_templates',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_scorecard_templates_author_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecard_templates')),
    sa.UniqueConstraint('version', name=op.f('uq_scorecard_templates_version'))
    )
    with op.batch_alter_table('scorecard_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scorecard_templates_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_scorecard_templates_created_at'), ['created_at'], unique=False)

    op.create_table('complaints',
    sa.Column('source', sa.String(length=40), nullable=True),
    sa.Column('external_id', sa.String(length=120), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rep_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_complaints_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rep_id'], ['users.id'], name=op.f('fk_complaints_rep_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_complaints_source_external_id'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_rep_id'), ['rep_id'], unique=False)

    op.create_table('scorecards',
    sa.Column('period_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('template_name', sa.String(length=120), nullable=False),
    sa.Column('total', sa.Double(), nullable=True),
    sa.Column('gate', sa.String(length=60), nullable=True),
    sa.Column('tier', sa.String(length=40), nullable=True),
    sa.Column('metrics', evenhand.models.base.Json, nullable=False),
    sa.Column('inputs', evenhand.models.base.Json, nullable=False),
    sa.Column('computed_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['period_id'], ['score_periods.id'], name=op.f('fk_scorecards_period_id_score_periods'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_scorecards_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scorecards_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards')),
    sa.UniqueConstraint('period_id', 'revision', 'user_id', name=op.f('uq_scorecards_period_id_revision_user_id'))
    )
    with op.batch_alter_table('scorecards', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_user_period', ['user_id', 'period_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('scorecards', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_user_period')

    op.drop_table('scorecards')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_rep_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_account_id'))

    op.drop_table('complaints')
    with op.batch_alter_table('scorecard_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecard_templates_created_at'))
        batch_op.drop_index(batch_op.f('ix_scorecard_templates_active'))

    op.drop_table('scorecard_templates')
    with op.batch_alter_table('score_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_periods_created_at'))

    op.drop_table('score_periods')
    with op.batch_alter_table('peer_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_peer_reviews_reviewee_id'))
        batch_op.drop_index(batch_op.f('ix_peer_reviews_cycle_id'))

    op.drop_table('peer_reviews')
    with op.batch_alter_table('peer_review_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_peer_review_assignments_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_peer_review_assignments_cycle_id'))

    op.drop_table('peer_review_assignments')
    with op.batch_alter_table('metric_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_targets_period'))
        batch_op.drop_index(batch_op.f('ix_metric_targets_created_at'))

    op.drop_table('metric_targets')
    with op.batch_alter_table('peer_review_cycles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_peer_review_cycles_created_at'))

    op.drop_table('peer_review_cycles')
