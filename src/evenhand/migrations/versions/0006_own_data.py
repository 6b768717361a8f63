"""own data: external ids, outcomes, stage history, unmatched activities

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import evenhand.models.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unmatched_activities',
    sa.Column('source_system', sa.Enum('wecom', 'dingtalk', 'outlook', 'telephony', 'crm', name='sourcesystem', native_enum=False, length=24), nullable=False),
    sa.Column('external_id', sa.String(length=120), nullable=False),
    sa.Column('occurred_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('fields', evenhand.models.base.Json, nullable=False),
    sa.Column('received_at', evenhand.models.base.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', evenhand.models.base.UTCDateTime(), nullable=True),
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_unmatched_activities_activity_id_activities'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unmatched_activities')),
    sa.UniqueConstraint('source_system', 'external_id', name=op.f('uq_unmatched_activities_source_system_external_id'))
    )
    with op.batch_alter_table('unmatched_activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmatched_activities_reason'), ['reason'], unique=False)
        batch_op.create_index(batch_op.f('ix_unmatched_activities_resolved_at'), ['resolved_at'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_accounts_source_external_id'), ['source', 'external_id'])

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disqualify_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('converted_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_leads_converted_account_id_accounts'), 'accounts', ['converted_account_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('engaged_at', evenhand.models.base.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_opportunities_source_external_id'), ['source', 'external_id'])

    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('derived', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_users_external_id'), ['external_id'])



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_external_id'), type_='unique')
        batch_op.drop_column('external_id')

    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.drop_column('derived')

    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_opportunities_source_external_id'), type_='unique')
        batch_op.drop_column('engaged_at')
        batch_op.drop_column('external_id')
        batch_op.drop_column('source')

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_leads_converted_account_id_accounts'), type_='foreignkey')
        batch_op.drop_column('converted_account_id')
        batch_op.drop_column('disqualify_reason')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_accounts_source_external_id'), type_='unique')
        batch_op.drop_column('external_id')
        batch_op.drop_column('source')

    with op.batch_alter_table('unmatched_activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmatched_activities_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_unmatched_activities_reason'))

    op.drop_table('unmatched_activities')
