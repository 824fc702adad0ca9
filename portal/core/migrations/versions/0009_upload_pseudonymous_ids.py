"""whether an upload's sample ids are pseudonyms

The uploader declares on Predict that the file's sample ids are pseudonyms, not direct identifiers; only then
does a sample's id travel as the subject of its FHIR export (portal.reports.fhir). Uploads stored before this
migration read false: their ids stay out of FHIR bundles.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pseudonymous_ids', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_column('pseudonymous_ids')
