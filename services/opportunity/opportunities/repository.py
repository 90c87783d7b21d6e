"""All queries of the opportunities area."""

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from sanlun.kernel.auth import Principal, path_within, sees_only_own, visibility_clause
from services.opportunity.domain.stages import Stage
from services.opportunity.opportunities.models import Opportunity, StageChange, TeamMember


def member_clause(principal: Principal) -> sa.ColumnElement[bool] | None:
    if principal.employee_id is None:
        return None
    return sa.exists().where(
        TeamMember.opportunity_id == Opportunity.id, TeamMember.employee_id == principal.employee_id
    )


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    if sees_only_own(principal):
        # The same rows as owner-or-team-member, in a form the planner sizes right.
        own = (
            sa.union(
                sa.select(Opportunity.id).where(Opportunity.owner_id == principal.employee_id),
                sa.select(TeamMember.opportunity_id).where(TeamMember.employee_id == principal.employee_id),
            )
            .subquery()
            .select()
        )
        return Opportunity.id.in_(own)
    return visibility_clause(
        principal,
        owner_column=Opportunity.owner_id,
        org_unit_column=Opportunity.org_unit_path,
        member_clause=member_clause(principal),
    )


SORTS = {
    "created_at": Opportunity.created_at,
    "updated_at": Opportunity.updated_at,
    "name": Opportunity.name,
    "expected_close_date": Opportunity.expected_close_date,
    "amount": Opportunity.amount_value,
    "assigned_at": Opportunity.assigned_at,
}
# Keyset paging cannot step over NULLs: sorting by one of these leaves out the rows without it.
NULLABLE_SORTS = ("expected_close_date", "amount", "assigned_at")


def list_statement(
    principal: Principal,
    *,
    owner_id: uuid.UUID | None = None,
    team_member_id: uuid.UUID | None = None,
    unassigned: bool | None = None,
    stages: Sequence[Stage] = (),
    account_id: uuid.UUID | None = None,
    org_unit: str | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
    closed_from: dt.date | None = None,
    closed_to: dt.date | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    solution_id: uuid.UUID | None = None,
    industry: str | None = None,
    origin_type: str | None = None,
    origin_id: str | None = None,
    assigned_since: dt.datetime | None = None,
    sort: str = "created_at",
) -> sa.Select[Any]:
    stmt = sa.select(Opportunity).where(visible(principal))
    if sort in NULLABLE_SORTS:
        stmt = stmt.where(SORTS[sort].is_not(None))
    if owner_id is not None:
        stmt = stmt.where(Opportunity.owner_id == owner_id)
    if team_member_id is not None:
        stmt = stmt.where(
            sa.exists().where(TeamMember.opportunity_id == Opportunity.id, TeamMember.employee_id == team_member_id)
        )
    if unassigned is not None:
        stmt = stmt.where(Opportunity.owner_id.is_(None) if unassigned else Opportunity.owner_id.is_not(None))
    if stages:
        stmt = stmt.where(Opportunity.stage.in_([s.value for s in stages]))
    if account_id is not None:
        stmt = stmt.where(Opportunity.account_id == account_id)
    if org_unit:
        stmt = stmt.where(path_within(Opportunity.org_unit_path, org_unit))
    if close_from is not None:
        stmt = stmt.where(Opportunity.expected_close_date >= close_from)
    if close_to is not None:
        stmt = stmt.where(Opportunity.expected_close_date <= close_to)
    if closed_from is not None:
        stmt = stmt.where(Opportunity.closed_on >= closed_from)
    if closed_to is not None:
        stmt = stmt.where(Opportunity.closed_on <= closed_to)
    if amount_min is not None:
        stmt = stmt.where(Opportunity.amount_value >= amount_min)
    if amount_max is not None:
        stmt = stmt.where(Opportunity.amount_value <= amount_max)
    if solution_id is not None:
        stmt = stmt.where(Opportunity.solution_ids.contains([solution_id]))
    if industry:
        stmt = stmt.where(Opportunity.industry == industry)
    if origin_type:
        stmt = stmt.where(Opportunity.origin_type == origin_type)
    if assigned_since is not None:
        stmt = stmt.where(Opportunity.assigned_at >= assigned_since)
    if origin_id:
        stmt = stmt.where(Opportunity.origin_id == origin_id)
    return stmt


