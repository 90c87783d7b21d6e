"""Small helpers for tests: databases, tokens, headers."""

from __future__ import annotations

import importlib
import os
import uuid
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import sqlalchemy as sa

from sanlun.kernel.auth import mint_token
from sanlun.kernel.settings import ServiceSettings
from sanlun.topology import BY_NAME

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "sanlun-test-secret-0123456789abcdef"
TEST_SERVICE_SECRET = "sanlun-test-service-secret-0123456789"
S = TypeVar("S", bound=ServiceSettings)


# What a developer's shell may export and the harness still reads: the server
# the test databases are created on, and the services to migrate.
HARNESS_VARIABLES = frozenset({"SANLUN_DATABASE_URL", "SANLUN_TEST_DATABASE_URL", "SANLUN_TEST_SERVICES"})


def strip_sanlun_environment() -> list[str]:
    """Drop every other `SANLUN_*` variable from this process (and so from the
    processes tests start): a peer URL (`SANLUN_OPPORTUNITY_URL`), a per-service
    database, a secret or a port exported for a system running on this machine
    must not change what the tests see. Returns the names dropped."""
    dropped = [k for k in os.environ if k.startswith("SANLUN_") and k not in HARNESS_VARIABLES]
    for name in dropped:
        del os.environ[name]
    return dropped


def make_settings(settings_cls: type[S], **values: object) -> S:
    """`settings_cls` (a service's or the gateway's Settings) for an app under
    test: environment=test, the test secrets, and every peer URL at a port that
    refuses connections (tests.support_servers.closed_peer_urls); `values` win,
    so a test names the peers it really serves."""
    from tests.support_servers import closed_peer_urls

    return settings_cls(
        **{
            "environment": "test",
            "jwt_secret": TEST_SECRET,
            "service_secret": TEST_SERVICE_SECRET,
            **closed_peer_urls(),
            **values,
        }
    )


def service_settings(name: str, **values: object) -> ServiceSettings:
    """`make_settings` with the Settings class of service `name`."""
    module = importlib.import_module(f"{BY_NAME[name].package}.settings")
    return make_settings(module.Settings, **values)


