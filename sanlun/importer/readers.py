"""CSV and .xlsx files read with the file and line of every row, and what was fixed on the way in.

A file is read as the mapping says (`files: {name: {encoding, delimiter, sheet}}`)
or, where it says nothing, as detected (`decoding.decode`, `decoding.sniff`);
what cannot be told is refused with a `FileError` asking for the option, never
guessed. Rows are counted twice, by the csv module and by an independent scan of
the record ends outside quotes, and a file whose counts differ, whose rows mostly
have the wrong number of values, or which has no rows at all is refused: the
"every row accounted for" check of the report then stands on a right count.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanlun.importer import schema
from sanlun.importer.decoding import LINE, FileError, codec_name, count_records, decode_codec, sniff
from sanlun.importer.mapping import FileOptions, MappingError

__all__ = ["FileError", "KeyedTuple", "Row", "Table", "parse_csv", "parse_xlsx", "read_csv", "read_tables"]

if TYPE_CHECKING:
    from sanlun.importer.mapping import Mapping as ImportMapping


class KeyedTuple(Mapping[str, Any]):
    """A read-only mapping over a tuple and one index shared by many (a row's
    values by the file's columns): a dict each would hold a large file's rows,
    or records planned from them, in about twice the memory."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, column: str) -> Any:
        return self._values[self._index[column]]

    def get(self, column: str, default: Any = None) -> Any:
        at = self._index.get(column)
        return default if at is None else self._values[at]

    def __contains__(self, column: object) -> bool:
        return column in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True, slots=True)
class Row:
    file: str
    line: int
    values: Mapping[str, str]


@dataclass
class Table:
    file: str
    columns: list[str]
    rows: list[Row]
    # file-level normalisations: (message, how many lines)
    notes: list[tuple[str, int]] = field(default_factory=list)
    # rows that are not rows: (line, reason)
    broken: list[tuple[int, str]] = field(default_factory=list)
    # How it was read: the encoding and delimiter used (None for an .xlsx), the sheet.
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    # Rows read (`rows` holds them unless a first pass let them go: `scan_csv`); the codec to read
    # the file again with (`iter_csv`).
    read: int = 0
    codec: str | None = None


# At most this share of a file's rows may have another number of values than its header before
# the file is refused as read wrongly (a wrong delimiter, a broken quote), not row by row.
BROKEN_SHARE = 0.5


def parse_csv(name: str, data: bytes, *, encoding: str | None = None, delimiter: str | None = None) -> Table:
    """Decode (given or detected), accept CRLF or LF, split by the delimiter (given or sniffed),
    keep each row's first line number; FileError when the file cannot be read right."""
    return scan_csv(name, data, encoding=encoding, delimiter=delimiter)


