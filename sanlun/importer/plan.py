"""From CSV rows to the records each bulk endpoint wants: pure, no HTTP.

Every input row ends up in exactly one place: a planned record (possibly the
same record as another row, e.g. a manager named on six rows), or a rejection
with file, line and reason. Every value changed on the way is a normalisation
note with its file and line.
"""

from __future__ import annotations

import array
import collections
import datetime as dt
import hashlib
import itertools
import sys
from collections import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sanlun.importer import schema
from sanlun.importer.mapping import Earliest, Field, FileOptions, Mapping, RowError
from sanlun.importer.readers import KeyedTuple, Row, Table, iter_csv, read_table, scan_csv


@dataclass(frozen=True, slots=True)
class Source:
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Rejection:
    entity: str
    source: Source
    key: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    entity: str
    source: Source | None
    message: str
    count: int = 1


@dataclass(slots=True)
class Planned:
    """One record to upsert, with the rows it came from. A deal's body is a
    `KeyedTuple` under one index for all (`_DEAL_BODY`), not a dict of its own:
    a large file's deals would take about twice the memory."""

    key: str
    body: abc.Mapping[str, Any]
    sources: list[Source]
    extra: abc.Mapping[str, Any] = field(default_factory=dict)


class NoteLog:
    """A plan's notes in order, each kept as two numbers (what is said, on which line): most rows of
    a large file have a note, and a `Note` with its `Source` each would take about 130 bytes."""

    def __init__(self, notes: abc.Iterable[Note] = ()) -> None:
        self._kinds: dict[tuple[str, str | None, str, int], int] = {}
        self._said: list[tuple[str, str | None, str, int]] = []
        self._kind, self._line = array.array("I"), array.array("Q")
        for n in notes:
            self.append(n)

    def append(self, note: Note) -> None:
        kind = (note.entity, note.source.file if note.source else None, note.message, note.count)
        at = self._kinds.get(kind)
        if at is None:
            at = self._kinds[kind] = len(self._said)
            self._said.append(kind)
        self._kind.append(at)
        self._line.append(note.source.line if note.source else 0)

    def __iter__(self) -> Iterator[Note]:
        for at, line in zip(self._kind, self._line, strict=True):
            entity, file, message, count = self._said[at]
            yield Note(entity, Source(file, line) if file is not None else None, message, count)

    def __len__(self) -> int:
        return len(self._kind)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (NoteLog, list)) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass
class Plan:
    org_units: list[Planned] = field(default_factory=list)
    employees: list[Planned] = field(default_factory=list)
    accounts: list[Planned] = field(default_factory=list)
    solutions: list[Planned] = field(default_factory=list)
    opportunities: list[Planned] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: NoteLog = field(default_factory=NoteLog)
    rows_read: dict[str, int] = field(default_factory=dict)
    data_end: dt.date | None = None
    org_paths: dict[str, str] = field(default_factory=dict)
    # A large opportunities file is planned batch by batch as it is sent (`stream_plan`), not here.
    deals: DealStream | None = None
    # Notes said while sending (after every note of the planning, in the report).
    sent_notes: NoteLog = field(default_factory=NoteLog)

    @property
    def unusable(self) -> list[str]:
        """One sentence for each file whose rows were all rejected (rows read, none planned): the
        import must not report success for it, whatever else it wrote (the run exits non-zero)."""
        out = []
        for entity, read in self.rows_read.items():
            planned = self.deals.planned if entity == "opportunities" and self.deals else len(getattr(self, entity))
            if read and not planned:
                reasons = collections.Counter(r.reason for r in self.rejections if r.entity == entity)
                common, n = reasons.most_common(1)[0] if reasons else ("", 0)
                out.append(
                    f"every one of the {read} {entity.replace('_', ' ')} rows was rejected (most often, {n}x: {common})"
                )
        return out

    def reject(self, entity: str, row: Row, key: str | None, reason: str) -> None:
        self.rejections.append(Rejection(entity, Source(row.file, row.line), key, reason))

    def note(self, entity: str, row: Row | Source | None, message: str) -> None:
        # Interned: the same sentence is said of many rows. A `Source` given is kept as it is (the
        # planned record's own, not one more per note).
        source = Source(row.file, row.line) if isinstance(row, Row) else row
        self.notes.append(Note(entity, source, sys.intern(message)))


