"""The data clock (`sanlun import --shift-dates-to`): one offset in whole days
for every date of a data set, computed from the data on a first import and read
back from the target on a re-run, so no date moves twice."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import httpx
import pytest

from sanlun.importer.client import ApiClient
from sanlun.importer.dates import (
    DateShift,
    bounds,
    check_range,
    date_fields,
    offset_to,
    parse_target,
    shift,
    shift_text,
)
from sanlun.importer.engine import Importer
from sanlun.importer.mapping import MappingError, load_mapping
from sanlun.importer.plan import build_plan
from sanlun.importer.progress import Silent
from sanlun.importer.readers import parse_csv
from tests.importer.test_plan import ACCOUNTS, PIPELINE, PRODUCTS, TEAMS

D = dt.date
FILES = {"sales_teams.csv": TEAMS, "accounts.csv": ACCOUNTS, "products.csv": PRODUCTS, "sales_pipeline.csv": PIPELINE}


def tables() -> dict[str, Any]:
    return {n: parse_csv(n, t.encode()) for n, t in FILES.items()}


# -- the pure functions ------------------------------------------------------------------------


def test_the_last_date_becomes_the_day_before_the_target() -> None:
    assert offset_to(D(2017, 12, 31), D(2026, 12, 3)) == (D(2026, 12, 2) - D(2017, 12, 31)).days == 3258
    assert shift(D(2017, 12, 31), 3258) == D(2026, 12, 2)
    assert offset_to(D(2017, 12, 31), D(2018, 1, 1)) == 0  # already ends yesterday
    assert offset_to(D(2030, 1, 10), D(2026, 1, 1)) < 0  # a set ending in the future moves back


def test_keeping_weekdays_moves_by_whole_weeks_and_never_past_yesterday() -> None:
    for target in (D(2026, 12, d) for d in range(1, 15)):
        days = offset_to(D(2017, 12, 31), target, keep_weekdays=True)
        assert days % 7 == 0
        moved = shift(D(2017, 12, 31), days)
        assert moved.weekday() == D(2017, 12, 31).weekday()
        assert target - dt.timedelta(days=7) <= moved < target


def test_one_offset_keeps_order_and_distance() -> None:
    days = [D(2016, 10, 20), D(2017, 2, 28), D(2017, 3, 1), D(2016, 2, 29), D(2017, 12, 31)]
    n = offset_to(max(days), D(2026, 12, 3))
    moved = [shift(d, n) for d in days]
    assert sorted(range(5), key=days.__getitem__) == sorted(range(5), key=moved.__getitem__)
    assert [(b - a).days for a, b in itertools.pairwise(days)] == [(b - a).days for a, b in itertools.pairwise(moved)]
    assert max(moved) == D(2026, 12, 2)


def test_datetimes_and_iso_strings_move_by_the_same_days() -> None:
    moment = dt.datetime(2017, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert shift(moment, 2) == dt.datetime(2018, 1, 2, 23, 30, tzinfo=dt.UTC)
    assert shift_text("2017-12-31", 1) == "2018-01-01"
    assert shift_text("2017-12-31T08:00:00+00:00", 1) == "2018-01-01T08:00:00+00:00"
    assert shift_text("not a date", 1) == "not a date"


def test_the_target_is_today_or_a_date_in_range() -> None:
    assert parse_target("today", today=D(2026, 12, 3)) == D(2026, 12, 3)
    assert parse_target("TODAY ", today=D(2026, 12, 3)) == D(2026, 12, 3)
    assert parse_target("2026-01-01") == D(2026, 1, 1)
    for bad in ("yesterday", "2026-13-01", "0001-01-01", "9999-12-31"):
        with pytest.raises(MappingError):
            parse_target(bad)
    with pytest.raises(MappingError, match="outside"):
        check_range(D(2016, 1, 1), D(2017, 12, 31), 70000)


def test_the_report_line_says_how_far_and_from_what_to_what() -> None:
    s = DateShift(3258, D(2016, 10, 20), D(2017, 12, 31), "computed", D(2026, 12, 3))
    assert s.text() == "shifted by 3258 days: 2017-12-31 -> 2026-12-02 (data 2025-09-21 .. 2026-12-02)"
    again = DateShift(3258, D(2016, 10, 20), D(2017, 12, 31), "stored", D(2026, 12, 10))
    assert "kept from the records already imported" in again.text()
    assert "asked: last date 2026-12-09" in again.text()
    assert s.as_json()["shifted_last"] == "2026-12-02"


# -- the mapping and the plan --------------------------------------------------------------------


def test_every_date_of_the_mapping_moves_and_nothing_else() -> None:
    mapping = load_mapping("maven-crm")
    assert date_fields(mapping) == {"engaged_on", "closed_on", "entered_sales_on"}
    before = build_plan(mapping, tables())
    first, last = bounds(before, mapping) or (None, None)
    assert (first, last) == (D(2016, 10, 20), D(2017, 3, 1))
    days = offset_to(last, D(2026, 12, 3))
    after = build_plan(mapping.shifted(days), tables())
    assert bounds(after, mapping) == (shift(first, days), D(2026, 12, 2))
    assert after.data_end == D(2026, 12, 2)

    old = {p.key: p for p in before.opportunities}
    for p in after.opportunities:
        o = old[p.key]
        for name in ("engaged_on", "closed_on"):
            assert p.extra[name] == (o.extra[name] and shift(o.extra[name], days))
        assert p.body["closed_on"] == (o.body["closed_on"] and shift_text(o.body["closed_on"], days))
        assert {k: v for k, v in p.body.items() if k != "closed_on"} == {
            k: v for k, v in o.body.items() if k != "closed_on"
        }
    people = {p.key: p.body for p in before.employees}
    for p in after.employees:
        if "entered_sales_on" in p.body:
            assert p.body["entered_sales_on"] == shift_text(people[p.key]["entered_sales_on"], days)
    # shifting is from the file's dates, never cumulative
    assert mapping.shifted(days).shifted(days).shift_days == days
    assert [r.reason for r in after.rejections] == [r.reason for r in before.rejections]


# -- the engine: first import computes, a re-run reads the offset back ------------------------------


class FakeApi:
    """Enough of the API for the importer: bulk upserts that store what they are sent."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/")
        if request.method == "GET":
            items = list(self.records.get(path, {}).values())
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        body = json.loads(request.content)
        if path == "employees/facts:backfill":
            return httpx.Response(200, json={"received": len(body["facts"]), "inserted": 0, "duplicates": 0})
        if path == "solutions":
            made = {**body, "id": f"s-{body['name']}", "version": 1}
            self.records.setdefault("solutions", {})[body["name"]] = made
            return httpx.Response(201, json=made)
        collection = path.removesuffix(":bulk-upsert")
        stored = self.records.setdefault(collection, {})
        results = []
        for i, item in enumerate(body["items"]):
            key = item["external_id"]
            # As the server answers: a row that changes nothing is unchanged (the importer sends every row).
            before = stored.get(key)
            status = "created" if before is None else "unchanged" if item.items() <= before.items() else "updated"
            stored[key] = {**stored.get(key, {}), **item, "id": f"{collection}-{key}"}
            results.append({"index": i, "status": status, "id": stored[key]["id"], "errors": [], "warnings": []})
        return httpx.Response(200, json={"results": results})