def admin_url_for_tests() -> str:
    url = os.environ.get("SANLUN_TEST_DATABASE_URL") or os.environ.get("SANLUN_DATABASE_URL")
    if url:
        return url.replace("postgresql+asyncpg://", "postgresql://")
    import fcntl

    from sanlun.embedded import start_embedded_postgres

    data = ROOT / ".sanlun" / "test-pg"
    data.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers start it at once: one starts it, the others share it
    with open(data.parent / "test-pg.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return start_embedded_postgres(data)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def create_database(admin_url: str, name: str, *, template: str | None = None) -> None:
    """An empty database `name`, or a copy of database `template` (which nobody may be connected to)."""
    conn = await asyncpg.connect(with_database(admin_url, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(with_database(admin_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def token(
    *,
    employee: uuid.UUID | str | None = None,
    org_unit: str = "/group/east/team-1",
    roles: tuple[str, ...] = ("rep",),
    secret: str = TEST_SECRET,
    ttl: int = 3600,
) -> str:
    return mint_token(
        secret, subject=str(employee or uuid.uuid4()), org_unit_path=org_unit, roles=roles, ttl_seconds=ttl
    )


def auth(**kwargs: object) -> dict[str, str]:
    """`Authorization` header for a minted test token (see `token`)."""
    return {"Authorization": f"Bearer {token(**kwargs)}"}  # type: ignore[arg-type]


def schema_drift(sync_conn: sa.Connection, schema: str, metadata: sa.MetaData) -> list[object]:
    """What Alembic would change to make `schema` (as migrated) match `metadata`
    (the models); [] when they agree. Expression indexes, which Alembic reads
    back as text it cannot compare, are left to the caller (see
    `expression_indexes`)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(
        sync_conn,
        opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: (
                (type_ != "schema" or name == schema) and name != "alembic_version"
            ),
            "include_object": lambda obj, name, type_, reflected, compare_to: not _expression_index(obj),
            "compare_type": True,
        },
    )
    return compare_metadata(ctx, metadata)


def expression_indexes(metadata: sa.MetaData) -> set[str]:
    return {str(i.name) for t in metadata.tables.values() for i in t.indexes if _expression_index(i)}


def _expression_index(obj: object) -> bool:
    return isinstance(obj, sa.Index) and any(not isinstance(e, sa.Column) for e in obj.expressions)


# Org units. Employees live only in units that exist (issue 16), so a test
# that places one makes its unit first: `ensure_org_unit` (an async client)
# or `ensure_org_unit_sync` (a sync one), against a service or the gateway.


def _unit_admin(path: str) -> dict[str, str]:
    root = "/" + next(p for p in path.split("/") if p)
    return auth(org_unit=root, roles=("group_admin",))


def _unit_levels(path: str) -> list[tuple[str, str]]:
    """(path, slug) of `path` and of every unit above it, the root first."""
    parts = [p for p in path.split("/") if p]
    assert parts, f"not an org unit path: {path!r}"
    return [("/" + "/".join(parts[: i + 1]), parts[i]) for i in range(len(parts))]


def _unit_query(here: str, parent: dict | None, cursor: str | None) -> dict[str, object]:
    # Below a known parent, `parent_id` narrows the listing to the unit itself.
    params: dict[str, object] = {"within": here, "limit": 100}
    if parent is not None:
        params["parent_id"] = parent["id"]
    if cursor:
        params["cursor"] = cursor
    return params


def _unit_in(page: Any, here: str) -> tuple[dict | None, str | None]:
    body = page.json()
    found = next((u for u in body["items"] if u["path"] == here), None)
    return found, body.get("next_cursor")


def _unit_body(here: str, slug: str, parent: dict | None, external_prefix: str | None) -> dict[str, object]:
    body: dict[str, object] = {"slug": slug, "name": slug, "parent_id": parent["id"] if parent else None}
    if external_prefix is not None:
        body["external_id"] = f"{external_prefix}{here.replace('/', '-')}"
    return body


async def ensure_org_unit(
    client,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    external_prefix: str | None = None,
    _again: bool = True,
) -> dict:
    """The org unit at `path`, made (with every unit above it) when missing;
    `headers` default to a group admin of the path's root. A unit made gets
    the external id `<external_prefix>-group-east` (for `/group/east`) when
    `external_prefix` is given, none otherwise. Safe when several callers make
    the same unit at once."""
    headers = headers or _unit_admin(path)
    unit: dict | None = None
    for here, slug in _unit_levels(path):
        found, cursor = None, None
        while True:
            r = await client.get("/api/v1/org-units", params=_unit_query(here, unit, cursor), headers=headers)
            assert r.status_code == 200, r.text
            found, cursor = _unit_in(r, here)
            if found is not None or not cursor:
                break
        if found is None:
            r = await client.post(
                "/api/v1/org-units", json=_unit_body(here, slug, unit, external_prefix), headers=headers
            )
            if r.status_code == 409 and _again:  # made meanwhile by another caller
                return await ensure_org_unit(
                    client, path, headers=headers, external_prefix=external_prefix, _again=False
                )
            assert r.status_code == 201, r.text
            found = r.json()
        unit = found
    assert unit is not None
    return unit


def ensure_org_unit_sync(
    client,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    external_prefix: str | None = None,
    _again: bool = True,
) -> dict:
    """`ensure_org_unit` with a sync client (`httpx.Client`)."""
    headers = headers or _unit_admin(path)
    unit: dict | None = None
    for here, slug in _unit_levels(path):
        found, cursor = None, None
        while True:
            r = client.get("/api/v1/org-units", params=_unit_query(here, unit, cursor), headers=headers)
            assert r.status_code == 200, r.text
            found, cursor = _unit_in(r, here)
            if found is not None or not cursor:
                break
        if found is None:
            r = client.post("/api/v1/org-units", json=_unit_body(here, slug, unit, external_prefix), headers=headers)
            if r.status_code == 409 and _again:  # made meanwhile by another caller
                return ensure_org_unit_sync(
                    client, path, headers=headers, external_prefix=external_prefix, _again=False
                )
            assert r.status_code == 201, r.text
            found = r.json()
        unit = found
    assert unit is not None
    return unit