def _values(fields: dict[str, Field], row: Row, notes: list[str]) -> dict[str, Any]:
    return {name: f.evaluate(row.values, notes) for name, f in fields.items()}


def _add_notes(plan: Plan, entity: str, row: Row | Source, notes: list[str]) -> None:
    for message in notes:
        plan.note(entity, row, message)


def build_plan(mapping: Mapping, tables: dict[str, Table]) -> Plan:
    """The plan of `tables` under `mapping`, every record in it (`stream_plan` for a large file)."""
    plan = _reference_plan(mapping, tables)
    _opportunities(plan, mapping, tables)
    return plan


def _reference_plan(mapping: Mapping, tables: dict[str, Table], scanned: Scan | None = None) -> Plan:
    """The plan of everything but the opportunities (the reference data they name)."""
    plan = Plan()
    for table in tables.values():
        for message, count in table.notes:
            plan.notes.append(Note("file", Source(table.file, 0), message, count))
    _org_units(plan, mapping, tables)
    _employees(plan, mapping, tables, scanned.earliest if scanned else {})
    _accounts(plan, mapping, tables)
    _solutions(plan, mapping, tables)
    return plan


def _rows(plan: Plan, entity: str, tables: dict[str, Table], name: str | None) -> list[Row]:
    if not name:
        return []
    table = tables[name]
    plan.rows_read[entity] = len(table.rows) + len(table.broken)
    for line, reason in table.broken:
        plan.rejections.append(Rejection(entity, Source(name, line), None, reason))
    return table.rows


def _org_units(plan: Plan, mapping: Mapping, tables: dict[str, Table]) -> None:
    by_key: dict[str, Planned] = {}
    paths: dict[str, str] = {}

    def add(body: dict[str, Any], source: Source | None) -> str | None:
        key = body["external_id"]
        parent = body.get("parent_external_id")
        if parent and parent not in paths:
            return f"parent unit {parent!r} is not defined before it"
        path = f"{paths[parent] if parent else ''}/{body['slug']}"
        if key in by_key:
            if by_key[key].body != body:
                return _differs(key, by_key[key])
            if source:
                by_key[key].sources.append(source)
            return None
        if path in paths.values():
            return f"path {path} is already taken by another unit"
        paths[key] = path
        by_key[key] = Planned(key, body, [source] if source else [])
        return None

    for unit in mapping.org_fixed:
        body = {k: v for k, v in unit.items() if v}
        if problem := add(body, None):
            raise RowError(f"org_units.fixed {unit.get('external_id')}: {problem}")
    for row in _rows(plan, "org_units", tables, mapping.org_file):
        for level in mapping.org_levels:
            notes: list[str] = []
            try:
                body = {k: v for k, v in _values(level, row, notes).items() if v is not None}
                problem = add(body, Source(row.file, row.line))
            except RowError as exc:
                problem = str(exc)
            if problem:
                plan.reject("org_units", row, None, problem)
                break
    plan.org_units = list(by_key.values())
    plan.org_paths = paths


def _earliest_index(rows: abc.Iterable[Row], e: Earliest) -> dict[str, dt.date]:
    """The earliest date of `e.column` for each value of `e.match`, read as `e` reads dates (a value
    that is not one is left out: the file's own mapping rejects its row with the reason)."""
    found: dict[str, dt.date] = {}
    for row in rows:
        _earliest_add(found, row, e)
    return found


def _earliest_add(found: dict[str, dt.date], row: Row, e: Earliest) -> None:
    raw, key = (row.values.get(e.column) or "").strip(), (row.values.get(e.match) or "").strip()
    if raw and key and (day := e.parse(raw)) is not None and (key not in found or day < found[key]):
        found[key] = day


