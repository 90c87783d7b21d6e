"""The edge of every request: one transaction, JSON-only bodies, idempotent POSTs.

`TransactionalRoute` opens the request's session, runs the endpoint, and
commits *before* the response is handed to the server, so a failed commit can
never hide behind a 2xx. A 4xx/5xx response or an exception rolls back.

A POST with an `Idempotency-Key` header first claims the key in the service's
`idempotency_keys` table inside the same transaction (INSERT ... ON CONFLICT DO
NOTHING). A concurrent duplicate blocks on that row until the first commits,
then replays the stored response; a reused key with another body answers 422.
"Same body" means the same JSON: the fingerprint hashes the body's canonical
form (sorted keys, no insignificant whitespace), so a client that re-encodes
its retry is still recognised; a body that is not JSON is hashed as sent.
Because the key and the effect commit together, a crash in between leaves
neither.
"""

from __future__ import annotations

import email.message
import hashlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa
from fastapi import Request, Response, params
from fastapi.routing import APIRoute
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import authenticate
from sanlun.kernel.db import Database, utcnow
from sanlun.kernel.errors import BadRequest, IdempotencyKeyReused, UnsupportedMediaType

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
REPLAYED_HEADERS = ("content-type", "location", "etag")


def idempotency_table(metadata: sa.MetaData) -> sa.Table:
    """The kernel's idempotency table, placed in a service's own schema."""
    return sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("principal", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("headers", JSONB, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
        sa.Index("ix_idempotency_keys_created_at", "created_at"),
    )


def _require_json(request: Request, body: bytes) -> None:
    if not body:
        return
    content_type = request.headers.get("content-type")
    if content_type:
        msg = email.message.Message()
        msg["content-type"] = content_type
        subtype = msg.get_content_subtype()
        if msg.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json")):
            return
    raise UnsupportedMediaType(f"Send the body as application/json (got {content_type or 'no Content-Type'}).")


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        json_body = self.body_field is not None and not isinstance(self.body_field.field_info, params.Form)

        async def route(request: Request) -> Response:
            if json_body and request.method in BODY_METHODS:
                _require_json(request, await request.body())
            request.state.transactional = True
            key = request.headers.get("idempotency-key") if request.method == "POST" else None
            if key is None:
                # The session is opened by the first dependency that asks for it
                # (`sanlun.kernel.db.get_session`): a prebuilt read never does.
                try:
                    response = await handler(request)
                    session: AsyncSession | None = getattr(request.state, "db_session", None)
                    if session is not None:
                        if response.status_code < 400:
                            await session.commit()
                        else:
                            await session.rollback()
                    return response
                finally:
                    opened = getattr(request.state, "db_session", None)
                    if opened is not None:
                        await opened.close()
            db: Database = request.app.state.db
            async with db.session() as session:
                request.state.db_session = session
                return await _idempotent(request, session, key, handler)

        return route


def canonical_body(body: bytes) -> bytes:
    """The JSON body with sorted keys and no insignificant whitespace, so a
    re-encoded retry fingerprints the same; anything not JSON, as sent."""
    if not body:
        return body
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # ValueError covers UnicodeDecodeError
        return body
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _idempotent(
    request: Request,
    session: AsyncSession,
    key: str,
    handler: Callable[[Request], Coroutine[Any, Any, Response]],
) -> Response:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise BadRequest("Idempotency-Key must be 1 to 255 printable characters.", code="invalid_idempotency_key")
    principal = await authenticate(request)
    body = await request.body()
    fingerprint = request_fingerprint(request, canonical_body(body))
    table: sa.Table = request.app.state.idempotency_table

    claimed = await session.execute(
        insert(table)
        .values(principal=principal.subject, key=key, request_hash=fingerprint, created_at=utcnow())
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if claimed.first() is None:
        row = (
            await session.execute(
                sa.select(table.c.request_hash, table.c.status_code, table.c.headers, table.c.body).where(
                    table.c.principal == principal.subject, table.c.key == key
                )
            )
        ).one()
        await session.rollback()
        # Keys stored before fingerprints were canonical hashed the raw bytes;
        # they expire with idempotency_retention_hours, and match until then.
        if row.request_hash not in (fingerprint, request_fingerprint(request, body)):
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request.",
                errors=[{"loc": ["header", "Idempotency-Key"], "msg": "already used with a different request body"}],
            )
        headers = dict(row.headers or {})
        headers["idempotent-replayed"] = "true"
        return Response(content=row.body, status_code=row.status_code, headers=headers)

    response = await handler(request)
    if response.status_code >= 400:
        await session.rollback()  # releases the key: a corrected retry may use it
        return response
    stored_headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
    await session.execute(
        sa.update(table)
        .where(table.c.principal == principal.subject, table.c.key == key)
        .values(status_code=response.status_code, headers=stored_headers, body=bytes(response.body))
    )
    await session.commit()
    return response
