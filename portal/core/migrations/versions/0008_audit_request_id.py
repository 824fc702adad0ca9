"""the request id in each audit entry

The hash chain covers request_id only when it is set (portal.accounts.audit_chain.HASHED_WHEN_SET), so the
entries chained before this migration keep their hashes and still verify: nothing is re-chained.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_audit_events_request_id', ['request_id'], unique=False)


def downgrade() -> None:
    # entries written with a request id no longer verify once it is gone: downgrading loses it
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_request_id')
        batch_op.drop_column('request_id')
