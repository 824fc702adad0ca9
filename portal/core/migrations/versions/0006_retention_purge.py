"""run and upload records marked purged when retention removes their files

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# portal.retention: when a record's stored files went (purged_at), why (purge_reason), and when an erasure
# last rewrote them (revised_at); notebook runs are only ever purged whole
COLUMNS = {
    'uploads': ('purged_at', 'purge_reason', 'revised_at'),
    'prediction_runs': ('purged_at', 'purge_reason', 'revised_at'),
    'notebook_runs': ('purged_at', 'purge_reason'),
}


def _column(name: str) -> sa.Column:
    kind = sa.String(length=16) if name == 'purge_reason' else sa.DateTime()
    return sa.Column(name, kind, nullable=True)


def upgrade() -> None:
    for table, names in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                batch_op.add_column(_column(name))


def downgrade() -> None:
    for table, names in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in reversed(names):
                batch_op.drop_column(name)
