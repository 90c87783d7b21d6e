import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.employee_lifecycle.db import Base


class Quota(RecordMixin, Base):
    __tablename__ = "quotas"
    __table_args__ = (
        sa.UniqueConstraint("employee_id", "period_start"),
        sa.Index("ix_quotas_created_at_id", "created_at", "id"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("employee_lifecycle.employees.id"))
    period_start: Mapped[dt.date] = mapped_column(sa.Date)  # first day of the quarter
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    currency: Mapped[str] = mapped_column(sa.CHAR(3))
