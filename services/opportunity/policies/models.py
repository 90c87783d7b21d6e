import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import utcnow
from services.opportunity.db import Base


class PolicyRow(Base):
    """An organisation's policy document (`domain.policy.Policy` as JSON)."""

    __tablename__ = "policies"

    organization_path: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    document: Mapped[dict] = mapped_column(JSONB)
    updated_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    )
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
