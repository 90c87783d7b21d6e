import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
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


class Disclosure(enum.StrEnum):
    """How much of a relationship's owner others may see (in searches and introduction paths)."""

    IDENTITY = "identity"
    ORGANIZATION = "organization"
    ANONYMOUS = "anonymous"


GRAPH_SCOPES = ("group", "public")
# Relationships in the group-wide graph: the partial indexes behind introduction paths.
GRAPH_WHERE = "type = 'relationship' AND scope IN ('group', 'public')"


class Resource(RecordMixin, Base):
    __tablename__ = "resources"
    __table_args__ = (
        sa.CheckConstraint(_one_of("type", ResourceType), name="type"),
        sa.CheckConstraint(_one_of("scope", Scope), name="scope"),
        sa.Index("ix_resources_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
        sa.Index("ix_resources_created_at_id", "created_at", "id"),
        sa.Index("ix_resources_owner_id", "owner_id"),
        # A type's resources in creation order: the list by type walks it (rs_0006).
        sa.Index("ix_resources_type_created_at_id", "type", "created_at", "id"),
        sa.Index("ix_resources_scope", "scope"),
        sa.Index("ix_resources_industries", "industries", postgresql_using="gin"),
        sa.Index("ix_resources_solutions", "solutions", postgresql_using="gin"),
        sa.Index("ix_resources_search", "search", postgresql_using="gin"),
        sa.CheckConstraint(
            "type <> 'relationship' OR (contact_id IS NOT NULL AND strength IS NOT NULL"
            " AND consent_expires_on IS NOT NULL AND disclosure IS NOT NULL)",
            name="relationship_fields",
        ),
        sa.CheckConstraint("strength BETWEEN 0 AND 100", name="strength"),
        sa.CheckConstraint(_one_of("disclosure", Disclosure), name="disclosure"),
        sa.Index(
            "ix_resources_graph_contact",
            "contact_id",
            postgresql_where=sa.text(GRAPH_WHERE),
            postgresql_include=["owner_id", "strength", "consent_expires_on", "account_id"],
        ),
        sa.Index(
            "ix_resources_graph_account",
            "account_id",
            postgresql_where=sa.text(GRAPH_WHERE),
            postgresql_include=["owner_id", "strength", "consent_expires_on", "contact_id"],
        ),
        sa.Index(
            "ix_resources_owner_contact", "owner_id", "contact_id", postgresql_where=sa.text("type = 'relationship'")
        ),
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
    rating_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Relationship resources only: who the contact is (ids from key accounts),
    # how strong the owner's tie is, how much the owner discloses of themself,
    # the contact fields the owner chose to share, and the contact's consent.
    contact_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    strength: Mapped[int | None] = mapped_column(sa.SmallInteger)
    disclosure: Mapped[str | None] = mapped_column(sa.String(20))
    shared: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    consent_given_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    consent_expires_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    # Maintained by Postgres for `?q=`; never loaded into Python.
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        sa.Computed("to_tsvector('simple', title || ' ' || summary)", persisted=True),
        deferred=True,
        deferred_raiseload=True,
    )
