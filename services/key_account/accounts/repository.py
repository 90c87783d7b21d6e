"""All queries of the accounts area."""

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sanlun.kernel.auth import Principal, path_within, sees_only_own, visibility_clause
from sanlun.kernel.clock import session_clock
from services.key_account.accounts.models import Account, AccountShare, SharedOpportunity
from services.key_account.coverage.models import CoverageMember
from services.key_account.domain.importing import UPSERT_FIELDS


def current_coverage(day: dt.date | None = None) -> sa.ColumnElement[bool]:
    """Coverage valid on `day`: business today (the clock's, passed in by whoever
    has the session or the request); the database's date only when none is given."""
    today: Any = day if day is not None else sa.func.current_date()
    return sa.and_(
        CoverageMember.valid_from <= today,
        sa.or_(CoverageMember.valid_to.is_(None), CoverageMember.valid_to >= today),
    )


def own_account_ids(employee_id: uuid.UUID, day: dt.date | None = None) -> sa.Select[Any]:
    """Accounts an employee owns or currently covers, as one UNION (see
    sanlun.kernel.auth.sees_only_own)."""
    return (
        sa.union(
            sa.select(Account.id).where(Account.owner_id == employee_id),
            sa.select(CoverageMember.account_id).where(
                CoverageMember.employee_id == employee_id, current_coverage(day)
            ),
        )
        .subquery()
        .select()
    )


def visible(principal: Principal, day: dt.date | None = None) -> sa.ColumnElement[bool]:
    """Explicit access, which also lets the caller change the account: owner,
    current coverage members and the managers above them, admins of the owning
    organisation, group admins. Implicit sharing (`readable`) only adds reads."""
    if sees_only_own(principal):
        return Account.id.in_(own_account_ids(principal.employee_id, day))  # type: ignore[arg-type]
    member = None
    if principal.employee_id is not None:
        member = Account.id.in_(
            sa.select(CoverageMember.account_id).where(
                CoverageMember.employee_id == principal.employee_id, current_coverage(day)
            )
        )
    clause = visibility_clause(
        principal, owner_column=Account.owner_id, org_unit_column=Account.org_unit_path, member_clause=member
    )
    if principal.has("manager") and not principal.has("group_admin"):
        covered_below = sa.select(CoverageMember.account_id).where(
            path_within(CoverageMember.org_unit_path, principal.org_unit_path), current_coverage(day)
        )
        clause = sa.or_(clause, Account.id.in_(covered_below))
    return clause


def shared_account_ids(employee_id: uuid.UUID) -> sa.Select[Any]:
    """Accounts of the opportunities an employee owns or is on the team of
    (an index-only scan of `ix_account_shares_employee_id_account_id`)."""
    return sa.select(AccountShare.account_id).where(AccountShare.employee_id == employee_id)


def shared(principal: Principal) -> sa.ColumnElement[bool]:
    """Implicit sharing, read-only: the accounts of the deals the caller owns or
    is on the team of, and, as the org tree has it for the deals themselves,
    for a manager the accounts of the deals owned under their org unit (for an
    org admin or integrator: their organisation)."""
    if principal.has("group_admin"):
        return sa.true()
    clauses: list[sa.ColumnElement[bool]] = []
    if principal.employee_id is not None:
        clauses.append(Account.id.in_(shared_account_ids(principal.employee_id)))
    prefix = None
    if principal.has("org_admin", "integrator"):
        prefix = principal.organization_path
    elif principal.has("manager"):
        prefix = principal.org_unit_path
    if prefix is not None:
        clauses.append(
            Account.id.in_(
                sa.select(SharedOpportunity.account_id).where(path_within(SharedOpportunity.org_unit_path, prefix))
            )
        )
    return sa.or_(*clauses) if clauses else sa.false()


