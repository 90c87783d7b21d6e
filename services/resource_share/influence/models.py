import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.resource_share.db import Base


class Profile(RecordMixin, Base):
    """An employee's profile; seen beyond their line only when they opt in (`public`)."""

    __tablename__ = "profiles"
    __table_args__ = (
        sa.UniqueConstraint("employee_id"),
        sa.Index("ix_profiles_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    public: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    headline: Mapped[str] = mapped_column(sa.String(200), default="")
    expertise_areas: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    published_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
