"""The service's tables (`Base`, schema `resource_share`), and what the areas'
prebuilt reads (`*/reads.py`, see `sanlun.kernel.reads`) share: the caller as
a bound parameter, constants written into the SQL, the list of what one party
asks of another (resource requests, introductions), and the keyset page every
list walks, `(created_at, id)` ascending, answered with the cursor
`sanlun.kernel.pagination.paginate` makes (the ORM list statements, kept
beside them, are the oracle their tests compare with)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from fastapi import Request, Response
from sqlalchemy.orm import DeclarativeBase

from sanlun.kernel.app import ensure_kernel_tables
from sanlun.kernel.auth import EMPLOYEE_PARAM, Principal, VisibilityShape, shaped_visibility, visibility_shape
from sanlun.kernel.db import make_metadata
from sanlun.kernel.errors import InvalidCursor
from sanlun.kernel.pagination import CursorCodec, PageParams, fingerprint
from sanlun.kernel.reads import PrebuiltCache, json_response

SCHEMA = "resource_share"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


ensure_kernel_tables(Base.metadata)

# The caller's employee id, bound per request: one statement serves every caller of a shape.
EMPLOYEE = sa.bindparam(EMPLOYEE_PARAM, type_=sa.Uuid)


def seen_by(shape: VisibilityShape, *, owner_column: Any, org_unit_column: Any) -> sa.ColumnElement[bool]:
    """`sanlun.kernel.auth.visibility_clause` for a shape, the caller bound."""
    return shaped_visibility(shape, employee=EMPLOYEE, owner_column=owner_column, org_unit_column=org_unit_column)


def is_caller(column: Any, *, employee: bool) -> sa.ColumnElement[bool]:
    """`column == principal.employee_id`; for a caller who is no employee
    (`employee` false) nothing is theirs: `false`, never `IS NULL`, which
    would make every row with an empty `column` theirs. (Not
    `VisibilityShape.employee`: a group admin's shape sees everything and says
    nothing of their employee id.)"""
    return column == EMPLOYEE if employee else sa.false()


def const(value: str | int) -> sa.ColumnElement[Any]:
    """A constant written into the SQL, not bound: PostgreSQL plans a prepared
    statement for every execution (a generic plan) knowing it."""
    if isinstance(value, int):
        return sa.literal_column(str(int(value)), type_=sa.Integer)
    return sa.literal_column("'" + str(value).replace("'", "''") + "'", type_=sa.String)


def one_of(column: Any, values: Iterable[str]) -> sa.ColumnElement[bool]:
    """`column IN ('a', 'b')`, the values written into the SQL (a prebuilt
    statement cannot expand a bound `IN`)."""
    return column.in_([const(v) for v in values])


def status_shape(status: str | None) -> str | None:
    """A statement's shape for a request's or an introduction's `?status=`:
    the two told apart at `now`, or any other (its value bound)."""
    return status if status in (None, "expired", "requested") else "other"


def status_is(table: sa.Table, shape: str) -> sa.ColumnElement[bool]:
    """`?status=` as the reader sees it (`domain.workflow.effective_status`):
    an undecided one past its expiry at the bound `now` (the business clock) is `expired`."""
    now = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    if shape == "expired":
        return sa.and_(table.c.status == const("requested"), table.c.expires_at <= now)
    if shape == "requested":
        return sa.and_(table.c.status == const("requested"), table.c.expires_at > now)
    return table.c.status == sa.bindparam("status", type_=sa.String)


def equal_to(statement: sa.Select[Any], table: sa.Table, names: Iterable[str]) -> sa.Select[Any]:
    """`statement` where each named column equals its bound parameter of the same name."""
    for name in names:
        statement = statement.where(table.c[name] == sa.bindparam(name, type_=table.c[name].type))
    return statement


@dataclass(frozen=True, slots=True)
class PartiesShape:
    """A list of what one party asks of another, as a statement's shape."""

    visibility: VisibilityShape
    employee: bool  # the caller has an employee id
    role: str | None  # the party the caller is, when `?role=` says
    status: str | None  # `status_shape`
    filters: tuple[str, ...]  # columns equal to a bound value, when present
    after: bool  # continues from a cursor


