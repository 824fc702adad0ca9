"""a credential generation: one row that any change to an API key or to a user's role, state or e-mail counts up

The API keeps verified keys in each process (portal.accounts.verified_keys) and reads this one row per request
to know whether what it keeps still holds. Triggers count it up in the same transaction as the change, on
SQLite and PostgreSQL alike, whoever makes it: the portal, the command line, or an operator in the database's
own shell. (A later migration that rebuilds users or api_keys on SQLite, as batch_alter_table does, drops
their triggers: it must create them again; tests/portal/test_verified_keys.py fails if they are missing.)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BUMP = "UPDATE credential_generation SET value = value + 1 WHERE id = 1"
# the columns a verified key's answer depends on (last_used_at, last_login_at and the like do not count)
WATCHED = {
    "api_keys": "key_hash, revoked_at, user_id, prefix, name",
    "users": "role, active, email",
}


def upgrade() -> None:
    op.create_table(
        'credential_generation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute("INSERT INTO credential_generation (id, value) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION credential_generation_bump() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
        for table, columns in WATCHED.items():
            op.execute(f"CREATE TRIGGER {table}_credential_change AFTER UPDATE OF {columns} OR DELETE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION credential_generation_bump()")
    else:
        for table, columns in WATCHED.items():
            op.execute(f"CREATE TRIGGER {table}_credential_update AFTER UPDATE OF {columns} ON {table} "
                       f"BEGIN {BUMP}; END")
            op.execute(f"CREATE TRIGGER {table}_credential_delete AFTER DELETE ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_credential_change ON {table}")
        op.execute("DROP FUNCTION IF EXISTS credential_generation_bump()")
    else:
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_credential_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_credential_delete")
    op.drop_table('credential_generation')
