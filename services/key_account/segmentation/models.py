import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.key_account.db import Base


class SegmentationPolicy(Base):
    """A segmentation policy per organisation (`org_path`, e.g. `/group/east`); `/` is the group's."""

    __tablename__ = "segmentation_policies"

    org_path: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(sa.Integer)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
