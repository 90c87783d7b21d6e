import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.employee_lifecycle.db import Base


class Employee(RecordMixin, Base):
    __tablename__ = "employees"
    __table_args__ = (
        sa.Index("ix_employees_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
        sa.Index("ix_employees_created_at_id", "created_at", "id"),
        sa.Index("ix_employees_manager_id", "manager_id"),
    )

    external_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, sa.ForeignKey("employee_lifecycle.employees.id"))
    hire_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    entered_sales_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    capacity: Mapped[int] = mapped_column(sa.Integer, default=20)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    skills: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list, server_default="{}")
    industries: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list, server_default="{}")
    regions: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list, server_default="{}")