def readable(principal: Principal, day: dt.date | None = None) -> sa.ColumnElement[bool]:
    """What the caller may read: explicit access or implicit sharing."""
    if principal.has("group_admin"):
        return sa.true()
    if sees_only_own(principal):
        employee_id = principal.employee_id
        ids = sa.union(
            sa.select(Account.id).where(Account.owner_id == employee_id),
            sa.select(CoverageMember.account_id).where(
                CoverageMember.employee_id == employee_id, current_coverage(day)
            ),
            shared_account_ids(employee_id),  # type: ignore[arg-type]
        )
        return Account.id.in_(ids.subquery().select())
    return sa.or_(visible(principal, day), shared(principal))


async def access_of(session: AsyncSession, principal: Principal, accounts: list[Account]) -> dict[uuid.UUID, str]:
    """Why the caller sees each of these (readable) accounts: `owner`,
    `coverage` (on its current team), `org` (their role over its org unit or
    above its team) or `deal` (read-only, through a deal). One indexed query
    for a page."""
    me = principal.employee_id
    found: dict[uuid.UUID, str] = {a.id: "owner" for a in accounts if me is not None and a.owner_id == me}
    rest = [a.id for a in accounts if a.id not in found]
    if not rest:
        return found
    day = session_clock(session).today()
    covered: sa.ColumnElement[bool] = sa.false()
    if me is not None:
        covered = sa.exists().where(
            CoverageMember.account_id == Account.id, CoverageMember.employee_id == me, current_coverage(day)
        )
    stmt = sa.select(Account.id, covered.label("covered"), visible(principal, day).label("explicit")).where(
        Account.id.in_(rest)
    )
    for row in await session.execute(stmt):
        found[row.id] = "coverage" if row.covered else "org" if row.explicit else "deal"
    return found


def name_starts_with(prefix: str) -> sa.ColumnElement[bool]:
    """Case-insensitive prefix match served by `ix_accounts_name_key_id`.

    The pattern is a literal (lowered here, as the column is lowered by
    Postgres) so the planner can turn it into an index range."""
    escaped = prefix.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return Account.name_key.like(escaped + "%", escape="/")


def list_order(*, name_prefix: str | None) -> tuple[Any, ...]:
    """A name search lists alphabetically (the index order); everything else
    in creation order."""
    if name_prefix:
        return (Account.name_key, Account.id)
    return (Account.created_at, Account.id)