def scan_csv(
    name: str,
    data: bytes,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    visit: Callable[[Row], None] | None = None,
) -> Table:
    """`parse_csv`, each row handed to `visit` instead of kept in the table (None: kept): a
    first pass over a large file that keeps no rows; `iter_csv` reads them again."""
    text, codec, notes = decode_codec(name, data, encoding)
    encoding = codec_name(codec)
    crlf = text.count("\r\n")
    if crlf:
        notes.append(("CRLF line endings read as line ends", crlf))
    if not text.strip():
        raise FileError(f"{name} is empty")
    if delimiter is None:
        delimiter = sniff(name, text)
        if delimiter != ",":
            notes.append((f"values separated by {delimiter!r} (detected; set `delimiter:` to choose)", 1))
    reader = csv.reader((m.group() for m in LINE.finditer(text)), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise FileError(f"{name} line 1: {exc}") from None
    columns = [c.strip() for c in header]
    table = Table(name, columns, [], notes, encoding=encoding, delimiter=delimiter)
    table.codec = codec
    stats = _Stats()
    for row in _records(name, reader, table, stats):
        table.read += 1
        if visit is None:
            table.rows.append(row)
        else:
            visit(row)
    scanned = count_records(name, text, delimiter)
    if scanned != stats.records:
        raise FileError(
            f"{name}: the csv reader read {stats.records} records but {scanned} end outside quotes: "
            "its quoting is not CSV (a stray or unclosed quote?)"
        )
    if stats.multiline:
        notes.append(("values over several lines (quoted line breaks) kept", stats.multiline))
    _check_rows(table, f"is the delimiter {delimiter!r} right? set `delimiter:` for {name} in the mapping's files")
    return table


@dataclass
class _Stats:
    records: int = 1  # the header
    multiline: int = 0


def _records(name: str, reader: Any, table: Table, stats: _Stats) -> Iterator[Row]:
    """The rows after the header, each with its first line; a row with another number of values
    than the header goes to `table.broken` (when `stats`, also counted there)."""
    columns = table.columns
    index = {c: i for i, c in enumerate(columns)}  # a column named twice: the last one, as a dict of the row says
    last = reader.line_num
    try:
        for record in reader:
            stats.records += 1
            line = last + 1
            if reader.line_num > line:
                stats.multiline += 1
            last = reader.line_num
            if not any(v.strip() for v in record):
                continue  # a blank line is not a row
            if len(record) != len(columns):
                table.broken.append((line, f"{len(record)} values for {len(columns)} columns"))
                continue
            # Interned: most values repeat over the rows (people, products, stages, dates).
            yield Row(name, line, KeyedTuple(index, tuple(map(sys.intern, record))))
    except csv.Error as exc:
        raise FileError(f"{name} line {last + 1}: {exc}") from None


def iter_csv(path: Path, table: Table) -> Iterator[Row]:
    """The rows of a file `scan_csv` read (`table`: its header, encoding and delimiter), read
    again from the file as they are handed out: only the row at hand is in memory."""
    with path.open(encoding=table.codec or "utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=table.delimiter or ",")
        next(reader, None)
        yield from _records(table.file, reader, Table(table.file, table.columns, []), _Stats())


def _check_rows(table: Table, hint: str) -> None:
    read = table.read + len(table.broken)
    if read == 0:
        raise FileError(f"{table.file} has a header but no rows")
    if len(table.broken) > BROKEN_SHARE * read:
        line, reason = table.broken[0]
        raise FileError(
            f"{table.file}: {len(table.broken)} of {read} rows have another number of values than the "
            f"{len(table.columns)} columns of the header (line {line}: {reason}); {hint}"
        )


def parse_xlsx(name: str, data: bytes, *, sheet: str | int | None = None) -> Table:
    """The rows of one sheet (the first unless `sheet` names one, by name or 0-based index), each
    with its spreadsheet row number as its line. Cells typed as numbers read as `1234.5` (no
    grouping, `.` decimal) and dates as YYYY-MM-DD, whatever the locale the sheet shows them in."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except (CalamineError, ValueError, OSError) as exc:
        raise FileError(f"{name} is not a readable .xlsx file: {exc}") from None
    names = list(book.sheet_names)
    if not names:
        raise FileError(f"{name} has no sheets")
    notes: list[tuple[str, int]] = []
    if sheet is None:
        chosen = names[0]
        if len(names) > 1:
            notes.append((f"sheet {chosen!r} read, the first of {len(names)} (set `sheet:` to choose)", 1))
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise FileError(f"{name} has {len(names)} sheets: `sheet: {sheet}` is not one (0 is the first)")
        chosen = names[sheet]
    elif sheet in names:
        chosen = sheet
    else:
        raise FileError(f"{name} has no sheet {sheet!r}{schema.did_you_mean(sheet, names)}; it has {', '.join(names)}")
    cells = book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    if not cells or not any(_cell(c) for c in cells[0]):
        raise FileError(f"{name} sheet {chosen!r} is empty (its first row is the header)")
    header = [_cell(c).strip() for c in cells[0]]
    while header and not header[-1]:
        header.pop()
    index = {c: i for i, c in enumerate(header)}
    table = Table(name, header, [], notes, sheet=chosen)
    for at, raw in enumerate(cells[1:], start=2):
        values = [_cell(c) for c in raw]
        if not any(v.strip() for v in values):
            continue
        if any(v.strip() for v in values[len(header) :]):
            width = max(i for i, v in enumerate(values) if v.strip()) + 1
            table.broken.append((at, f"{width} values for {len(header)} columns"))
            continue
        values += [""] * (len(header) - len(values))
        table.rows.append(Row(name, at, KeyedTuple(index, tuple(sys.intern(v) for v in values[: len(header)]))))
        table.read += 1
    _check_rows(table, "is the header the sheet's first row?")
    return table


def _cell(value: Any) -> str:
    """A cell's value as the text a CSV export of it would hold, in the forms the mapping reads."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def read_table(path: Path, options: FileOptions | None = None) -> Table:
    """One file by its name's ending: .xlsx/.xlsm as a sheet, anything else as CSV text."""
    options = options or FileOptions()
    data = path.read_bytes()
    if schema.is_sheet(path.name):
        return parse_xlsx(path.name, data, sheet=options.sheet)
    return parse_csv(path.name, data, encoding=options.encoding, delimiter=options.delimiter)


def read_csv(path: Path) -> Table:
    return read_table(path)


def read_tables(
    mapping: ImportMapping, data_dir: Path, *, first_pass: Mapping[str, Callable[[Path], Table]] | None = None
) -> dict[str, Table]:
    """Every file the mapping reads, from `data_dir`, each checked against what the mapping reads
    of it: a file missing, unreadable (`FileError`) or without a column the mapping names
    (`MappingError`, every such column at once, with the nearest header name) stops the import
    before anything is written. `first_pass`: the files read by a function of their own instead
    (a large file's first pass: its table without rows)."""
    tables = {}
    for name in mapping.files():
        path = data_dir / name
        if not path.exists():
            present = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []
            raise MappingError(
                f"the mapping reads {name}, which is not in {data_dir}{schema.did_you_mean(name, present)}"
            )
        read = (first_pass or {}).get(name)
        tables[name] = read(path) if read else read_table(path, mapping.file_options.get(name))
    problems = check_columns(mapping, tables)
    if problems:
        head = "a column the mapping reads is missing" if len(problems) == 1 else f"{len(problems)} column problems"
        raise MappingError(f"{head}: " + "; ".join(problems))
    return tables


def check_columns(mapping: ImportMapping, tables: dict[str, Table]) -> list[str]:
    """Every column the mapping reads, against the header of the file it reads it from."""
    problems = []
    for name, table in tables.items():
        uses = [(where, column) for file, where, column in mapping.uses if file == name]
        problems += schema.column_problems(name, table.columns, uses)
    return problems
