"""The `sanlun` command line: migrate, up, token, openapi export.

Which database: `SANLUN_DATABASE_URL` when set, else an embedded PostgreSQL
with its data in `$SANLUN_HOME/pgdata` (default `.sanlun/pgdata`) and a
`sanlun` database in it. `SANLUN_<SERVICE>_DATABASE_URL` wins for that service
(docker compose gives each service its own role that way).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sanlun.supervisor import (
    GRACE_SECONDS,
    ProcessSpec,
    RestartPolicy,
    Supervisor,
    SupervisorError,
    base_url,
    check_ports,
)
from sanlun.topology import GATEWAY_PORT, SCHEMA_OWNERS, SERVICES, ServiceSpec

EMBEDDED_DATABASE = "sanlun"
# `sanlun up --workers N`: uvicorn workers per process.
WORKERS_ENV = "SANLUN_WORKERS"
GATEWAY_FACTORY = "gateway.app:create_app"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


class CommandError(Exception):
    """A failure the user can act on; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sanlun", description="Sanlun CRM: run, migrate and inspect the system.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="bring every service schema to its latest migration")
    migrate.set_defaults(run=cmd_migrate)

    up = commands.add_parser("up", help="migrate, then run the gateway and the four services until Ctrl-C")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument(
        "--base-port",
        type=int,
        default=GATEWAY_PORT,
        help=f"gateway port; the services take the next four (default {GATEWAY_PORT})",
    )
    up.add_argument(
        "--no-migrate", action="store_true", help="skip migrations (the services refuse readiness when behind)"
    )
    up.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for every process to be ready")
    restart = RestartPolicy()
    up.add_argument(
        "--restart-delay",
        type=float,
        metavar="SECONDS",
        help="first wait before restarting a crashed process; doubles on each failure in a row "
        f"(default {restart.initial_delay:g}, env {RestartPolicy.ENV['initial_delay']})",
    )
    up.add_argument(
        "--restart-max-delay",
        type=float,
        metavar="SECONDS",
        help=f"longest wait between restarts (default {restart.max_delay:g}, env {RestartPolicy.ENV['max_delay']})",
    )
    up.add_argument(
        "--restart-reset-after",
        type=float,
        metavar="SECONDS",
        help="a process up and ready this long starts its backoff over "
        f"(default {restart.reset_after:g}, env {RestartPolicy.ENV['reset_after']})",
    )
    up.add_argument(
        "--max-restarts",
        type=int,
        metavar="N",
        help="give up (stop everything, exit 1) when a process fails more than N times in a row; "
        f"0: never (default {restart.max_failures}, env {RestartPolicy.ENV['max_failures']})",
    )
    up.add_argument(
        "--stop-grace",
        type=float,
        metavar="SECONDS",
        default=GRACE_SECONDS,
        help="on Ctrl-C/SIGTERM, how long each process may take to finish its requests in flight "
        f"before it is killed (default {GRACE_SECONDS:g})",
    )
    up.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="uvicorn worker processes for the gateway and for each service, for a machine with more cores "
        f"(default 1, env {WORKERS_ENV})",
    )
    up.set_defaults(run=cmd_up)

    token = commands.add_parser("token", help="print a development JWT signed with SANLUN_JWT_SECRET")
    token.add_argument("--employee", required=True, type=_uuid, help="employee id (the `sub` claim)")
    token.add_argument("--org-unit", required=True, help="org unit path, e.g. /group/east/team-3")
    token.add_argument("--roles", default="rep", type=_roles, help="comma-separated roles (default rep)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=cmd_token)

    openapi = commands.add_parser("openapi", help="OpenAPI specs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    export = openapi.add_parser(
        "export",
        help="write openapi/<process>.json and the gateway's packaged copy (gateway/openapi.json) from the code",
    )
    export.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a committed spec differs from the code"
    )
    export.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="output folder, and nothing else (default: the project's openapi/ and gateway/openapi.json)",
    )
    export.set_defaults(run=cmd_openapi_export)
    # Imported here, not at the top: `sanlun token` should not pay for them.
    from sanlun import demo
    from sanlun.importer import cli as importer_cli

    importer_cli.register(commands)
    demo.register(commands)
    return parser


# --- database --------------------------------------------------------------


def service_database_override(spec: ServiceSpec) -> str | None:
    return os.environ.get(f"{spec.env_prefix}DATABASE_URL") or None


