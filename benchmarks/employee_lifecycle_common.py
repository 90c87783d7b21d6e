"""Shared by the employee lifecycle scripts: a scratch database with the
service migrated, and an in-process client of its HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.kernel.auth import mint_token
from sanlun.kernel.migrations import upgrade
from sanlun.topology import BY_NAME
from tests.support import create_database, drop_database, with_database


@contextlib.asynccontextmanager
async def scratch_service(prefix: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    """(client, admin headers, database url) on a fresh database dropped afterwards."""
    from services.employee_lifecycle.app import create_app
    from services.employee_lifecycle.settings import Settings

    admin_url = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    url = with_database(admin_url, name)
    try:
        spec = BY_NAME["employee_lifecycle"]
        await asyncio.to_thread(upgrade, spec.migrations_dir, spec.schema, url)
        secret = secrets.token_hex(32)
        settings = Settings(
            database_url=url,
            environment="test",
            jwt_secret=secret,
            dispatcher_enabled=False,
            stage_schedule_seconds=0,
            log_level="WARNING",
        )
        app = create_app(settings)
        admin = {
            "Authorization": "Bearer "
            + mint_token(secret, subject=str(uuid.uuid4()), org_unit_path="/", roles=["group_admin"], ttl_seconds=7200)
        }
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://el", timeout=600) as client,
        ):
            yield client, admin, url
    finally:
        await drop_database(admin_url, name)
