"""The stored stage policies: one row per version of an organisation's policy."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import utcnow
from services.employee_lifecycle.db import Base


class StagePolicy(Base):
    """One version of an organisation's policy. Versions are never edited:
    a change is a new version, so every past evaluation names what it used."""

    __tablename__ = "stage_policies"
    __table_args__ = (
        sa.UniqueConstraint("organization_path", "version"),
        sa.Index("ix_stage_policies_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    organization_path: Mapped[str] = mapped_column(sa.String(500))
    version: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
