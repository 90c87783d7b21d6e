import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.employee_lifecycle.db import Base


class OrgUnit(RecordMixin, Base):
    """A node of the organisation tree. `path` is materialised (`/group/east/team-3`)
    so "this unit and below" is one indexed prefix match."""

    __tablename__ = "org_units"
    __table_args__ = (
        sa.Index("ix_org_units_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
        sa.Index("ix_org_units_created_at_id", "created_at", "id"),
        sa.Index("ix_org_units_parent_id", "parent_id"),
    )

    external_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, sa.ForeignKey("employee_lifecycle.org_units.id"))
    slug: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    path: Mapped[str] = mapped_column(sa.String(500), unique=True)
    depth: Mapped[int] = mapped_column(sa.Integer)