async def get_visible(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, *, for_update: bool = False
) -> Opportunity | None:
    stmt = sa.select(Opportunity).where(Opportunity.id == opportunity_id, visible(principal))
    if for_update:
        stmt = stmt.with_for_update(of=Opportunity)
    return (await session.execute(stmt)).scalar_one_or_none()


async def visible_by_ids(session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]) -> list[Opportunity]:
    stmt = sa.select(Opportunity).where(Opportunity.id.in_(ids), visible(principal))
    return list((await session.execute(stmt)).scalars())


async def external_id_taken(session: AsyncSession, external_id: str) -> bool:
    stmt = sa.select(sa.literal(True)).where(Opportunity.external_id == external_id)
    return (await session.execute(stmt)).first() is not None


# -- bulk writes: one statement per batch, each column an array (`unnest`) -------------------------

_DEALS = Opportunity.__table__.fullname  # type: ignore[attr-defined]
_TEAMS = TeamMember.__table__.fullname  # type: ignore[attr-defined]
_HISTORY = StageChange.__table__.fullname  # type: ignore[attr-defined]

# What a bulk row writes, in this order (`solution_ids` travels as array literals: unnest cannot
# take an array of arrays of different lengths).
BULK_COLUMNS = (
    "id",
    "external_id",
    "name",
    "account_id",
    "amount",
    "currency",
    "expected_close_date",
    "owner_id",
    "assigned_at",
    "org_unit_path",
    "source",
    "compelling_event",
    "stage",
    "win_probability",
    "industry",
    "size_band",
    "solution_ids",
    "closed_on",
    "origin_type",
    "origin_id",
    "updated_at",
    "version",
)
_ARRAY_TYPES = {
    "id": "uuid[]",
    "account_id": "uuid[]",
    "owner_id": "uuid[]",
    "amount": "numeric[]",
    "expected_close_date": "date[]",
    "closed_on": "date[]",
    "assigned_at": "timestamptz[]",
    "updated_at": "timestamptz[]",
    "win_probability": "numeric[]",
    "version": "int[]",
}
_UNNEST = "unnest({}) AS v({})".format(
    ", ".join(f"CAST(:{c} AS {_ARRAY_TYPES.get(c, 'text[]')})" for c in BULK_COLUMNS), ", ".join(BULK_COLUMNS)
)
_VALUES = ", ".join("CAST(v.solution_ids AS uuid[])" if c == "solution_ids" else f"v.{c}" for c in BULK_COLUMNS)
_SETS = ", ".join(
    "solution_ids = CAST(v.solution_ids AS uuid[])" if c == "solution_ids" else f"{c} = v.{c}"
    for c in BULK_COLUMNS
    if c not in ("id", "external_id", "origin_type", "origin_id", "version")
)
# Every statement below is put together from this module's constant table and column names; values are bound.
# The batch's deals and teams read with one index probe per key, whatever the statistics say: an
# import fills the tables faster than they follow, and on those of a small table `= ANY(:keys)`
# is planned as a scan of every row per batch. OFFSET 0 keeps the probe from being flattened.
_STORED = sa.text(
    "SELECT d.* FROM unnest(CAST(:keys AS text[])) AS k(external_id) CROSS JOIN LATERAL ("  # noqa: S608
    f"SELECT {', '.join(BULK_COLUMNS)} FROM {_DEALS} WHERE external_id = k.external_id OFFSET 0) d"
)
_INSERT = sa.text(
    f"INSERT INTO {_DEALS} ({', '.join(BULK_COLUMNS)}, created_at) "  # noqa: S608
    f"SELECT {_VALUES}, v.updated_at FROM {_UNNEST}"
)
# At the version each row was read with: a row changed since is not written (and not returned).
_UPDATE = sa.text(
    f"UPDATE {_DEALS} AS o SET {_SETS}, version = o.version + 1 FROM {_UNNEST} "  # noqa: S608
    "WHERE o.id = v.id AND o.version = v.version RETURNING o.id"
)
_TEAMS_OF = sa.text(
    "SELECT t.* FROM unnest(CAST(:ids AS uuid[])) AS k(id) CROSS JOIN LATERAL ("  # noqa: S608
    f"SELECT opportunity_id, employee_id, role FROM {_TEAMS} WHERE opportunity_id = k.id OFFSET 0) t "
    "ORDER BY t.opportunity_id, t.employee_id"
)
_DELETE_TEAMS = sa.text(f"DELETE FROM {_TEAMS} WHERE opportunity_id = ANY(:ids)")  # noqa: S608
_INSERT_TEAMS = sa.text(
    f"INSERT INTO {_TEAMS} (opportunity_id, employee_id, role) "  # noqa: S608
    "SELECT * FROM unnest(CAST(:deals AS uuid[]), CAST(:people AS uuid[]), CAST(:roles AS text[]))"
)
_INSERT_HISTORY = sa.text(
    f"INSERT INTO {_HISTORY} (opportunity_id, from_stage, to_stage, changed_at, changed_by, forced, reason, unmet) "  # noqa: S608
    "SELECT d, f, t, at, b, x, r, CAST(u AS jsonb) FROM unnest(CAST(:deals AS uuid[]), CAST(:froms AS text[]), "
    "CAST(:tos AS text[]), CAST(:ats AS timestamptz[]), CAST(:bys AS text[]), CAST(:forced AS boolean[]), "
    "CAST(:reasons AS text[]), CAST(:unmet AS text[])) AS h(d, f, t, at, b, x, r, u)"
)


