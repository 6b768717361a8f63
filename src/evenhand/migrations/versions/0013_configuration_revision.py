"""the configuration's revision, changed by triggers on every table the intake path caches

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

from evenhand.models.revision import PG_FUNCTION, first_row, trigger_ddl, trigger_names

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# As they were at this revision; a later one that caches another table adds its triggers itself.
TABLES = (
    "scoring_models", "routing_policies", "canaries", "users", "teams", "departments", "regions", "product_lines",
    "user_product_lines", "leaves", "user_grants", "notify_endpoints", "notify_preferences",
)


def upgrade() -> None:
    op.create_table('config_revision',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('stamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config_revision'))
    )
    dialect = op.get_bind().dialect.name
    op.execute(first_row(dialect))
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
    for table in TABLES:
        for statement in trigger_ddl(table, dialect):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        for name in trigger_names(table, dialect):
            op.execute(f"DROP TRIGGER {name} ON {table}" if dialect == "postgresql" else f"DROP TRIGGER {name}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION config_revision_bump()")
    op.drop_table('config_revision')