def list_statement(
    principal: Principal,
    *,
    name_prefix: str | None = None,
    industry: str | None = None,
    parent_id: uuid.UUID | None = None,
    org_unit: str | None = None,
    tier: str | None = None,
    day: dt.date | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Account).where(readable(principal, day))
    if name_prefix:
        stmt = stmt.where(name_starts_with(name_prefix))
    if industry:
        stmt = stmt.where(Account.industry == industry)
    if parent_id is not None:
        stmt = stmt.where(Account.parent_id == parent_id)
    if org_unit:
        stmt = stmt.where(path_within(Account.org_unit_path, org_unit))
    if tier:
        stmt = stmt.where(Account.tier == tier)
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account | None:
    stmt = sa.select(Account).where(Account.id == account_id, visible(principal, session_clock(session).today()))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_readable(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account | None:
    stmt = sa.select(Account).where(Account.id == account_id, readable(principal, session_clock(session).today()))
    return (await session.execute(stmt)).scalar_one_or_none()


async def readable_many(session: AsyncSession, principal: Principal, account_ids: Sequence[uuid.UUID]) -> list[Account]:
    """`get_readable` for many ids in one statement (those not readable are absent)."""
    stmt = sa.select(Account).where(
        Account.id.in_(list(set(account_ids))), readable(principal, session_clock(session).today())
    )
    return list((await session.execute(stmt)).scalars())


async def is_readable(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> bool:
    stmt = sa.select(sa.literal(True)).where(
        Account.id == account_id, readable(principal, session_clock(session).today())
    )
    return (await session.execute(stmt)).first() is not None


async def is_visible(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> bool:
    stmt = sa.select(sa.literal(True)).where(
        Account.id == account_id, visible(principal, session_clock(session).today())
    )
    return (await session.execute(stmt)).first() is not None


async def external_id_taken(session: AsyncSession, external_id: str, *, excluding: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(True)).where(Account.external_id == external_id)
    if excluding is not None:
        stmt = stmt.where(Account.id != excluding)
    return (await session.execute(stmt)).first() is not None


async def lock_hierarchy(session: AsyncSession) -> None:
    """Serialise parent changes until commit: two concurrent re-parentings
    (A under B, B under A) would each pass the cycle check on their own."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("key_account.accounts.parent_id"))))


async def in_ancestry(session: AsyncSession, *, account_id: uuid.UUID, start_id: uuid.UUID) -> bool:
    """Whether `account_id` is `start_id` or one of its ancestors (one recursive query)."""
    chain = sa.select(Account.id, Account.parent_id).where(Account.id == start_id).cte("chain", recursive=True)
    parent = aliased(Account)
    # UNION (not UNION ALL) stops the walk even if a cycle ever slipped in.
    chain = chain.union(sa.select(parent.id, parent.parent_id).join(chain, parent.id == chain.c.parent_id))
    stmt = sa.select(sa.exists().where(chain.c.id == account_id))
    return bool((await session.execute(stmt)).scalar())


async def by_external_ids(session: AsyncSession, principal: Principal, external_ids: list[str]) -> list[Any]:
    """Existing accounts for these external ids, with whether the caller may see each."""
    if not external_ids:
        return []
    day = session_clock(session).today()
    stmt = sa.select(
        Account.id, Account.external_id, Account.org_unit_path, visible(principal, day).label("visible")
    ).where(Account.external_id.in_(external_ids))
    return list(await session.execute(stmt))


async def import_rows(session: AsyncSession, principal: Principal, external_ids: list[str]) -> list[Any]:
    """The stored accounts of a bulk batch as its rows say them (the parent by
    external id), with whether the caller may change each: one statement."""
    day = session_clock(session).today()
    parent = aliased(Account)
    stmt = (
        sa.select(
            Account.external_id,
            Account.name,
            Account.industry,
            Account.annual_revenue_amount,
            Account.annual_revenue_currency,
            Account.employees,
            Account.headquarters,
            parent.external_id.label("parent_external_id"),
            Account.owner_id,
            Account.org_unit_path,
            Account.potential,
            Account.strategic_value,
            Account.solution_fit,
            visible(principal, day).label("visible"),
        )
        .outerjoin(parent, parent.id == Account.parent_id)
        .where(Account.external_id.in_(external_ids))
    )
    return list(await session.execute(stmt))


def account_key(external_id: str | None, account_id: uuid.UUID) -> str:
    return external_id if external_id is not None else f"id:{account_id}"


async def ancestry_of(session: AsyncSession, external_ids: list[str]) -> dict[str, str | None]:
    """Stored account key → parent key, for these accounts and all their ancestors (one recursive query)."""
    if not external_ids:
        return {}
    up = sa.select(Account.id, Account.parent_id).where(Account.external_id.in_(external_ids)).cte("up", recursive=True)
    parent = aliased(Account)
    up = up.union(sa.select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))
    child, par = aliased(Account), aliased(Account)
    stmt = (
        sa.select(child.id, child.external_id, par.id, par.external_id)
        .select_from(up)
        .join(child, child.id == up.c.id)
        .outerjoin(par, par.id == child.parent_id)
    )
    return {
        account_key(ext, cid): (account_key(pext, pid) if pid is not None else None)
        for cid, ext, pid, pext in await session.execute(stmt)
    }


async def upsert_by_external_id(
    session: AsyncSession, rows: list[dict[str, Any]], cleared: Mapping[str, Sequence[str]] | None = None
) -> list[Any]:
    """One INSERT ... ON CONFLICT for the batch. A field a row leaves out keeps its
    stored value; `cleared` names, per column, the external ids of the rows that
    clear it (sent null). A row that would change nothing is not written (no
    version bump, so clients' ETags stay valid) and is not returned.
    Returns (id, external_id, inserted) per row written."""
    table = Account.__table__
    stmt = insert(table).values(rows)
    excluded = stmt.excluded
    set_ = {}
    for c in UPSERT_FIELDS:
        kept = sa.func.coalesce(excluded[c], table.c[c])
        keys = list((cleared or {}).get(c, ()))
        clears = excluded.external_id == sa.any_(sa.bindparam(f"cleared_{c}", keys, type_=ARRAY(sa.String)))
        set_[c] = sa.case((clears, excluded[c]), else_=kept) if keys else kept
    set_["name"] = excluded.name
    fields = list(set_)
    differs = sa.tuple_(*[table.c[c] for c in fields]).is_distinct_from(sa.tuple_(*[set_[c] for c in fields]))
    set_["version"] = table.c.version + 1
    set_["updated_at"] = sa.func.now()
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.external_id], set_=set_, where=differs).returning(
        table.c.id, table.c.external_id, sa.literal_column("xmax = 0").label("inserted")
    )
    return list(await session.execute(stmt))


async def link_parents(session: AsyncSession, links: list[tuple[str, str]]) -> set[str]:
    """Set parent_id from (child external id, parent external id) pairs in one
    UPDATE; returns the external ids of the children whose parent changed."""
    if not links:
        return set()
    v = sa.values(sa.column("child", sa.String), sa.column("parent", sa.String), name="links").data(links)
    table, parent = Account.__table__, aliased(Account.__table__)
    stmt = (
        sa.update(table)
        .where(
            table.c.external_id == v.c.child,
            parent.c.external_id == v.c.parent,
            table.c.parent_id.is_distinct_from(parent.c.id),
        )
        .values(parent_id=parent.c.id, version=table.c.version + 1, updated_at=sa.func.now())
        .returning(table.c.external_id)
    )
    return set((await session.execute(stmt)).scalars())


async def tiers_of(session: AsyncSession, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    stmt = sa.select(Account.id, Account.parent_id, Account.tier, Account.tier_score, Account.tier_reasons).where(
        Account.id.in_(account_ids)
    )
    return {row.id: row for row in await session.execute(stmt)}


# -- implicit sharing: the facts of opportunities and the shares they give ---------


def _unnest(name: str, *columns: tuple[str, Any]) -> Any:
    """`unnest(:name_a, :name_b, ...) AS name(a, b, ...)`: a row per index of
    the arrays, in a statement of fixed text for any number of rows (compiled
    and prepared once)."""
    arrays = (sa.bindparam(f"{name}_{column}", type_=ARRAY(type_)) for column, type_ in columns)
    return sa.func.unnest(*arrays).table_valued(*(c for c, _ in columns), name=name).render_derived()


def _uuids(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=ARRAY(sa.Uuid))


_OPP, _SHARE = SharedOpportunity.__table__, AccountShare.__table__

# Each statement below finds its rows one id at a time (a conflict on the primary
# key, or a LATERAL subquery the planner cannot flatten), so its plan is index
# probes whatever the statistics say: an import fills these tables faster than
# the statistics follow (and autovacuum may be off), and what a join on
# `= ANY(:ids)` chose then, a scan of the whole table per batch, made the
# upkeep quadratic in the number of deals.

# The stored facts of these opportunities, their rows locked (the caller sorts the
# ids): the shares of an opportunity change only under its row's lock.
_KNOWN = sa.text(
    "SELECT o.opportunity_id, o.version, o.deleted, o.account_id FROM unnest(:ids) AS i(id) "
    "CROSS JOIN LATERAL (SELECT opportunity_id, version, deleted, account_id "
    "FROM key_account.shared_opportunities WHERE opportunity_id = i.id FOR UPDATE) AS o"
).bindparams(_uuids("ids"))

_facts = _unnest(
    "facts",
    ("opportunity_id", sa.Uuid),
    ("account_id", sa.Uuid),
    ("owner_id", sa.Uuid),
    ("org_unit_path", sa.String),
    ("stage", sa.String),
    ("version", sa.Integer),
)
_store = insert(_OPP).from_select(list(_facts.c.keys()), sa.select(*_facts.c))
_STORE = _store.on_conflict_do_update(
    index_elements=[_OPP.c.opportunity_id],
    set_={
        "account_id": _store.excluded.account_id,
        "owner_id": _store.excluded.owner_id,
        "org_unit_path": sa.func.coalesce(_store.excluded.org_unit_path, _OPP.c.org_unit_path),
        "stage": sa.func.coalesce(_store.excluded.stage, _OPP.c.stage),
        "version": _store.excluded.version,
        "updated_at": sa.func.clock_timestamp(),
    },
    where=sa.and_(_OPP.c.version <= _store.excluded.version, sa.not_(_OPP.c.deleted)),
).returning(_OPP.c.opportunity_id)

# The shares of the opportunities `held` that `keep` does not name: their `owner`
# shares, and their `team` shares where the team is known (`teams`).
_DROP = sa.text(
    "DELETE FROM key_account.account_shares WHERE ctid = ANY(ARRAY("
    "SELECT s.ctid FROM unnest(:held) AS h(id) CROSS JOIN LATERAL (SELECT ctid, opportunity_id, employee_id, source "
    "FROM key_account.account_shares WHERE opportunity_id = h.id OFFSET 0) AS s "
    "WHERE (s.source = 'owner' OR s.opportunity_id = ANY(:teams)) AND NOT EXISTS ("
    "SELECT FROM unnest(:keep_opportunity_id, :keep_employee_id, :keep_source) AS k(o, e, s) "
    "WHERE k.o = s.opportunity_id AND k.e = s.employee_id AND k.s = s.source)))"
).bindparams(
    _uuids("held"),
    _uuids("teams"),
    _uuids("keep_opportunity_id"),
    _uuids("keep_employee_id"),
    sa.bindparam("keep_source", type_=ARRAY(sa.String)),
)

_grants = _unnest(
    "grants",
    ("opportunity_id", sa.Uuid),
    ("employee_id", sa.Uuid),
    ("source", sa.String),
    ("role", sa.String),
    ("account_id", sa.Uuid),
)
_grant = insert(_SHARE).from_select(list(_grants.c.keys()), sa.select(*_grants.c))
_GRANT = _grant.on_conflict_do_update(
    index_elements=[_SHARE.c.opportunity_id, _SHARE.c.employee_id, _SHARE.c.source],
    set_={"role": _grant.excluded.role},
    where=_grant.excluded.role.is_not(None) & _SHARE.c.role.is_distinct_from(_grant.excluded.role),
)

# Every share of these opportunities names the account given for it.
_MOVE = sa.text(
    "UPDATE key_account.account_shares AS t SET account_id = m.account_id FROM ("
    "SELECT s.ctid AS share, h.account_id FROM unnest(:moved_opportunity_id, :moved_account_id) AS h(id, account_id) "
    "CROSS JOIN LATERAL (SELECT ctid, account_id FROM key_account.account_shares "
    "WHERE opportunity_id = h.id OFFSET 0) AS s WHERE s.account_id IS DISTINCT FROM h.account_id) AS m "
    "WHERE t.ctid = m.share"
).bindparams(_uuids("moved_opportunity_id"), _uuids("moved_account_id"))

_gone = _unnest("gone", ("opportunity_id", sa.Uuid), ("version", sa.Integer))
_forget = insert(_OPP).from_select(
    ["opportunity_id", "version", "deleted"], sa.select(_gone.c.opportunity_id, _gone.c.version, sa.true())
)
_FORGET = _forget.on_conflict_do_update(
    index_elements=[_OPP.c.opportunity_id],
    set_={
        "deleted": True,
        "account_id": None,
        "owner_id": None,
        "version": sa.func.greatest(_OPP.c.version, _forget.excluded.version),
        "updated_at": sa.func.clock_timestamp(),
    },
)
_FORGET_SHARES = sa.text(
    "DELETE FROM key_account.account_shares WHERE ctid = ANY(ARRAY("
    "SELECT s.ctid FROM unnest(:gone) AS g(id) CROSS JOIN LATERAL (SELECT ctid "
    "FROM key_account.account_shares WHERE opportunity_id = g.id OFFSET 0) AS s))"
).bindparams(_uuids("gone"))


async def known_opportunities(session: AsyncSession, opportunity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The stored `version`, `deleted` and `account_id` of those of these
    opportunities this service knows, their rows locked until the commit."""
    if not opportunity_ids:
        return {}
    rows = await session.execute(_KNOWN, {"ids": sorted(opportunity_ids)})
    return {row.opportunity_id: row for row in rows}


async def store_opportunities(session: AsyncSession, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Upsert the facts of these opportunities (one row each) where they are not
    older than what is stored and the opportunity was not deleted; returns the
    ids written. A fact a row leaves null (`org_unit_path`, `stage`: a resync
    does not carry them) keeps its stored value."""
    if not rows:
        return []
    params = {f"facts_{c.name}": [row[c.name] for row in rows] for c in _facts.c}
    return list((await session.execute(_STORE, params)).scalars())


async def drop_shares(
    session: AsyncSession, held: list[uuid.UUID], teams: list[uuid.UUID], keep: list[tuple[uuid.UUID, uuid.UUID, str]]
) -> None:
    """Delete the shares of the opportunities `held` that `keep` (opportunity,
    employee, source) does not name: `owner` shares, and `team` shares of the
    opportunities in `teams` (those whose team is known)."""
    if not held:
        return
    params = {
        "held": held,
        "teams": teams,
        "keep_opportunity_id": [k[0] for k in keep],
        "keep_employee_id": [k[1] for k in keep],
        "keep_source": [k[2] for k in keep],
    }
    await session.execute(_DROP, params)


Grant = tuple[uuid.UUID, uuid.UUID, str, str | None, uuid.UUID | None]  # opportunity, employee, source, role, account


async def grant_shares(session: AsyncSession, grants: list[Grant]) -> None:
    """Insert these shares (one per key); one already there keeps its `since`
    and takes the given role unless that is null."""
    if not grants:
        return
    params = {f"grants_{c.name}": [g[i] for g in grants] for i, c in enumerate(_grants.c)}
    await session.execute(_GRANT, params)


async def move_shares(session: AsyncSession, accounts: dict[uuid.UUID, uuid.UUID | None]) -> None:
    """Every share of these opportunities names the account given for it."""
    if accounts:
        params = {"moved_opportunity_id": list(accounts), "moved_account_id": list(accounts.values())}
        await session.execute(_MOVE, params)


async def forget_opportunities(session: AsyncSession, versions: dict[uuid.UUID, int]) -> None:
    """Deleted opportunities: no shares, and a tombstone no later event revives."""
    if not versions:
        return
    ids = sorted(versions)
    await session.execute(_FORGET, {"gone_opportunity_id": ids, "gone_version": [versions[i] for i in ids]})
    await session.execute(_FORGET_SHARES, {"gone": ids})


def _ids(ids: list[uuid.UUID]) -> sa.BindParameter[Any]:
    return sa.bindparam(None, ids, type_=ARRAY(sa.Uuid))


async def forget_unlisted(session: AsyncSession, listed: list[uuid.UUID], before: Any) -> int:
    """After a resync: drop what the opportunity service no longer lists (and
    no event has touched since `before`); their shares go with them."""
    table = SharedOpportunity.__table__
    stmt = (
        sa.delete(table)
        .where(
            sa.not_(table.c.deleted),
            table.c.updated_at < before,
            sa.not_(table.c.opportunity_id == sa.any_(_ids(listed))),
        )
        .returning(table.c.opportunity_id)
    )
    return len((await session.execute(stmt)).all())


async def share_counts(session: AsyncSession) -> tuple[int, int]:
    opportunities = sa.select(sa.func.count()).select_from(SharedOpportunity).where(sa.not_(SharedOpportunity.deleted))
    shares = sa.select(sa.func.count()).select_from(AccountShare)
    return int((await session.execute(opportunities)).scalar_one()), int((await session.execute(shares)).scalar_one())
