import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.resource_share.db import Base


class ResourceType(enum.StrEnum):
    SOLUTION_ASSET = "solution_asset"
    REFERENCE_CASE = "reference_case"
    EXPERT = "expert"
    RELATIONSHIP = "relationship"
    EVENT_SLOT = "event_slot"


class Scope(enum.StrEnum):
    """Who besides the owner (and the owner's managers and admins) sees a resource."""

    PRIVATE = "private"
    TEAM = "team"
    ORGANIZATION = "organization"
    GROUP = "group"
    PUBLIC = "public"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Resource(RecordMixin, Base):
    __tablename__ = "resources"
    __table_args__ = (
        sa.CheckConstraint(_one_of("type", ResourceType), name="type"),
        sa.CheckConstraint(_one_of("scope", Scope), name="scope"),
        sa.Index("ix_resources_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
        sa.Index("ix_resources_created_at_id", "created_at", "id"),
        sa.Index("ix_resources_owner_id", "owner_id"),
        sa.Index("ix_resources_type", "type"),
        sa.Index("ix_resources_scope", "scope"),
        sa.Index("ix_resources_industries", "industries", postgresql_using="gin"),
        sa.Index("ix_resources_solutions", "solutions", postgresql_using="gin"),
        sa.Index("ix_resources_search", "search", postgresql_using="gin"),
    )

    type: Mapped[str] = mapped_column(sa.String(30))
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    owner_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    scope: Mapped[str] = mapped_column(sa.String(20))
    industries: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    solutions: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    usage_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    rating_avg: Mapped[Decimal | None] = mapped_column(sa.Numeric(3, 2))
    # Maintained by Postgres for `?q=`; never loaded into Python.
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        sa.Computed("to_tsvector('simple', title || ' ' || summary)", persisted=True),
        deferred=True,
        deferred_raiseload=True,
    )
