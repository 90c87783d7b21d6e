import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.opportunity.db import Base


class SalesPerson(Base):
    """The assignment node's local view of a salesperson, kept from
    `employee.*` events (this service never reads another service's schema)."""

    __tablename__ = "sales_people"
    __table_args__ = (
        sa.Index(
            "ix_sales_people_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}
        ),
        sa.Index("ix_sales_people_name_employee_id", "name", "employee_id"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    capacity: Mapped[int] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean)
    # The employee record's version the row reflects: an older event never
    # overwrites a newer one.
    source_version: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    # From `employee.stage_changed`: the last stage seen, the fallback when
    # the lifecycle service cannot answer.
    stage: Mapped[str | None] = mapped_column(sa.String(20))
    stage_since: Mapped[dt.date | None] = mapped_column(sa.Date)
    stage_seen_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