def embedded_data_dir() -> Path | None:
    """The embedded server's data folder, or None when SANLUN_DATABASE_URL is set."""
    if os.environ.get("SANLUN_DATABASE_URL"):
        return None
    return (Path(os.environ.get("SANLUN_HOME", ".sanlun")) / "pgdata").resolve()


def shared_database() -> tuple[str, str]:
    """The shared database URL and a sentence saying which it is."""
    data_dir = embedded_data_dir()
    if data_dir is None:
        url = os.environ["SANLUN_DATABASE_URL"]
        return url, f"{redact(url)} (from SANLUN_DATABASE_URL)"
    from sanlun.embedded import start_embedded_postgres

    print(f"SANLUN_DATABASE_URL is not set: starting the embedded PostgreSQL (data in {data_dir}) ...", flush=True)
    admin_url = start_embedded_postgres(data_dir, say=lambda text: print(text, flush=True))
    asyncio.run(_create_database_if_missing(admin_url, EMBEDDED_DATABASE))
    return with_database(
        admin_url, EMBEDDED_DATABASE
    ), f"embedded PostgreSQL, database {EMBEDDED_DATABASE!r}, data in {data_dir}"


async def _create_database_if_missing(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def migrate_all(shared_url: str | None) -> None:
    from sanlun.kernel.migrations import head_revision, upgrade

    for spec in SCHEMA_OWNERS:
        url = service_database_override(spec) or shared_url
        if url is None:
            raise CommandError(f"no database for {spec.name}: set SANLUN_DATABASE_URL or {spec.env_prefix}DATABASE_URL")
        try:
            upgrade(spec.migrations_dir, spec.schema, url)
        except Exception as exc:  # alembic and the drivers raise many types; the user needs which schema
            raise CommandError(f"migrating {spec.schema} on {redact(url)} failed: {type(exc).__name__}: {exc}") from exc
        print(f"  {spec.schema:<20} at {head_revision(spec.migrations_dir, spec.schema)}", flush=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    # Docker compose gives every service its own URL; then no shared database is needed.
    if all(service_database_override(spec) for spec in SCHEMA_OWNERS):
        shared_url = None
        print("Migrating with each service's SANLUN_<SERVICE>_DATABASE_URL")
    else:
        shared_url, where = shared_database()
        print(f"Migrating {where}")
    migrate_all(shared_url)
    return 0


# --- up --------------------------------------------------------------------


def process_specs(base_port: int) -> list[ProcessSpec]:
    offset = base_port - GATEWAY_PORT
    return [ProcessSpec("gateway", GATEWAY_FACTORY, base_port, edge=True)] + [
        ProcessSpec(s.name, s.app_factory, s.port + offset) for s in SERVICES
    ]


def cmd_up(args: argparse.Namespace) -> int:
    # Until the supervisor takes over, SIGTERM (and SIGINT, which a background
    # job of a script starts with ignored) interrupt like Ctrl-C so the
    # embedded server is still stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    specs = process_specs(args.base_port)
    if not 0 < args.base_port <= 65535 - len(specs):
        raise CommandError(f"--base-port {args.base_port} leaves no room for {len(specs)} ports")
    try:
        policy = restart_policy(args)
        workers = up_workers(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    try:
        check_ports(args.host, specs, say=lambda text: print(text, flush=True))
    except SupervisorError as exc:
        raise CommandError(str(exc)) from exc
    shared_url, where = shared_database()
    print(f"Database: {where}", flush=True)
    if not args.no_migrate:
        migrate_all(shared_url)

    env = dict(os.environ, SANLUN_DATABASE_URL=shared_url, PYTHONUNBUFFERED="1")
    for spec in specs:
        env[f"SANLUN_{spec.name.upper()}_URL"] = base_url(args.host, spec.port)
    supervisor = Supervisor(
        specs, host=args.host, env=env, grace_seconds=args.stop_grace, restart=policy, workers=workers
    )

    def announce() -> None:
        lines = ["", "Sanlun is up:"]
        lines += (
            f"  {child.spec.name:<20} {base_url(args.host, child.spec.port):<26} pid {child.pid}"
            for child in supervisor.children
        )
        if workers > 1:
            lines.append(f"Each process above runs {workers} uvicorn workers (its pid is their parent's).")
        gateway = base_url(args.host, args.base_port)
        lines += [
            f"API docs: {gateway}/docs   health: {gateway}/health",
            f"Database: {where}",
            "Press Ctrl-C to stop.",
            "",
        ]
        supervisor.say("\n".join(lines))

    code = supervisor.run(ready_timeout=args.ready_timeout, on_ready=announce)
    # Last, once nothing is connected to it any more.
    data_dir = embedded_data_dir()
    if data_dir is not None:
        from sanlun.embedded import stop_embedded_postgres

        if note := stop_embedded_postgres(data_dir):
            supervisor.event(note)
    supervisor.say("Stopped." if code == 0 else "Stopped after an error.")
    return code


def restart_policy(args: argparse.Namespace) -> RestartPolicy:
    """Flags win over SANLUN_RESTART_* variables, which win over the defaults."""
    policy = RestartPolicy.from_env(os.environ)
    flags = {
        "initial_delay": args.restart_delay,
        "max_delay": args.restart_max_delay,
        "reset_after": args.restart_reset_after,
        "max_failures": args.max_restarts,
    }
    return dataclasses.replace(policy, **{k: v for k, v in flags.items() if v is not None})


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers (1 or more)")
    return n


def up_workers(args: argparse.Namespace) -> int:
    """`--workers` wins over SANLUN_WORKERS, which wins over 1."""
    if args.workers is not None:
        return int(args.workers)
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return 1
    try:
        return _workers(raw)
    except argparse.ArgumentTypeError:
        raise ValueError(f"{WORKERS_ENV}={raw!r} is not a number of workers (1 or more)") from None


# --- token -----------------------------------------------------------------


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UUID") from None


def _roles(value: str) -> list[str]:
    from sanlun.kernel.auth import ROLES

    roles = [r.strip() for r in value.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise argparse.ArgumentTypeError(
            f"unknown role(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(ROLES)}"
        )
    return roles


def cmd_token(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from sanlun.kernel.auth import mint_token
    from sanlun.kernel.settings import ProcessSettings

    try:
        settings = ProcessSettings()
    except ValidationError as exc:
        raise CommandError(f"invalid settings: {exc.errors()[0]['msg']}") from exc
    if settings.jwt_algorithm != "HS256":
        raise CommandError("SANLUN_JWT_ALGORITHM is RS256: tokens come from your identity provider, not from sanlun")
    print(
        mint_token(
            settings.jwt_secret.get_secret_value(),
            subject=args.employee,
            org_unit_path=args.org_unit,
            roles=args.roles,
            ttl_seconds=args.ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )
    return 0


# --- openapi ---------------------------------------------------------------


def _default_openapi_dir() -> Path:
    root = Path(__file__).resolve().parent.parent
    return root / "openapi" if (root / "pyproject.toml").exists() else Path("openapi")


def spec_text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def compact_spec_text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, separators=(",", ":"), sort_keys=True) + "\n"


def generated_specs() -> dict[str, str]:
    """File name -> spec text, built in-process from the code (no database)."""
    files = {}
    for spec in SERVICES:
        settings_cls = importlib.import_module(f"{spec.package}.settings").Settings
        # Fixed settings: the spec must not depend on the caller's environment.
        app = spec.create_app(settings_cls(environment="development"))
        files[f"{spec.name}.json"] = spec_text(app.openapi())
    from gateway.openapi_merge import merged_openapi

    files["gateway.json"] = spec_text(merged_openapi())
    return files


def export_targets(out_dir: Path | None) -> dict[Path, str]:
    """Path -> spec text. By default the project's openapi/ and the gateway's
    packaged copy, which it serves at /openapi.json (package data, so a wheel
    install has it too); with an explicit folder, that folder only."""
    files = generated_specs()
    targets = {_relative((out_dir or _default_openapi_dir()) / name): text for name, text in files.items()}
    if out_dir is None:
        from gateway.docs import PACKAGED_SPEC

        # Compact: served as it is (about half the bytes of the indented, reviewable copy).
        targets[_relative(PACKAGED_SPEC)] = compact_spec_text(json.loads(files["gateway.json"]))
    return targets


def cmd_openapi_export(args: argparse.Namespace) -> int:
    targets = export_targets(args.dir)
    if args.check:
        stale = [path for path, text in targets.items() if _read(path) != text]
        if stale:
            for path in stale:
                print(f"{path} differs from the code", file=sys.stderr)
            print("Run `sanlun openapi export` and commit the result.", file=sys.stderr)
            return 1
        print(f"{len(targets)} OpenAPI specs ({', '.join(str(p) for p in targets)}) match the code")
        return 0
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
