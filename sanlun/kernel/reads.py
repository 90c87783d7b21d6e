"""Hot reads: statements built and compiled once, run on a pooled connection
with no transaction, answered with bytes serialised once.

A get-by-id through the ORM spent most of its CPU building SQLAlchemy
constructs for every request (the visibility select, cache keys, column
proxies), loading ORM objects, two round trips for BEGIN and COMMIT around a
single SELECT, and validating the answer twice (the handler's model, then
FastAPI's `response_model`). The read paths that every screen calls (get by
id, the first pages of lists, the workspace's calls) use this module instead:

- `Prebuilt` compiles a SQLAlchemy Core statement once for asyncpg: SQL text
  with `$n` placeholders and the names of its bound parameters. A request
  passes only values; PostgreSQL plans the statement once per connection
  (asyncpg's statement cache). `PrebuiltCache` keeps the statements of one
  query *shape* (which filters are present, the sort, the visibility of the
  principal's kind) so a statement is built once per shape, not per request.
- `Database.read()` lends the request a pooled connection outside any
  transaction: a single SELECT is atomic on its own, and read-only requests
  need neither BEGIN nor COMMIT.
- `json_response` serialises a pydantic model (or a page of them) once, with
  pydantic-core, and returns the bytes: FastAPI documents the route's
  `response_model` but does not validate the answer a second time.

The rows are the database's own, checked by its constraints, so a handler
maps a row to plain data in its read model's shape and pydantic-core
serialises it with no validation: UUID, Decimal, date and datetime come out
as the model would write them (a test per read model checks the two agree).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, cast

import asyncpg
import pydantic_core
import sqlalchemy as sa
from fastapi import Response
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class Prebuilt:
    """A Core statement compiled once: SQL for asyncpg and its parameters' names.

    Parameters a request supplies are `sa.bindparam(name)`; the values the
    statement was built with (literals such as a LIKE pattern) are kept and
    sent with every execution."""

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, statement: sa.ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = str(compiled)
        if "__[POSTCOMPILE_" in self.sql:
            raise ValueError("a prebuilt statement cannot expand `IN (...)`: write `column = ANY(:array)`")
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Values go to asyncpg as they are (no SQLAlchemy bind processing): use
        # types asyncpg encodes itself (UUID, str, int, Decimal, date, lists).
        self.defaults: dict[str, Any] = dict(compiled.params)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        defaults = self.defaults
        return [params[name] if name in params else defaults[name] for name in self.names]

    async def fetch(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(self.sql, *self.args(params))
        return rows

    async def fetchrow(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> asyncpg.Record | None:
        return await conn.fetchrow(self.sql, *self.args(params))


class PrebuiltCache:
    """Statements by shape, built on first use by `build(key)`; the least
    recently used are dropped beyond `size` (shapes that name an org unit
    are as many as the org units)."""

    def __init__(self, build: Callable[[Any], sa.ClauseElement], *, size: int = 512) -> None:
        self._build = build
        self._size = size
        self._items: OrderedDict[Hashable, Prebuilt] = OrderedDict()

    def __call__(self, key: Hashable) -> Prebuilt:
        items = self._items
        found = items.get(key)
        if found is not None:
            items.move_to_end(key)
            return found
        prebuilt = Prebuilt(self._build(key))
        items[key] = prebuilt
        if len(items) > self._size:
            items.popitem(last=False)
        return prebuilt

    def __len__(self) -> int:
        return len(self._items)


def json_response(content: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """`content` (a pydantic model, or plain data in the route's read-model
    shape) serialised once by pydantic-core, as FastAPI's JSON mode would."""
    if isinstance(content, BaseModel):
        body = content.__pydantic_serializer__.to_json(content)
    else:
        body = pydantic_core.to_json(content)
    return Response(content=body, status_code=status_code, headers=headers, media_type="application/json")