def _employees(
    plan: Plan, mapping: Mapping, tables: dict[str, Table], scanned: dict[Earliest, dict[str, dt.date]]
) -> None:
    by_key: dict[str, Planned] = {}
    emails: dict[str, Planned] = {}  # two people with one e-mail: the API refuses the second
    indexes = {
        e: scanned[e] if e in scanned else _earliest_index(tables[e.file].rows, e)
        for p in mapping.people
        for e in p.earliest.values()
    }
    for row in _rows(plan, "employees", tables, mapping.employees_file):
        for spec in mapping.people:
            notes: list[str] = []
            try:
                values = _values(spec.fields, row, notes)
                unit = values.pop("org_unit")
                if unit not in plan.org_paths:
                    raise RowError(f"org unit {unit!r} is not among the imported units")
                body = {k: v for k, v in values.items() if v is not None}
                body["org_unit_path"] = plan.org_paths[unit]
                for name, e in spec.earliest.items():
                    day = indexes[e].get((row.values.get(e.match) or "").strip())
                    if day:
                        body[name] = (day + dt.timedelta(days=mapping.shift_days)).isoformat()
            except (RowError, ValueError) as exc:
                plan.reject("employees", row, None, str(exc))
                break
            key = body["external_id"]
            email = str(body.get("email") or "").lower()
            other = emails.get(email)
            if email and other is not None and other.key != key:
                plan.reject(
                    "employees", row, key, f"e-mail {email} is also {other.key!r}'s (line {other.sources[0].line})"
                )
                break
            if key in by_key:
                if by_key[key].body != body:
                    plan.reject("employees", row, key, _differs(key, by_key[key]))
                    break
                by_key[key].sources.append(Source(row.file, row.line))
            else:
                by_key[key] = Planned(key, body, [Source(row.file, row.line)])
                if email:
                    emails[email] = by_key[key]
                _add_notes(plan, "employees", row, notes)
    plan.employees = list(by_key.values())


def _accounts(plan: Plan, mapping: Mapping, tables: dict[str, Table]) -> None:
    seen: dict[str, Planned] = {}
    org_path = plan.org_paths.get(mapping.accounts_org_unit or "")
    for row in _rows(plan, "accounts", tables, mapping.accounts_file):
        notes: list[str] = []
        try:
            values = _values(mapping.account_fields, row, notes)
        except RowError as exc:
            plan.reject("accounts", row, None, str(exc))
            continue
        key = values.get("external_id")
        if not key or not values.get("name"):
            plan.reject("accounts", row, key, "external_id and name are required")
            continue
        if key in seen:
            plan.reject("accounts", row, key, _duplicate(seen[key], "external id"))
            continue
        body = {k: v for k, v in values.items() if v is not None and k != "annual_revenue"}
        if values.get("annual_revenue") is not None:
            body["annual_revenue"] = {"amount": str(values["annual_revenue"]), "currency": mapping.currency}
        if org_path:
            body["org_unit_path"] = org_path
        seen[key] = Planned(
            key,
            body,
            [Source(row.file, row.line)],
            {"size_band": size_band(values.get("employees"), mapping.size_bands)},
        )
        _add_notes(plan, "accounts", row, notes)
    # A parent that is not planned (not in the file, or itself rejected for its parent): the API would
    # refuse the row too; say which row and why, here. A row rejected as a duplicate leaves its
    # first row planned: its key is not among these.
    unplanned: set[str] = set()
    changed = True
    while changed:
        changed = False
        for p in seen.values():
            parent = p.body.get("parent_external_id")
            if p.key in unplanned or not parent or (parent in seen and parent not in unplanned):
                continue
            src = p.sources[0]
            why = f"parent {parent!r} is not in {src.file}" if parent not in seen else f"parent {parent!r} was rejected"
            plan.rejections.append(Rejection("accounts", src, p.key, why))
            unplanned.add(p.key)
            changed = True
    plan.accounts = [p for p in seen.values() if p.key not in unplanned]


def _duplicate(first: Planned, what: str) -> str:
    """Why a row whose key an earlier row already has is rejected: the earlier one is the record."""
    return f"duplicate of line {first.sources[0].line} (the same {what} {first.key!r}, imported from that line)"


def _differs(key: str, first: Planned) -> str:
    """Why a row that defines a record another row defined otherwise is rejected (the same record
    named on many rows, e.g. a manager on each of the team's rows, is one record)."""
    line = first.sources[0].line if first.sources else 0
    where = f"on line {line}" if line else "in the mapping's fixed units"
    return f"{key!r} is defined differently {where} (a duplicate external id; that definition is imported)"


