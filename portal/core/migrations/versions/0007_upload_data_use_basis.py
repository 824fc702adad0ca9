"""each upload's data-use basis (consent) and its reference

Uploads stored before this migration get the basis "unrecorded" (DataUseBasis.UNRECORDED), shown as
"not recorded (uploaded before consent was recorded)"; a new upload always records one it was given.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_use_basis', sa.String(length=32), nullable=False,
                                      server_default='unrecorded'))
        batch_op.add_column(sa.Column('data_use_reference', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_column('data_use_reference')
        batch_op.drop_column('data_use_basis')
