import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.resource_share.db import Base


class Person(Base):
    """Local view of an employee (this service never reads another schema):
    the stage is the fallback when the lifecycle service cannot be reached."""

    __tablename__ = "people"
    __table_args__ = (
        sa.Index("ix_people_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
        sa.Index("ix_people_manager_id", "manager_id"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    # A stage change may arrive before the employee's record: the name can be unknown for a while.
    name: Mapped[str | None] = mapped_column(sa.String(200))
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    capacity: Mapped[int | None] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # The employee record's version the row reflects: an older event never overwrites a newer one.
    source_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    stage: Mapped[str | None] = mapped_column(sa.String(20))
    stage_since: Mapped[dt.date | None] = mapped_column(sa.Date)
    # When the stage event happened: orders stage changes (they carry no version).
    stage_observed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
