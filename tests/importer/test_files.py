"""Exports as sales teams have them: each encoding Excel writes, other delimiters,
quoted multi-line notes, extra columns, .xlsx; each read right or refused with a
reason (`FileError`), never stored wrongly."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import yaml

from sanlun.importer.decoding import FileError
from sanlun.importer.mapping import BUILTIN_DIR, FileOptions, MappingError, parse_mapping
from sanlun.importer.plan import build_plan
from sanlun.importer.readers import parse_csv, parse_xlsx, read_table, read_tables

WESTERN = "name,city,note\r\nCafé Zoë,Köln,\u201cEuro\u201d price \u20ac5\r\nJosé Müller,Zürich,naïve\r\n"
CHINESE = "姓名,城市,备注\r\n张伟,上海,重点客户\r\n王芳,北京,“已签约”\r\n李娜,深圳,无\r\n"


def values(table) -> list[dict[str, str]]:
    return [dict(r.values) for r in table.rows]


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "note"),
    [
        ("utf-8", None),
        ("utf-8-sig", "UTF-8 byte order mark removed"),
        ("utf-16", "read as UTF-16 (byte order mark)"),
        ("utf-16-be", None),  # written below with its BOM
    ],
)
def test_utf_encodings_are_read_with_or_without_a_bom(encoding: str, note: str | None) -> None:
    data = WESTERN.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
        note = "read as UTF-16 (byte order mark)"
    table = parse_csv("a.csv", data)
    assert values(table)[0] == {"name": "Café Zoë", "city": "Köln", "note": "\u201cEuro\u201d price \u20ac5"}
    assert table.columns == ["name", "city", "note"]
    if note:
        assert (note, 1) in table.notes


def test_windows_1252_is_detected_not_read_as_latin_1() -> None:
    table = parse_csv("a.csv", WESTERN.encode("cp1252"))
    assert values(table)[0]["note"] == "\u201cEuro\u201d price \u20ac5"  # not '\x93Euro\x94 price \x805'
    assert table.encoding == "Windows-1252"
    assert any("read as Windows-1252 (detected" in n for n, _ in table.notes)


def test_latin_1_text_reads_the_same_detected_or_given() -> None:
    text = "name,city\nZoë Brontë,Besançon\n"
    assert values(parse_csv("a.csv", text.encode("latin-1")))[0] == {"name": "Zoë Brontë", "city": "Besançon"}
    given = parse_csv("a.csv", text.encode("latin-1"), encoding="latin-1")
    assert values(given)[0]["city"] == "Besançon" and given.encoding == "Latin-1"


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
def test_chinese_excel_exports_are_detected(encoding: str) -> None:
    table = parse_csv("a.csv", CHINESE.encode(encoding))
    assert values(table)[1] == {"姓名": "王芳", "城市": "北京", "备注": "“已签约”"}
    assert table.encoding == "GB18030"


def test_an_encoding_that_cannot_be_told_is_refused_asking_for_it() -> None:
    # Two Chinese characters a value and nothing else: as plausible in Windows-1252 ("Õż") as in GBK.
    ambiguous = "a,b\r\n张,x\r\n".encode("gbk")
    with pytest.raises(FileError, match="reads as Windows-1252 and as GB18030 alike: set `encoding:`"):
        parse_csv("a.csv", ambiguous)
    # ... and the mapping's encoding settles it.
    assert values(parse_csv("a.csv", ambiguous, encoding="gbk"))[0] == {"a": "张", "b": "x"}
    with pytest.raises(FileError, match="nor plainly Windows-1252 or GB18030"):
        parse_csv("a.csv", b"a,b\n\x81\x8d\x8f,1\n")


def test_a_wrong_encoding_given_is_refused_with_the_line() -> None:
    with pytest.raises(FileError, match=r"a.csv line 3: not the mapping's encoding utf-8"):
        parse_csv("a.csv", "a,b\n1,2\nCafé,3\n".encode("cp1252"), encoding="utf-8")


def test_utf_16_without_a_bom_is_refused() -> None:
    with pytest.raises(FileError, match="UTF-16 without a byte order mark"):
        parse_csv("a.csv", "a,b\n1,2\n".encode("utf-16-le"))
    assert values(parse_csv("a.csv", "a,b\n1,2\n".encode("utf-16-le"), encoding="utf-16-le")) == [{"a": "1", "b": "2"}]


# -- delimiters, quoting, counts -------------------------------------------------------------------

NOTES = (
    "id;account;amount;notes\r\n"
    '1;Acme;1.234,50;"first call\r\nsent; the quote\r\nfollow up"\r\n'
    "2;Beta;99,00;plain\r\n"
    '3;"Gamma; Ltd";5;"said ""yes""\r\n"\r\n'
)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(delimiter: str) -> None:
    text = f'id{delimiter}name{delimiter}note\n1{delimiter}Ada{delimiter}"a, b; c"\n2{delimiter}Bo{delimiter}\n'
    table = parse_csv("a.csv", text.encode())
    assert table.delimiter == delimiter
    assert values(table)[0] == {"id": "1", "name": "Ada", "note": "a, b; c"}


def test_quoted_multi_line_values_are_one_row_each() -> None:
    table = parse_csv("deals.csv", NOTES.encode())
    assert [(r.line, r.values["id"]) for r in table.rows] == [(2, "1"), (5, "2"), (6, "3")]
    assert table.rows[0].values["notes"] == "first call\r\nsent; the quote\r\nfollow up"
    assert table.rows[2].values["account"] == "Gamma; Ltd" and table.rows[2].values["notes"] == 'said "yes"\r\n'
    assert ("values over several lines (quoted line breaks) kept", 2) in table.notes


def test_a_delimiter_given_wins_and_a_wrong_one_is_refused() -> None:
    with pytest.raises(FileError, match=r"2 of 3 rows have another number of values .* delimiter ','"):
        parse_csv("deals.csv", b"id;amount\n1;1,5\n2;2,5\n3;3\n", delimiter=",")
    with pytest.raises(FileError, match="never closed"):  # the notes' quotes do not open values split by ','
        parse_csv("deals.csv", NOTES.encode(), delimiter=",")
    with pytest.raises(FileError, match="split by ',' and ';' alike: set `delimiter:`"):
        parse_csv("a.csv", b"a,b;c\n1,2;3\n")
    assert parse_csv("a.csv", b"a,b;c\n1,2;3\n", delimiter=";").columns == ["a,b", "c"]


def test_an_unclosed_quote_is_refused_not_swallowing_the_rest() -> None:
    with pytest.raises(FileError, match="a quote in the record from line 3 is never closed"):
        parse_csv("a.csv", b'id,note\n1,ok\n2,"never closed\n3,x\n4,y\n')


def test_empty_files_and_files_without_rows_are_refused() -> None:
    with pytest.raises(FileError, match=r"a\.csv is empty"):
        parse_csv("a.csv", b"")
    with pytest.raises(FileError, match=r"a\.csv is empty"):
        parse_csv("a.csv", b"\xef\xbb\xbf\r\n")
    with pytest.raises(FileError, match=r"a\.csv has a header but no rows"):
        parse_csv("a.csv", b"id,name\r\n\r\n")


def test_a_few_broken_rows_are_rejected_rows_not_a_refused_file() -> None:
    table = parse_csv("a.csv", b"id,name\n1,Ada\n2,Bo,extra\n3,Cy\n")
    assert table.broken == [(3, "3 values for 2 columns")] and len(table.rows) == 2


def test_file_errors_stop_the_import_like_mapping_errors() -> None:
    assert issubclass(FileError, MappingError)  # the CLI's "could not be done" exit


# -- .xlsx -------------------------------------------------------------------------------------------


def xlsx(*sheets: tuple[str, list[list[object]]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


DEALS = [
    ["opportunity_id", "客户", "close_date", "close_value", "notes"],
    ["O1", "上海银行", dt.date(2017, 3, 1), 1234.5, "line one\nline two"],
    ["O2", "Café Zoë", dt.datetime(2017, 3, 2, 0, 0), 55, None],
    [None, None, None, None, None],
    ["O3", "Beta", "2017-03-03", 0.1, "text date"],
]


def test_an_xlsx_sheet_is_read_with_typed_cells_as_text_the_mapping_reads() -> None:
    table = parse_xlsx("deals.xlsx", xlsx(("Summary", [["x"], [1]]), ("Deals", DEALS)), sheet="Deals")
    assert table.columns == ["opportunity_id", "客户", "close_date", "close_value", "notes"]
    assert [r.line for r in table.rows] == [2, 3, 5]
    assert values(table)[0] == {
        "opportunity_id": "O1",
        "客户": "上海银行",
        "close_date": "2017-03-01",
        "close_value": "1234.5",
        "notes": "line one\nline two",
    }
    assert values(table)[1]["close_value"] == "55" and values(table)[1]["notes"] == ""
    assert values(table)[2]["close_value"] == "0.1"
    first = parse_xlsx("deals.xlsx", xlsx(("Deals", DEALS), ("Other", [["x"], [1]])))
    assert first.sheet == "Deals" and ("sheet 'Deals' read, the first of 2 (set `sheet:` to choose)", 1) in first.notes
    assert parse_xlsx("deals.xlsx", xlsx(("A", [["x"], [1]]), ("Deals", DEALS)), sheet=1).sheet == "Deals"


def test_an_xlsx_sheet_that_is_not_there_or_empty_is_refused() -> None:
    data = xlsx(("Deals", DEALS))
    with pytest.raises(FileError, match="has no sheet 'Deal' \\(did you mean 'Deals'\\?\\)"):
        parse_xlsx("deals.xlsx", data, sheet="Deal")
    with pytest.raises(FileError, match="sheet 'Empty' is empty"):
        parse_xlsx("deals.xlsx", xlsx(("Empty", [])))
    with pytest.raises(FileError, match=r"not a readable \.xlsx file"):
        parse_xlsx("deals.xlsx", b"not a zip")


XLSX_MAPPING = {
    "name": "sheets",
    "currency": "EUR",
    "files": {"deals.xlsx": {"sheet": "Deals"}},
    "accounts": {"file": "deals.xlsx", "fields": {"external_id": "a:{客户}", "name": "{客户}"}},
    "opportunities": {
        "file": "deals.xlsx",
        "fields": {
            "external_id": "x:{opportunity_id}",
            "name": "{opportunity_id}",
            "stage": {"template": "won"},
            "account": "a:{客户}",
            "closed_on": {"template": "{close_date}", "type": "date", "format": "%d/%m/%Y"},
            "amount": {"template": "{close_value}", "type": "money"},
        },
    },
}


def test_an_xlsx_file_goes_through_the_mapping_and_the_plan(tmp_path: Path) -> None:
    (tmp_path / "deals.xlsx").write_bytes(xlsx(("Deals", DEALS)))
    mapping = parse_mapping(XLSX_MAPPING)
    plan = build_plan(mapping, read_tables(mapping, tmp_path))
    deals = {p.key: p for p in plan.opportunities}
    # Date cells read as dates whatever the format says (it is for text cells); numbers as numbers.
    assert deals["x:O1"].body["closed_on"] == "2017-03-01" and deals["x:O1"].body["amount"]["amount"] == "1234.50"
    assert deals["x:O3"].body["closed_on"] == "2017-03-03"
    assert {p.key for p in plan.accounts} == {"a:上海银行", "a:Café Zoë", "a:Beta"}
    # A decimal-comma locale would misread number cells (1234.5 -> 12345): refused.
    bad = {**XLSX_MAPPING, "opportunities": {**XLSX_MAPPING["opportunities"]}}
    bad["opportunities"]["fields"] = {
        **XLSX_MAPPING["opportunities"]["fields"],
        "amount": {"template": "{close_value}", "type": "money", "locale": "de"},
    }
    with pytest.raises(MappingError, match=r"locale de on an \.xlsx file would misread its number cells"):
        parse_mapping(bad)


def test_read_table_picks_the_reader_by_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(xlsx(("S", [["id"], ["1"]])))
    (tmp_path / "a.csv").write_bytes("id;n\n1;2\n".encode("cp1252"))
    assert values(read_table(tmp_path / "a.xlsx")) == [{"id": "1"}]
    assert values(read_table(tmp_path / "a.csv", FileOptions(delimiter=";"))) == [{"id": "1", "n": "2"}]


def test_the_sample_set_exported_another_way_plans_exactly_as_the_original(tmp_path: Path) -> None:
    """The issue's public copy of the sample: `;`, Windows-1252, DD-MM-YY, multi-line notes, an extra column."""
    import csv

    from sanlun.importer.cli import sample_data_dir
    from sanlun.importer.mapping import load_mapping

    original = load_mapping("maven-crm")
    for name in original.files():
        with (sample_data_dir() / name).open(encoding="utf-8", newline="") as source:
            rows = list(csv.reader(source))
        with (tmp_path / name).open("w", encoding="cp1252", newline="") as out:
            writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
            writer.writerow([*rows[0], "Notiz"])
            for i, row in enumerate(rows[1:]):
                if name == "sales_pipeline.csv":
                    row[5:7] = [dt.date.fromisoformat(v).strftime("%d-%m-%y") if v else v for v in row[5:7]]
                writer.writerow([*row, f"Café \u201cnote\u201d {i}\nsecond line; € 5" if i % 3 == 0 else ""])
    doc = yaml.safe_load((BUILTIN_DIR / "maven_crm.yaml").read_text(encoding="utf-8"))
    doc["date_format"] = "%d-%m-%y"
    mapping = parse_mapping(doc)  # encoding and delimiter detected
    exported = build_plan(mapping, read_tables(mapping, tmp_path))
    plan = build_plan(original, read_tables(original, sample_data_dir()))
    assert exported.rejections == plan.rejections == []
    for entity in ("org_units", "employees", "accounts", "solutions", "opportunities"):
        assert [(p.key, dict(p.body)) for p in getattr(exported, entity)] == [
            (p.key, dict(p.body)) for p in getattr(plan, entity)
        ], entity
    notes = {n.message for n in exported.notes if n.entity == "file"}
    assert "values separated by ';' (detected; set `delimiter:` to choose)" in notes
    assert any(m.startswith("not UTF-8 (line 2): read as Windows-1252") for m in notes)