def run(api: FakeApi, target: D | None, tmp_path: Any) -> Importer:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    with ApiClient("http://gw", "t", transport=httpx.MockTransport(api.handler)) as client:
        importer = Importer(
            mapping=load_mapping("maven-crm"),
            data_dir=folder,
            client=client,
            progress=Silent(),
            target="http://gw",
            shift_dates_to=target,
        )
        importer.run()
    return importer


def test_a_first_import_moves_the_dates_and_a_rerun_keeps_the_offset(tmp_path: Any) -> None:
    api = FakeApi()
    first = run(api, D(2026, 12, 3), tmp_path)
    shifted = first.report.date_shift
    assert shifted is not None and (shifted.source, shifted.new_last) == ("computed", D(2026, 12, 2))
    assert "shifted by 3563 days: 2017-03-01 -> 2026-12-02" in first.report.text()
    assert first.report.as_json()["date_shift"]["days"] == 3563
    stored = api.records["opportunities"]
    assert stored["maven:O1"]["closed_on"] == "2026-12-02"
    assert stored["maven:O3"]["closed_on"] == shift_text("2017-02-01", 3563)
    assert api.records["employees"]["person:Ada Lin"]["entered_sales_on"] == shift_text("2016-10-20", 3563)

    # A week later, asked again for "today": the records keep their dates and nothing is sent as changed.
    again = run(api, D(2026, 12, 10), tmp_path)
    assert again.report.date_shift is not None
    assert (again.report.date_shift.days, again.report.date_shift.source) == (3563, "stored")
    assert stored["maven:O1"]["closed_on"] == "2026-12-02"
    counts = again.report.counts()
    assert counts["opportunities"]["updated"] == 0 and counts["opportunities"]["created"] == 0

    # A plain re-run (no flag) does not move them back either.
    plain = run(api, None, tmp_path)
    assert plain.report.date_shift is not None and plain.report.date_shift.days == 3563
    assert plain.report.counts()["opportunities"]["updated"] == 0


def test_an_unshifted_import_stays_unshifted_and_says_so_when_asked(tmp_path: Any) -> None:
    api = FakeApi()
    assert run(api, None, tmp_path).report.date_shift is None
    assert api.records["opportunities"]["maven:O1"]["closed_on"] == "2017-03-01"
    asked = run(api, D(2026, 12, 3), tmp_path).report
    assert asked.date_shift is not None and (asked.date_shift.days, asked.date_shift.source) == (0, "stored")
    assert "import into an empty system for that" in asked.text()
    assert api.records["opportunities"]["maven:O1"]["closed_on"] == "2017-03-01"
