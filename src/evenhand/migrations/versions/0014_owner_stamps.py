"""owner stamps: routing's counts of a rep kept in process while no write touched the rep's leads or deals (SQLite)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from evenhand.models.routing import STAMPED, owner_stamp_ddl, owner_stamp_triggers

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('owner_stamps',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('stamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_owner_stamps'))
    )
    if op.get_bind().dialect.name == "sqlite":
        for table in STAMPED:
            for statement in owner_stamp_ddl(table):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in STAMPED:
            for name in owner_stamp_triggers(table):
                op.execute(f"DROP TRIGGER {name}")
    op.drop_table('owner_stamps')
