"""A large opportunities file is planned as it is sent (`stream_plan`): a first pass keeps no rows,
the second plans a batch at a time, and what comes out is the whole file's plan to the row."""

from pathlib import Path

from sanlun.importer.decoding import count_records
from sanlun.importer.mapping import load_mapping
from sanlun.importer.plan import build_plan, stream_plan
from sanlun.importer.readers import iter_csv, parse_csv, read_tables, scan_csv
from tests.importer.test_plan import ACCOUNTS, PIPELINE, PRODUCTS, TEAMS

BROKEN = "O10,Ada Lin,MG Special\r\n"  # too few values
QUOTED = 'O11,Bo Wu,MG Special,Beta,Engaging,2017-01-03,,"7"\r\n'
LATE_DUPLICATE = "O3,Bo Wu,MG Special,Beta,Lost,2017-01-02,2017-02-01,0\r\n"


def files(folder: Path, pipeline: str) -> Path:
    for name, text in {
        "sales_teams.csv": TEAMS,
        "accounts.csv": ACCOUNTS,
        "products.csv": PRODUCTS,
        "sales_pipeline.csv": pipeline,
    }.items():
        (folder / name).write_bytes(text.encode())
    return folder


def test_a_streamed_plan_is_the_whole_plan_batch_by_batch(tmp_path: Path) -> None:
    folder = files(tmp_path, PIPELINE + BROKEN + QUOTED + LATE_DUPLICATE)
    mapping = load_mapping("maven-crm")
    whole = build_plan(mapping, read_tables(mapping, folder))
    streamed = stream_plan(mapping, folder)
    assert streamed.opportunities == [] and streamed.deals is not None
    assert streamed.rows_read == whole.rows_read and streamed.data_end == whole.data_end
    assert streamed.employees == whole.employees  # the people's earliest_in dates from the first pass
    batches = list(streamed.deals.batches(2))
    assert sum(rows for rows, _ in batches) == streamed.deals.rows == 11
    deals = [p for _, batch in batches for p in batch]
    assert [(p.key, dict(p.body), dict(p.extra), p.sources) for p in deals] == [
        (p.key, dict(p.body), dict(p.extra), p.sources) for p in whole.opportunities
    ]
    assert streamed.rejections == whole.rejections
    assert list(streamed.notes) == list(whole.notes)
    duplicates = [r for r in streamed.rejections if "duplicate of line" in r.reason]
    assert [(r.source.line, r.key) for r in duplicates] == [(7, "maven:O1"), (13, "maven:O3")]
    assert list(streamed.deals.batches(2)) == []  # once: its rejections are in the plan


def test_the_csv_reader_reads_a_file_again_row_by_row_as_it_read_it_first(tmp_path: Path) -> None:
    text = 'id;name;notes\r\n1;"Ana";"two\r\nlines"\r\n\r\n2;Bo;x\r\n3;Cy\r\n'
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    seen: list = []
    first = scan_csv("f.csv", path.read_bytes(), visit=seen.append)
    assert first.rows == [] and first.read == 2 and first.broken == [(6, "2 values for 3 columns")]
    again = list(iter_csv(path, first))
    assert [(r.line, dict(r.values)) for r in again] == [(r.line, dict(r.values)) for r in seen]
    assert [(r.line, dict(r.values)) for r in again] == [
        (r.line, dict(r.values)) for r in parse_csv("f.csv", path.read_bytes()).rows
    ]
    assert count_records("f.csv", text, ";") == 5  # the header, two rows, a blank line, a broken row
