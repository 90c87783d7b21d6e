"""CSV files read with the file and line of every row, and what was fixed on the way in."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Row:
    file: str
    line: int
    values: dict[str, str]


@dataclass
class Table:
    file: str
    columns: list[str]
    rows: list[Row]
    # file-level normalisations: (message, how many lines)
    notes: list[tuple[str, int]] = field(default_factory=list)
    # rows that are not rows: (line, reason)
    broken: list[tuple[int, str]] = field(default_factory=list)


def parse_csv(name: str, data: bytes) -> Table:
    """Decode (UTF-8, BOM tolerated), accept CRLF or LF, and keep each row's first line number."""
    notes: list[tuple[str, int]] = []
    if data.startswith(b"\xef\xbb\xbf"):
        notes.append(("UTF-8 byte order mark removed", 1))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        notes.append(("not UTF-8: read as Latin-1", 1))
    crlf = text.count("\r\n")
    if crlf:
        notes.append(("CRLF line endings read as line ends", crlf))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return Table(name, [], [], notes)
    columns = [c.strip() for c in header]
    table = Table(name, columns, [], notes)
    last = reader.line_num
    for record in reader:
        line = last + 1
        last = reader.line_num
        if not any(v.strip() for v in record):
            continue  # a blank line is not a row
        if len(record) != len(columns):
            table.broken.append((line, f"{len(record)} values for {len(columns)} columns"))
            continue
        table.rows.append(Row(name, line, dict(zip(columns, record, strict=True))))
    return table


def read_csv(path: Path) -> Table:
    return parse_csv(path.name, path.read_bytes())