def size_band(employees: int | None, bands: list[tuple[int | None, str]]) -> str | None:
    if employees is None:
        return None
    for limit, band in bands:
        if limit is None or employees < limit:
            return band
    return None


def _solutions(plan: Plan, mapping: Mapping, tables: dict[str, Table]) -> None:
    seen: dict[str, Planned] = {}
    for row in _rows(plan, "solutions", tables, mapping.solutions_file):
        notes: list[str] = []
        try:
            values = _values(mapping.solution_fields, row, notes)
        except RowError as exc:
            plan.reject("solutions", row, None, str(exc))
            continue
        name = values.get("name")
        if not name:
            plan.reject("solutions", row, None, "name is required")
            continue
        if name in seen:
            plan.reject("solutions", row, name, _duplicate(seen[name], "name"))
            continue
        body = {k: v for k, v in values.items() if v is not None and k != "list_price"}
        if values.get("list_price") is not None:
            body["list_price"] = {"amount": str(values["list_price"]), "currency": mapping.currency}
        seen[name] = Planned(name, body, [Source(row.file, row.line)], {"list_price": values.get("list_price")})
        _add_notes(plan, "solutions", row, notes)
    plan.solutions = list(seen.values())


OUTCOMES = ("won", "lost")


def _opportunities(plan: Plan, mapping: Mapping, tables: dict[str, Table]) -> None:
    rows = _rows(plan, "opportunities", tables, mapping.opportunities_file)
    date_fields = [f for c, f in mapping.opportunity_fields.items() if c in ("engaged_on", "closed_on")]
    plan.data_end = max((d for r in rows for f in date_fields if (d := _date(f, r))), default=None)
    plan.opportunities = list(_plan_deals(plan, mapping, rows, None))


def _plan_deals(
    plan: Plan, mapping: Mapping, rows: abc.Iterable[Row], candidates: set[int] | None
) -> Iterator[Planned]:
    """Each row planned as a deal, in order, or rejected (`plan.rejections`), its notes in `plan.notes`.
    A row whose key an earlier planned row has is a duplicate; `candidates`: the hashes of the only
    keys that can be (`Scan.repeated`), the rest are not remembered (None: every key is)."""
    people = {p.key: p for p in plan.employees}
    accounts = {p.key: p for p in plan.accounts}
    rejected_accounts = {r.key for r in plan.rejections if r.entity == "accounts"}
    solutions = {p.key: p for p in plan.solutions}
    seen: dict[str, Planned] = {}
    money: dict[tuple[Decimal, str], dict[str, str]] = {}
    for row in rows:
        notes: list[str] = []
        try:
            p = _opportunity(mapping, row, notes, people, accounts, rejected_accounts, solutions, money)
        except RowError as exc:
            plan.reject("opportunities", row, _key(mapping, row), str(exc))
            continue
        if p.key in seen:
            plan.reject("opportunities", row, p.key, _duplicate(seen[p.key], "external id"))
            continue
        if mapping.facts and p.extra["owner"] and p.extra["engaged_on"] is None and plan.data_end:
            notes.append(
                f"no engage date on a {p.body['stage']} deal: counted open from the last date in the data "
                f"({plan.data_end.isoformat()}) for stage evaluation"
            )
        if candidates is None or (candidates and _hash(p.key) in candidates):
            seen[p.key] = Planned(p.key, {}, p.sources)  # its first line is all a duplicate names
        _add_notes(plan, "opportunities", p.sources[0], notes)
        yield p


