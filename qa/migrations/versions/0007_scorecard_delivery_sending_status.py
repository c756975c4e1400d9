"""scorecard deliveries: 'sending' status for claimed, unconfirmed sends

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 11:05:00
"""

from __future__ import annotations

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_NAME = 'ck_scorecard_deliveries_status'


def upgrade() -> None:
    with op.batch_alter_table('scorecard_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(_NAME), type_='check')
        batch_op.create_check_constraint(
            op.f(_NAME), "status IN ('pending', 'sending', 'sent', 'failed')"
        )


def downgrade() -> None:
    op.execute("UPDATE scorecard_deliveries SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table('scorecard_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(_NAME), type_='check')
        batch_op.create_check_constraint(op.f(_NAME), "status IN ('pending', 'sent', 'failed')")
