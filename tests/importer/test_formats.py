"""Numbers by locale and dates by format: read exactly, or the row is rejected with
the reason; an ambiguous value is never guessed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from sanlun.importer.formats import parse_date, parse_number
from sanlun.importer.mapping import MappingError, RowError, parse_field, parse_mapping
from sanlun.importer.plan import build_plan
from sanlun.importer.readers import read_tables


@pytest.mark.parametrize(
    ("raw", "locale", "value"),
    [
        ("1.234,50", "de", "1234.50"),
        ("1,5", "de", "1.5"),
        ("1.234.567", "de", "1234567"),
        ("1 234,50", "fr", "1234.50"),
        ("1\u00a0234,5", "fr", "1234.5"),
        ("1\u202f234\u202f567", "fr", "1234567"),
        ("1,234.50", "en", "1234.50"),
        ("1,234", "en", "1234"),
        ("1234.5", "en", "1234.5"),
        ("1'234.5", "de-ch", "1234.5"),
        ("1234.50", None, "1234.50"),
        ("0.125", None, "0.125"),
        ("1,234,567", None, "1234567"),
        ("1,234.50", None, "1234.50"),
    ],
)
def test_numbers_read_by_locale(raw: str, locale: str | None, value: str) -> None:
    assert parse_number(raw, locale) == Decimal(value)


@pytest.mark.parametrize(
    ("raw", "locale", "reason"),
    [
        ("1,234", None, "is ambiguous (',' a thousands separator or a decimal mark?): give a `locale`"),
        ("1.234", None, "is ambiguous ('.' a thousands separator or a decimal mark?): give a `locale`"),
        ("1,5", None, "has a ',' that is not a thousands separator here: give a `locale`"),
        ("1.234,50", None, "has a ',' that is not a thousands separator here"),
        ("1.234,50", "en", "is not a number in locale en"),
        ("1.23,5", "de", "groups of three digits"),
        ("12.34", "de", "groups of three digits"),
        ("1,234.50", "de", "is not a number in locale de"),
        ("1 234.5", "fr", "is not a number in locale fr"),
        ("€ 5", "en", "is not a number in locale en"),
    ],
)
def test_ambiguous_or_foreign_numbers_are_refused_with_the_reason(raw: str, locale: str | None, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_number(raw, locale)


def test_dates_by_format_and_the_ambiguous_ones_refused() -> None:
    assert parse_date("01-03-17", "%d-%m-%y") == dt.date(2017, 3, 1)
    assert parse_date("3/1/2017", "%m/%d/%Y") == dt.date(2017, 3, 1)
    assert parse_date("2017-03-01", None) == dt.date(2017, 3, 1)
    with pytest.raises(ValueError, match="which of day and month comes first cannot be told from it: give the field"):
        parse_date("03/04/17", None)
    with pytest.raises(ValueError, match="is not a date in the format %d-%m-%y"):
        parse_date("2017-03-01", "%d-%m-%y")
    with pytest.raises(ValueError, match=r"is not a date \(YYYY-MM-DD\)"):
        parse_date("2017-02-30", None)


def test_a_fields_locale_and_format_win_over_the_mappings() -> None:
    amount = parse_field("amount", {"template": "{v}", "type": "money"}, locale="de")
    own = parse_field("amount", {"template": "{v}", "type": "money", "locale": "en"}, locale="de")
    assert amount.evaluate({"v": "1.234,50"}, []) == Decimal("1234.50")
    assert own.evaluate({"v": "1,234.50"}, []) == Decimal("1234.50")
    day = parse_field("closed_on", {"template": "{d}", "type": "date"}, date_format="%d.%m.%Y")
    assert day.evaluate({"d": "01.03.2017"}, []) == dt.date(2017, 3, 1)
    # Before: "1.234,50" was stored as 1.23 and "1,5" as 15.00 without a word.
    plain = parse_field("amount", {"template": "{v}", "type": "money"})
    for raw in ("1.234,50", "1,5"):
        with pytest.raises(RowError, match=f"amount '{raw}' has a ','"):
            plain.evaluate({"v": raw}, [])


TEAMS = "sales_agent,manager,regional_office\nAda Lin,Mo Chen,East\n"
PRODUCTS = "product;series;sales_price\nGTX;GTX;1.234,50\nMG;MG;55\n"
# The public copy of the sample: DD-MM-YY dates, `;` delimiters, Windows-1252, decimal commas, an extra column.
PIPELINE = (
    "opportunity_id;sales_agent;product;account;deal_stage;engage_date;close_date;close_value;Notizen\r\n"
    "O1;Ada Lin;GTX;;Won;20-10-16;01-03-17;1.054,00;\u201cgut\u201d\r\n"
    "O2;Ada Lin;MG;;Won;20-10-16;03/04/17;55;\r\n"
    "O3;Ada Lin;MG;;Won;20-10-16;02-03-17;1,234.5;\r\n"
)
DOC = {
    "name": "export",
    "currency": "EUR",
    "locale": "de",
    "date_format": "%d-%m-%y",
    "files": {"sales_pipeline.csv": {"encoding": "cp1252", "delimiter": ";"}},
    "org_units": {
        "fixed": [{"external_id": "root", "slug": "root", "name": "Root"}],
        "file": "sales_teams.csv",
        "levels": [
            {
                "external_id": "team:{manager}",
                "slug": "{manager|slug}",
                "name": "{manager}",
                "parent_external_id": "root",
            }
        ],
    },
    "employees": {
        "file": "sales_teams.csv",
        "people": [
            {
                "external_id": "p:{sales_agent}",
                "name": "{sales_agent}",
                "email": "{sales_agent|slug}@x.example",
                "org_unit": "team:{manager}",
                "entered_sales_on": {
                    "earliest_in": "sales_pipeline.csv",
                    "column": "engage_date",
                    "match": "sales_agent",
                },
            }
        ],
    },
    "solutions": {
        "file": "products.csv",
        "fields": {"name": "{product}", "list_price": {"template": "{sales_price}", "type": "money"}},
    },
    "opportunities": {
        "file": "sales_pipeline.csv",
        "fields": {
            "external_id": "x:{opportunity_id}",
            "owner": "p:{sales_agent}",
            "solution": "{product}",
            "stage": {"template": "{deal_stage}", "values": {"Won": "won"}, "strict": True},
            "engaged_on": {"template": "{engage_date}", "type": "date"},
            "closed_on": {"template": "{close_date}", "type": "date"},
            "amount": {"template": "{close_value}", "type": "money"},
        },
    },
}


def test_an_export_in_another_locale_imports_exactly_or_rejects_per_row(tmp_path: Path) -> None:
    (tmp_path / "sales_teams.csv").write_text(TEAMS)
    (tmp_path / "products.csv").write_text(PRODUCTS)
    (tmp_path / "sales_pipeline.csv").write_bytes(PIPELINE.encode("cp1252"))
    mapping = parse_mapping(DOC)
    plan = build_plan(mapping, read_tables(mapping, tmp_path))
    deals = {p.key: p for p in plan.opportunities}
    assert list(deals) == ["x:O1"]
    assert deals["x:O1"].body["amount"] == {"amount": "1054.00", "currency": "EUR"}
    assert deals["x:O1"].body["closed_on"] == "2017-03-01"
    assert {p.key: p.body["list_price"]["amount"] for p in plan.solutions} == {"GTX": "1234.50", "MG": "55.00"}
    # The people's earliest dates are read with the same format, not compared as text.
    assert plan.employees[0].body["entered_sales_on"] == "2016-10-20"
    assert {(r.source.line, r.reason) for r in plan.rejections} == {
        (3, "closed_on '03/04/17' is not a date in the format %d-%m-%y"),
        (4, "amount '1,234.5' is not a number in locale de"),
    }


def test_a_whole_file_rejected_is_said_as_unusable(tmp_path: Path) -> None:
    (tmp_path / "sales_teams.csv").write_text(TEAMS)
    (tmp_path / "products.csv").write_text(PRODUCTS)
    (tmp_path / "sales_pipeline.csv").write_bytes(PIPELINE.encode("cp1252"))
    doc = {**DOC, "date_format": "%Y-%m-%d"}
    mapping = parse_mapping(doc)
    plan = build_plan(mapping, read_tables(mapping, tmp_path))
    assert plan.opportunities == [] and plan.rows_read["opportunities"] == 3
    assert plan.unusable == [
        (
            "every one of the 3 opportunities rows was rejected (most often, 3x: "
            "engaged_on '20-10-16' is not a date in the format %Y-%m-%d)"
        )
    ]


def test_a_locale_on_a_text_field_is_a_mapping_error() -> None:
    doc = {**DOC, "solutions": {"file": "products.csv", "fields": {"name": {"template": "{product}", "locale": "de"}}}}
    with pytest.raises(MappingError, match=r"solutions.fields.name: `locale` is for numbers"):
        parse_mapping(doc)