def uuid_array(ids: Iterable[uuid.UUID]) -> str:
    """A uuid[] literal (what `solution_ids` travels as)."""
    return "{" + ",".join(map(str, ids)) + "}"


async def by_external_ids(session: AsyncSession, external_ids: Iterable[str]) -> dict[str, sa.Row[Any]]:
    """The stored deals of a bulk batch by external id: their `BULK_COLUMNS`, as plain rows (no ORM state)."""
    rows = (await session.execute(_STORED, {"keys": list(external_ids)})).all()
    return {r[1]: r for r in rows}


class Member(NamedTuple):
    employee_id: uuid.UUID
    role: str


async def team_pairs(session: AsyncSession, opportunity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Member]]:
    """The teams of a batch of deals by deal, in one statement."""
    out: dict[uuid.UUID, list[Member]] = {i: [] for i in opportunity_ids}
    if opportunity_ids:
        for deal, employee_id, role in (await session.execute(_TEAMS_OF, {"ids": list(set(opportunity_ids))})).all():
            out[deal].append(Member(employee_id, role))
    return out


def _columns(rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    """`BULK_COLUMNS` rows as one array per column (`solution_ids` as uuid[] literals)."""
    columns = dict(zip(BULK_COLUMNS, (list(c) for c in zip(*rows, strict=True)), strict=True))
    columns["solution_ids"] = [uuid_array(ids) for ids in columns["solution_ids"]]
    return columns


async def insert_many(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """New deals (each its `BULK_COLUMNS` values, `version` 1) in one INSERT."""
    if rows:
        await session.execute(_INSERT, _columns(rows))


async def update_many(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Stored deals rewritten in one UPDATE, each only if still at the `version` it was read
    with (which it moves on by one); any other raises `StaleDataError` (412), as the ORM would."""
    if not rows:
        return
    written = (await session.execute(_UPDATE, _columns(rows))).all()
    if len(written) != len(rows):
        raise StaleDataError(f"{len(rows) - len(written)} of {len(rows)} opportunities changed meanwhile")


async def teams(session: AsyncSession, opportunity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TeamMember]]:
    """Team members of a page of opportunities in one query."""
    out: dict[uuid.UUID, list[TeamMember]] = {i: [] for i in opportunity_ids}
    if opportunity_ids:
        stmt = (
            sa.select(TeamMember)
            .where(TeamMember.opportunity_id.in_(list(opportunity_ids)))
            .order_by(TeamMember.opportunity_id, TeamMember.employee_id)
        )
        for member in (await session.execute(stmt)).scalars():
            out[member.opportunity_id].append(member)
    return out


async def replace_team(
    session: AsyncSession, opportunity_id: uuid.UUID, members: Sequence[tuple[uuid.UUID, str]]
) -> None:
    await session.execute(sa.delete(TeamMember).where(TeamMember.opportunity_id == opportunity_id))
    if members:
        await session.execute(
            sa.insert(TeamMember),
            [{"opportunity_id": opportunity_id, "employee_id": e, "role": r} for e, r in members],
        )


async def replace_teams(session: AsyncSession, teams: dict[uuid.UUID, list[tuple[uuid.UUID, str]]]) -> None:
    """`replace_team` for a whole batch: one DELETE and one INSERT."""
    if not teams:
        return
    await session.execute(_DELETE_TEAMS, {"ids": list(teams)})
    pairs = [(o, e, r) for o, members in teams.items() for e, r in members]
    if pairs:
        deals, people, roles = (list(c) for c in zip(*pairs, strict=True))
        await session.execute(_INSERT_TEAMS, {"deals": deals, "people": people, "roles": roles})


async def add_stage_changes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Stage history rows (`opportunity_id`, `from_stage`, `to_stage`, `changed_at`, `changed_by`,
    and optionally `forced`, `reason`, `unmet`) in one INSERT."""
    if rows:
        unmet = [r.get("unmet") for r in rows]
        await session.execute(
            _INSERT_HISTORY,
            {
                "deals": [r["opportunity_id"] for r in rows],
                "froms": [r["from_stage"] for r in rows],
                "tos": [r["to_stage"] for r in rows],
                "ats": [r["changed_at"] for r in rows],
                "bys": [r["changed_by"] for r in rows],
                "forced": [bool(r.get("forced", False)) for r in rows],
                "reasons": [r.get("reason") for r in rows],
                "unmet": [None if u is None else json.dumps(u) for u in unmet],
            },
        )


def history_statement(opportunity_id: uuid.UUID) -> sa.Select[Any]:
    return sa.select(StageChange).where(StageChange.opportunity_id == opportunity_id)


async def participants(session: AsyncSession, *, after: uuid.UUID | None, limit: int) -> list[sa.Row[Any]]:
    """Opportunities with an account, by id after `after`: id, account, owner,
    org unit, stage, the team (ids, and members with roles) and version, in
    one query (the team aggregated in SQL)."""
    team = (
        sa.select(
            sa.func.coalesce(
                sa.func.array_agg(aggregate_order_by(TeamMember.employee_id, TeamMember.employee_id)),
                sa.cast(sa.literal("{}"), ARRAY(sa.Uuid)),
            ).label("ids"),
            sa.func.coalesce(
                sa.func.json_agg(
                    aggregate_order_by(
                        sa.func.json_build_object("employee_id", TeamMember.employee_id, "role", TeamMember.role),
                        TeamMember.employee_id,
                    )
                ),
                sa.literal_column("'[]'::json"),
            ).label("members"),
        )
        .where(TeamMember.opportunity_id == Opportunity.id)
        .lateral("team")
    )
    stmt = (
        sa.select(
            Opportunity.id,
            Opportunity.account_id,
            Opportunity.owner_id,
            Opportunity.org_unit_path,
            Opportunity.stage,
            team.c.ids.label("team_ids"),
            team.c.members.label("team"),
            Opportunity.version,
        )
        .select_from(Opportunity)
        .join(team, sa.true())
        .where(Opportunity.account_id.is_not(None))
        .order_by(Opportunity.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Opportunity.id > after)
    return list((await session.execute(stmt)).all())
