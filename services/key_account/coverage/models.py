import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.key_account.db import SCHEMA, Base
from services.key_account.domain.coverage import ROLES


class CoverageMember(RecordMixin, Base):
    __tablename__ = "coverage_members"
    __table_args__ = (
        sa.CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role_known"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_order"),
        sa.UniqueConstraint("account_id", "employee_id", "role", "valid_from"),
        sa.Index("ix_coverage_members_account_id", "account_id"),
        sa.Index("ix_coverage_members_employee_id", "employee_id"),
        sa.Index(
            "ix_coverage_members_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}
        ),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id", ondelete="CASCADE"))
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    # The member's own org unit: managers above a member see the accounts they cover.
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    role: Mapped[str] = mapped_column(sa.String(32))
    valid_from: Mapped[dt.date] = mapped_column(sa.Date)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)
