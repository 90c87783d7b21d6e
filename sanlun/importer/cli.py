"""`sanlun import`: the command line around the import engine.

sanlun import                                 # the sample set with the built-in mapping
sanlun import --data DIR --mapping my.yaml    # another export
sanlun import --shift-dates-to today          # historical data, moved so its last date is yesterday
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from pathlib import Path

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
    parser.add_argument("--report-json", metavar="PATH", help="also write the full per-row report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("import", help="import CSV files through the public API (default: the sample set)")
    add_arguments(parser)
    parser.set_defaults(run=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from sanlun.importer.engine import Importer
    from sanlun.importer.progress import Silent

    try:
        mapping = load_mapping(args.mapping)
        data = args.data or sample_data_dir()
        token = args.token or importer_token()
        with ApiClient(args.url, token) as client:
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
            )
            with contextlib.suppress(ApiError, OSError, KeyboardInterrupt):
                importer.run()
            report = importer.report
    except (MappingError, RowError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.text())
    if args.report_json:
        report.write_json(args.report_json)
        print(f"\nFull report: {args.report_json}")
    if report.interrupted:
        return 130 if "KeyboardInterrupt" in report.interrupted else 1
    return 0 if report.complete() else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanlun import", description="Import CSV files through the Sanlun API.")
    add_arguments(parser)
    return cmd_import(parser.parse_args(argv))
