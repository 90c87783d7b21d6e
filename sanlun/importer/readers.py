"""CSV files read with the file and line of every row, and what was fixed on the way in."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanlun.importer.mapping import MappingError

if TYPE_CHECKING:
    from sanlun.importer.mapping import Mapping as ImportMapping

# A line with its end, as a text file opened with newline="" reads it (\r\n, \r or \n): the csv
# module's lines, read from the text without an io.StringIO of it (four bytes a character once read).
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


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
    reader = csv.reader(m.group() for m in LINE.finditer(text))
    try:
        header = next(reader)
    except StopIteration:
        return Table(name, [], [], notes)
    columns = [c.strip() for c in header]
    index = {c: i for i, c in enumerate(columns)}  # a column named twice: the last one, as a dict of the row says
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
        # Interned: most values repeat over the rows (people, products, stages, dates).
        table.rows.append(Row(name, line, KeyedTuple(index, tuple(map(sys.intern, record)))))
    return table


def read_csv(path: Path) -> Table:
    return parse_csv(path.name, path.read_bytes())


def read_tables(mapping: ImportMapping, data_dir: Path) -> dict[str, Table]:
    """Every file the mapping reads, from `data_dir`."""
    tables = {}
    for name in mapping.files():
        path = data_dir / name
        if not path.exists():
            raise MappingError(f"the mapping reads {name}, which is not in {data_dir}")
        tables[name] = read_csv(path)
    return tables