def between_parties(table: sa.Table, parties: Mapping[str, tuple[Any, Any]], shape: PartiesShape) -> sa.Select[Any]:
    """One page of `table` as the ORM's `list_statement` says it: the rows
    either party (`parties`: role -> their id and org unit columns), or the
    managers and admins above them, may see; narrowed to the caller's role."""
    v = shape.visibility
    seen = [seen_by(v, owner_column=owner, org_unit_column=unit) for owner, unit in parties.values()]
    stmt = sa.select(table).where(sa.or_(*seen))
    if shape.role is not None:
        stmt = stmt.where(is_caller(parties[shape.role][0], employee=shape.employee))
    if shape.status is not None:
        stmt = stmt.where(status_is(table, shape.status))
    return keyset_page(equal_to(stmt, table, shape.filters), table, after=shape.after)


async def fetch_between_parties(
    conn: asyncpg.Connection,
    statements: PrebuiltCache,
    principal: Principal,
    *,
    now: dt.datetime,
    role: str | None,
    status: str | None,
    filters: Mapping[str, Any],
    page: Mapping[str, Any],
) -> list[asyncpg.Record]:
    """The rows of one page (`page`: `Keyset.params()`) of a `between_parties` list."""
    shape = PartiesShape(
        visibility=visibility_shape(principal),
        employee=principal.employee_id is not None,
        role=role,
        status=status_shape(status),
        filters=tuple(sorted(filters)),
        after="after_id" in page,
    )
    params = {EMPLOYEE_PARAM: principal.employee_id, "now": now, "status": status, **filters, **page}
    return await statements(shape).fetch(conn, params)


def keyset_page(statement: sa.Select[Any], table: sa.Table, *, after: bool) -> sa.Select[Any]:
    """`statement` ordered by `(created_at, id)`, from after the bound key when
    a cursor continues it, limited to the bound `limit`."""
    key = sa.tuple_(table.c.created_at, table.c.id)
    if after:
        last = sa.tuple_(
            sa.bindparam("after_created_at", type_=sa.DateTime(timezone=True)), sa.bindparam("after_id", type_=sa.Uuid)
        )
        statement = statement.where(key > last)
    return statement.order_by(table.c.created_at, table.c.id).limit(sa.bindparam("limit", type_=sa.Integer))


class Keyset:
    """One list request's page: the query's fingerprint, the key its cursor
    resumes after, and the answer with the next cursor, exactly as `paginate`
    reads and makes them."""

    __slots__ = ("after", "codec", "limit", "query")

    def __init__(self, request: Request, page: PageParams) -> None:
        self.codec: CursorCodec = request.app.state.cursor_codec
        self.query = fingerprint(request)
        self.limit = page.limit
        self.after = self.codec.decode(self.query, page.cursor) if page.cursor else None
        if self.after is not None and len(self.after) != 2:
            raise InvalidCursor("The cursor belongs to another query; start again without it.")

    def params(self) -> dict[str, Any]:
        """The page's bound parameters: one row more than the page, to tell whether another follows."""
        params: dict[str, Any] = {"limit": self.limit + 1}
        if self.after is not None:
            params["after_created_at"], params["after_id"] = self.after
        return params

    def answer(self, items: list[dict[str, Any]]) -> Response:
        """`items` (up to one more than the page, each with its `created_at` and `id`) as the page's JSON."""
        next_cursor = None
        if len(items) > self.limit:
            items = items[: self.limit]
            last: Mapping[str, Any] = items[-1]
            next_cursor = self.codec.encode(self.query, [last["created_at"], last["id"]])
        return json_response({"items": items, "next_cursor": next_cursor})