def _hash(key: str) -> int:
    """A key's 64-bit digest (the same in every process: a first pass and the next agree)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little", signed=True)


@dataclass
class Scan:
    """What a first pass over a large opportunities file finds without keeping its rows: the rows
    read and the broken ones, the last date (`Plan.data_end`), the `earliest_in` dates the people
    take from it, and the hashes of the keys more than one row has."""

    table: Table
    path: Path | None
    data_end: dt.date | None
    earliest: dict[Earliest, dict[str, dt.date]]
    repeated: set[int]


def scan(mapping: Mapping, path: Path) -> Scan:
    """A first pass over the opportunities file at `path` (`Scan`): a CSV file is read again for the
    plan (`DealStream`), an .xlsx is held whole (its reader reads a whole sheet)."""
    name = mapping.opportunities_file or ""
    date_fields = [f for c, f in mapping.opportunity_fields.items() if c in ("engaged_on", "closed_on")]
    earliest = {e: {} for p in mapping.people for e in p.earliest.values() if e.file == name}
    ends: list[dt.date] = []
    hashes = array.array("q")
    key_field = mapping.opportunity_fields.get("external_id")

    def visit(row: Row) -> None:
        for e, found in earliest.items():
            _earliest_add(found, row, e)
        for f in date_fields:
            if (day := _date(f, row)) is not None and (not ends or day > ends[0]):
                ends[:] = [day]
        if key_field is not None:
            try:
                key = key_field.evaluate(row.values, [])
            except RowError:
                return
            if key:
                hashes.append(_hash(key))

    options = mapping.file_options.get(name)
    if schema.is_sheet(name):
        table = read_table(path, options)
        for row in table.rows:
            visit(row)
        at: Path | None = None
    else:
        o = options or FileOptions()
        table = scan_csv(name, path.read_bytes(), encoding=o.encoding, delimiter=o.delimiter, visit=visit)
        at = path
    ordered = sorted(hashes)
    repeated = {h for h, after in itertools.pairwise(ordered) if h == after}
    return Scan(table, at, ends[0] if ends else None, earliest, repeated)


class DealStream:
    """The opportunities of a large file, planned as they are read: `batches` reads the file again
    and hands out the planned deals a batch at a time, the rows' rejections and notes going to the
    plan as they are met. Only a batch is held, and a key only where another row may repeat it."""

    def __init__(self, plan: Plan, mapping: Mapping, scanned: Scan) -> None:
        self.plan, self.mapping, self.scanned = plan, mapping, scanned
        self.rows = scanned.table.read
        self.planned = 0
        self.done = False

    def _rows(self) -> Iterator[Row]:
        s = self.scanned
        return iter_csv(s.path, s.table) if s.path is not None else iter(s.table.rows)

    def batches(self, size: int) -> Iterator[tuple[int, list[Planned]]]:
        """(rows read, the deals planned from them) a batch of `size` rows at a time, once: the rows'
        rejections and notes go to the plan. Read to the end (`finish`), every row is accounted for."""
        if self.done:
            return
        self.done = True
        batch: list[Planned] = []
        read = 0
        for p in _plan_deals(self.plan, self.mapping, self._counted(), self.scanned.repeated):
            batch.append(p)
            self.planned += 1
            if len(batch) == size:
                yield self._read - read, batch
                read, batch = self._read, []
        if batch or self._read > read:
            yield self._read - read, batch

    def _counted(self) -> Iterator[Row]:
        self._read = 0
        for row in self._rows():
            self._read += 1
            yield row

    def all(self) -> Iterator[Planned]:
        """Every deal planned again on a plan of its own (no rejections or notes kept): for what needs
        them all before any is sent (the dates' bounds, a stored offset)."""
        scratch = Plan(employees=self.plan.employees, accounts=self.plan.accounts, solutions=self.plan.solutions)
        scratch.rejections = [r for r in self.plan.rejections if r.entity == "accounts"]
        scratch.data_end = self.plan.data_end
        scratch.notes = _Discard()
        return _plan_deals(scratch, self.mapping, self._rows(), self.scanned.repeated)


class _Discard(NoteLog):
    def append(self, note: Note) -> None:
        pass


def stream_plan(mapping: Mapping, data_dir: Path) -> Plan:
    """The plan of the reference data (read whole) and a `DealStream` of the opportunities, after a
    first pass over their file (`scan`); a file another target reads too is planned whole."""
    from sanlun.importer.readers import read_tables

    name = mapping.opportunities_file
    whole = (mapping.org_file, mapping.employees_file, mapping.accounts_file, mapping.solutions_file)
    if name is None or name in whole:
        return build_plan(mapping, read_tables(mapping, data_dir))
    found: list[Scan] = []

    def first_pass(path: Path) -> Table:
        found.append(scan(mapping, path))
        return found[0].table

    tables = read_tables(mapping, data_dir, first_pass={name: first_pass})
    scanned = found[0]
    plan = _reference_plan(mapping, tables, scanned)
    table = scanned.table
    plan.rows_read["opportunities"] = table.read + len(table.broken)
    for line, reason in table.broken:
        plan.rejections.append(Rejection("opportunities", Source(name, line), None, reason))
    plan.data_end = scanned.data_end
    plan.deals = DealStream(plan, mapping, scanned)
    return plan


def _date(f: Field, row: Row) -> dt.date | None:
    try:
        return f.evaluate(row.values, [])
    except RowError:
        return None


def _key(mapping: Mapping, row: Row) -> str | None:
    try:
        return mapping.opportunity_fields["external_id"].evaluate(row.values, [])
    except RowError:
        return None


def _opportunity(
    mapping: Mapping,
    row: Row,
    notes: list[str],
    people: dict[str, Planned],
    accounts: dict[str, Planned],
    rejected_accounts: set[str | None],
    solutions: dict[str, Planned],
    money: dict[tuple[Decimal, str], dict[str, str]],
) -> Planned:
    v = _values(mapping.opportunity_fields, row, notes)
    key = v.get("external_id")
    if not key:
        raise RowError("external_id is empty")
    stage = v.get("stage") or "lead"
    owner = v.get("owner")
    if owner is not None and owner not in people:
        raise RowError(f"owner {owner!r} is not among the imported employees")
    account = v.get("account")
    if account is not None and account not in accounts:
        why = "was rejected" if account in rejected_accounts else "is not among the imported accounts"
        raise RowError(f"account {account!r} {why}")
    if account is None and "account" in mapping.opportunity_fields:
        notes.append("no account: imported without one (no industry or size band)")
    solution = v.get("solution")
    if solution is not None and solution not in solutions:
        raise RowError(f"solution {solution!r} is not in the solutions file")
    amount: Decimal | None = v.get("amount")
    price = solutions[solution].extra["list_price"] if solution else None
    when = mapping.list_price_when
    if price is not None and ((amount is None and "empty" in when) or (amount == 0 and "zero" in when)):
        why = "no value" if amount is None else "value 0"
        notes.append(f"{why} on a {stage} deal: amount set to the solution's list price")
        amount = price
    closed_on = v.get("closed_on")
    if stage in OUTCOMES and closed_on is None:
        raise RowError(f"a {stage} deal needs its close date")
    if stage == "won" and amount is None:
        raise RowError("a won deal needs its amount")
    if stage not in OUTCOMES and closed_on is not None:
        notes.append(f"close date on an open ({stage}) deal ignored")
        closed_on = None
    acc = accounts.get(account) if account else None
    body = KeyedTuple(
        _DEAL_BODY,
        (
            key,
            v.get("name") or key,
            stage,
            _money(money, amount, mapping.currency) if amount is not None else None,
            sys.intern(closed_on.isoformat()) if closed_on else None,
            acc.body.get("industry") if acc else None,
            acc.extra.get("size_band") if acc else None,
            mapping.source,
        ),
    )
    extra = KeyedTuple(_DEAL_EXTRA, (owner, account, solution, v.get("engaged_on"), closed_on, amount))
    return Planned(key, body, [Source(row.file, row.line)], extra)


# A planned opportunity's body (`Planned.body`, in this order) and what it carries besides
# (`Planned.extra`): one index for all the deals.
_DEAL_BODY = {
    name: i
    for i, name in enumerate(("external_id", "name", "stage", "amount", "closed_on", "industry", "size_band", "source"))
}
_DEAL_EXTRA = {name: i for i, name in enumerate(("owner", "account", "solution", "engaged_on", "closed_on", "amount"))}


def _money(cache: dict[tuple[Decimal, str], dict[str, str]], amount: Decimal, currency: str) -> dict[str, str]:
    """`{"amount": "1054.00", "currency": "USD"}`, one dict for all the deals of that amount (never
    changed: bodies are copied shallow and sent)."""
    found = cache.get((amount, currency))
    if found is None:
        found = cache[(amount, currency)] = {"amount": str(amount), "currency": currency}
    return found
