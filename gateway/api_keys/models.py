import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from sanlun.kernel.db import RecordMixin


class ApiKey(RecordMixin, Base):
    """An integrator's key. Only its SHA-256 is stored: the key itself is shown
    once, when it is created."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    # The first characters of the key, so people can tell their keys apart.
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    roles: Mapped[list[str]] = mapped_column(ARRAY(sa.String(32)), nullable=False)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    created_by: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    rate_limit_per_second: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.Index("ix_api_keys_created_at_id", "created_at", "id"),
        sa.Index("ix_api_keys_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
    )
