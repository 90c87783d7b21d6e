"""`sanlun import`: the command line around the import engine.

sanlun import                                 # the sample set with the built-in mapping
sanlun import --data DIR --mapping my.yaml    # another export
sanlun import --shift-dates-to today          # historical data, moved so its last date is yesterday
sanlun import --dry-run --errors errors.csv   # check only; the rejected rows to fix, with their reason

Exit codes: 0 every row imported (or at most --max-rejected rejected), 1 some rows
rejected, 2 the run could not be done (the mapping, a file, the connection, the
server), 130 interrupted. Whatever the failure, one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import httpx

from sanlun.importer.client import ApiClient, ApiError
from sanlun.importer.dates import parse_target
from sanlun.importer.mapping import MappingError, RowError, load_mapping
from sanlun.importer.progress import Progress

DEFAULT_URL = "http://127.0.0.1:8000"
IMPORTER_SUBJECT = "sanlun-import"


SAMPLE_DATA_PACKAGE = "sanlun.data"
SAMPLE_DATA_FOLDER = "maven_crm"


def sample_data_dir() -> Path:
    """The sample set shipped inside the package (`sanlun/data/maven_crm/`),
    found through `importlib.resources`, so it is there in a clone and in an
    installed wheel alike."""
    from importlib.resources import files

    folder = files(SAMPLE_DATA_PACKAGE) / SAMPLE_DATA_FOLDER
    if not isinstance(folder, Path):  # a zipped install: the importer reads real files
        raise MappingError(f"the sample set is not on the file system ({folder}); pass --data DIR")
    return folder


def importer_token(root_unit: str = "/") -> str:
    """A short-lived group_admin token signed with SANLUN_JWT_SECRET (development and tests);
    real deployments pass --token (or SANLUN_TOKEN) from their identity provider."""
    from sanlun.kernel.auth import mint_token
    from sanlun.kernel.settings import ProcessSettings

    settings = ProcessSettings()
    if settings.jwt_algorithm != "HS256":
        raise MappingError("SANLUN_JWT_ALGORITHM is RS256: pass --token from your identity provider")
    return mint_token(
        settings.jwt_secret.get_secret_value(),
        subject=IMPORTER_SUBJECT,
        org_unit_path=root_unit,
        roles=["group_admin"],
        ttl_seconds=4 * 3600,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


def _shift_target(value: str) -> dt.date:
    try:
        return parse_target(value)
    except MappingError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--shift-dates-to {value!r}: ")) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="folder with the CSV files (default: the sample set)")
    parser.add_argument("--mapping", default="maven-crm", help="mapping YAML file or built-in name (default maven-crm)")
    parser.add_argument(
        "--url", default=os.environ.get("SANLUN_URL", DEFAULT_URL), help=f"gateway URL (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--token", default=os.environ.get("SANLUN_TOKEN"), help="bearer token (default: minted from SANLUN_JWT_SECRET)"
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="rows per bulk call (default 1000, the most)")
    parser.add_argument(
        "--leave-unassigned",
        action="append",
        default=[],
        metavar="STAGE",
        help="import deals in this stage without an owner, for the assignment node (repeatable)",
    )
    parser.add_argument(
        "--shift-dates-to",
        metavar="today|YYYY-MM-DD",
        type=_shift_target,
        default=None,
        help=(
            "move every date of the data set (engagement, close, hire/entry dates, ...) by one offset in whole days "
            "so its last date becomes the day before this one (yesterday for `today`, in UTC like the services' "
            "clock); dates keep their order and distance. The offset is printed in the report. A re-run or a "
            "resume keeps the offset the records were first imported with (read back from the target), so no "
            "date moves twice"
        ),
    )
    parser.add_argument(
        "--keep-weekdays",
        action="store_true",
        help=(
            "with --shift-dates-to: move by whole weeks, so every date keeps its weekday "
            "(the last date lands up to 6 days before yesterday)"
        ),
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check every row with the server and report what would happen; write nothing",
    )
    parser.add_argument(
        "--errors",
        metavar="FILE",
        type=Path,
        help=(
            "write the rejected rows with their original columns and a `reason` column (CSV, the source file's "
            "delimiter and encoding), to fix and import again in place of the source file; with rejections in "
            "several files, one each: FILE's name plus the file's (errors.accounts.csv)"
        ),
    )
    parser.add_argument(
        "--max-rejected",
        metavar="N",
        type=int,
        default=0,
        help="exit 0 when at most N rows are rejected (default 0: any rejected row exits 1)",
    )
    parser.add_argument(
        "--reopen-closed",
        metavar="REASON",
        help=(
            "let the file reopen deals closed (won, lost) in the CRM, with this reason in their stage history; "
            "without it a closed deal stays closed and its row is rejected"
        ),
    )
    parser.add_argument("--report-json", metavar="PATH", help="also write the full per-row report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("import", help="import CSV files through the public API (default: the sample set)")
    add_arguments(parser)
    parser.set_defaults(run=cmd_import)


class RunFailed(Exception):
    """The run could not be done (exit 2): the one line to say why."""


def cmd_import(args: argparse.Namespace) -> int:
    try:
        return _import(args)
    except KeyboardInterrupt:
        print("error: interrupted; run the same command again to finish", file=sys.stderr)
        return 130
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MappingError, RowError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # the CLI boundary: one line, never a traceback (SANLUN_DEBUG=1 shows it)
        if os.environ.get("SANLUN_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {_one_line(exc)} (SANLUN_DEBUG=1 shows where)", file=sys.stderr)
        return 2


def _import(args: argparse.Namespace) -> int:
    from sanlun.importer.engine import Importer
    from sanlun.importer.progress import Silent
    from sanlun.importer.readers import read_tables
    from sanlun.importer.report import write_errors

    if args.max_rejected < 0:
        raise RunFailed("--max-rejected takes 0 or more")
    mapping = load_mapping(args.mapping)
    data = args.data or sample_data_dir()
    token = args.token or importer_token()
    failure = None
    with ApiClient(args.url, token) as client:
        try:
            importer = Importer(
                mapping=mapping,
                data_dir=data,
                client=client,
                progress=Silent() if args.quiet else Progress(),
                target=args.url,
                leave_unassigned=frozenset(args.leave_unassigned),
                batch_size=args.batch_size,
                shift_dates_to=args.shift_dates_to,
                keep_weekdays=args.keep_weekdays,
                dry_run=args.dry_run,
                reopen_reason=args.reopen_closed,
            )
        except OSError as exc:
            raise RunFailed(f"cannot read the data: {_one_line(exc)}") from None
        try:
            importer.run()
        except KeyboardInterrupt:
            failure = "interrupted; run the same command again to finish"
        except (ApiError, httpx.HTTPError, OSError) as exc:
            failure = _why(exc, args.url)
        report = importer.report
    print(report.text())
    if args.report_json:
        report.write_json(args.report_json)
        print(f"\nFull report: {args.report_json}")
    if args.errors and report.rejections:
        tables = read_tables(importer.mapping, data)
        for path in write_errors(report, tables, args.errors):
            print(f"Rejected rows to fix and import again: {path}")
    if failure and report.interrupted and "KeyboardInterrupt" in report.interrupted:
        print(f"error: {failure}", file=sys.stderr)
        return 130
    if failure:
        raise RunFailed(failure)
    read, rejected = report.rows_read(), report.rows_rejected()
    if read == 0:
        raise RunFailed(f"no rows to import: the files the mapping reads ({', '.join(mapping.files())}) are empty")
    if rejected >= read:
        raise RunFailed(f"nothing {'would be ' if args.dry_run else ''}imported: all {read} rows were rejected")
    if not report.complete():
        print("error: some rows are neither imported nor rejected (MISSING ROWS above)", file=sys.stderr)
        return 1
    if unusable := importer.plan.unusable:
        # A whole file lost is never a tolerable number of rejected rows (--max-rejected).
        for line in unusable:
            print(f"error: {line}", file=sys.stderr)
        return 1
    if rejected > args.max_rejected:
        tolerated = f" (--max-rejected {args.max_rejected})" if args.max_rejected else ""
        print(f"error: {rejected} of {read} rows rejected{tolerated}", file=sys.stderr)
        return 1
    return 0


def _why(exc: Exception, url: str) -> str:
    """The one line for a run the server or the network stopped."""
    if isinstance(exc, ApiError):
        if exc.status in (401, 403):
            return f"the gateway refused the token ({exc.status}): pass a valid --token (or SANLUN_TOKEN)"
        if exc.status >= 500:
            return f"the server failed after retries: {_one_line(exc)}"
        return _one_line(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"{url} did not answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.TransportError):
        return f"cannot reach {url}: {_one_line(exc) or type(exc).__name__}"
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:500] + ("…" if len(text) > 500 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanlun import", description="Import CSV files through the Sanlun API.")
    add_arguments(parser)
    return cmd_import(parser.parse_args(argv))
