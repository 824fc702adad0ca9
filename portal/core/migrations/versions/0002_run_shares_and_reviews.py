"""run shares, sample reviews and an optional run name

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('prediction_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))

    op.create_table('run_shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.Column('granted_by', sa.Integer(), nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['prediction_runs.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['granted_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run_shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_shares_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_shares_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_shares_role'), ['role'], unique=False)

    op.create_table('sample_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('sample_id', sa.String(length=255), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['prediction_runs.id'], ),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['sample_reviews.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supersedes_id')
    )
    with op.batch_alter_table('sample_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_reviews_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_reviews_reviewer_id'), ['reviewer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sample_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_reviews_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_sample_reviews_run_id'))

    op.drop_table('sample_reviews')
    with op.batch_alter_table('run_shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_shares_role'))
        batch_op.drop_index(batch_op.f('ix_run_shares_user_id'))
        batch_op.drop_index(batch_op.f('ix_run_shares_run_id'))

    op.drop_table('run_shares')
    with op.batch_alter_table('prediction_runs', schema=None) as batch_op:
        batch_op.drop_column('name')
