"""the audit trail's hash chain: prev_hash and hash on every entry, computed for the entries already there

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from portal.accounts.audit_chain import APPENDING, GENESIS, HASHED, entry_hash

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    # chain the entries written before the chain existed, in id order
    events = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('prev_hash', sa.String),
                      sa.column('hash', sa.String), sa.column('at', sa.DateTime), sa.column('details', sa.JSON),
                      sa.column('user_id', sa.Integer),
                      *(sa.column(name, sa.String) for name in HASHED if name not in ('at', 'details', 'user_id')))
    connection = op.get_bind()
    previous, last = GENESIS, 0
    while True:
        rows = connection.execute(sa.select(events).where(events.c.id > last).order_by(events.c.id)
                                  .limit(BATCH)).mappings().all()
        if not rows:
            break
        for row in rows:
            digest = entry_hash(dict(row), previous)
            connection.execute(sa.update(events).where(events.c.id == row['id'])  # the chain's own write
                               .values(prev_hash=previous, hash=digest).execution_options(**{APPENDING: True}))
            previous = digest
        last = rows[-1]['id']


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
