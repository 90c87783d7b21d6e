"""One pagination contract everywhere: keyset cursors over a deterministic order.

`?limit=` (default 50, 1..200; anything else answers 422) and an opaque
`?cursor=`. The cursor carries the last row's sort key and a fingerprint of
the query it belongs to, signed with HMAC: a forged cursor, or one replayed on
another query (other filters, other sort), answers 400 rather than a wrong page.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.errors import InvalidCursor

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last page.")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None


async def page_params(  # async: no worker-thread hop per request
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-200).")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="Opaque cursor from a previous page's `next_cursor`.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Pagination = Annotated[PageParams, Depends(page_params)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return dt.datetime.fromisoformat(value["t"])
        if "d" in value:
            return dt.date.fromisoformat(value["d"])
        if "u" in value:
            return uuid.UUID(value["u"])
        if "n" in value:
            return Decimal(value["n"])
    return value


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"sanlun-cursor:" + secret).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, query_fingerprint: str, values: Sequence[Any]) -> str:
        payload = json.dumps(
            {"q": query_fingerprint, "k": [_jsonable(v) for v in values]}, separators=(",", ":")
        ).encode()
        return base64.urlsafe_b64encode(self._sign(payload) + payload).rstrip(b"=").decode()

    def decode(self, query_fingerprint: str, cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("The cursor is not one this API issued.") from exc
        signature, payload = raw[:16], raw[16:]
        if len(signature) != 16 or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor("The cursor is not one this API issued.")
        data = json.loads(payload)
        if data.get("q") != query_fingerprint:
            raise InvalidCursor("The cursor belongs to another query; start again without it.")
        return [_from_jsonable(v) for v in data["k"]]


def fingerprint(request: Request) -> str:
    """The query a cursor belongs to: path plus every parameter except paging."""
    params = sorted((k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "limit"))
    return hashlib.sha256(json.dumps([request.url.path, params]).encode()).hexdigest()[:16]


async def paginate(
    session: AsyncSession,
    request: Request,
    statement: sa.Select[Any],
    *,
    order_by: Sequence[Any],
    params: PageParams,
    descending: bool = False,
    scalars: bool = True,
) -> tuple[list[Any], str | None]:
    """Run `statement` for one page in keyset order `order_by` (the last column
    must be unique, e.g. the id) and return the rows and the next cursor."""
    codec: CursorCodec = request.app.state.cursor_codec
    query_fp = fingerprint(request)
    if params.cursor:
        last = codec.decode(query_fp, params.cursor)
        if len(last) != len(order_by):
            raise InvalidCursor("The cursor belongs to another query; start again without it.")
        key = sa.tuple_(*order_by)
        statement = statement.where(key < sa.tuple_(*last) if descending else key > sa.tuple_(*last))
    ordering = [c.desc() for c in order_by] if descending else list(order_by)
    statement = statement.order_by(*ordering).limit(params.limit + 1)
    result = await session.execute(statement)
    rows = list(result.scalars() if scalars else result)
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last_row = rows[-1]
        values = [_sort_value(last_row, col) for col in order_by]
        next_cursor = codec.encode(query_fp, values)
    return rows, next_cursor


def _sort_value(row: Any, column: Any) -> Any:
    name = column.key if hasattr(column, "key") else column.name
    return getattr(row, name)
