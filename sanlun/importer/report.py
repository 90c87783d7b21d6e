"""The import report: per entity created / updated / unchanged / rejected, every
rejection with file, line and reason, every conflict the server's merge kept
(field, CRM value, file value), every normalisation, and the accounting of
every input row."""

from __future__ import annotations

import collections
import csv
import json
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sanlun.importer.dates import DateShift
from sanlun.importer.plan import Note, Plan, Rejection, Source
from sanlun.importer.readers import Table

ENTITIES = ("org_units", "employees", "accounts", "solutions", "opportunities")
SPOOLED = "opportunities"  # the entity whose outcomes are spooled (`Report.record`), not kept
STATUSES = ("created", "updated", "unchanged", "rejected")
WIDTHS = (9, 9, 11, 10)  # of the STATUSES columns in the summary table
_FED, _REJECTED = 1, 2  # what `Report.row_accounting` marks a line with


@dataclass(slots=True)
class Outcome:
    entity: str
    key: str
    status: str
    sources: list[Source]
    id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field changed both in the CRM (since this source's last import) and in the
    file: the server kept the CRM's value (`import_conflict`). `crm` and `file` as the
    server's message shows them (JSON values; a long one cut, as text)."""

    entity: str
    key: str
    field: str
    crm: Any
    file: Any
    source: Source | None


@dataclass
class Report:
    mapping: str
    target: str
    run_id: str
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    server_notes: list[Note] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=lambda: {"sent": 0, "inserted": 0, "duplicates": 0})
    interrupted: str | None = None
    date_shift: DateShift | None = None
    conflicts: list[Conflict] = field(default_factory=list)
    dry_run: bool = False
    # Per entity and status, the records the server answered for; per entity and file, a flag byte
    # per line (`_FED`, `_REJECTED`). The outcomes of the opportunities (a large file's) are not
    # kept but for the rejected ones: the rest go to a spool file, read back for the JSON report.
    _counts: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    _lines: dict[str, dict[str, bytearray]] = field(default_factory=lambda: collections.defaultdict(dict))
    _spool: Any = None

    def record(
        self,
        entity: str,
        key: str,
        status: str,
        sources: list[Source],
        *,
        id: str | None = None,
        reason: str | None = None,
    ) -> None:
        self._counts[entity][status] += 1
        for s in sources:
            if s.line:
                self._mark(entity, s, _FED | (_REJECTED if status == "rejected" else 0))
        if entity != SPOOLED:
            self.outcomes.append(Outcome(entity, key, status, sources, id, reason))
            return
        if status == "rejected":
            self.outcomes.append(Outcome(entity, key, status, sources, id, reason))
        if self._spool is None:
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed with the report)
            weakref.finalize(self, self._spool.close)
        self._spool.write(json.dumps([key, status, [[s.file, s.line] for s in sources], id, reason]) + "\n")

    def _mark(self, entity: str, source: Source, flag: int) -> None:
        flags = self._lines[entity].get(source.file)
        if flags is None:
            flags = self._lines[entity][source.file] = bytearray()
        if source.line >= len(flags):
            flags.extend(bytes(source.line + 1 - len(flags)))
        flags[source.line] |= flag

    def records(self) -> Iterator[Outcome]:
        """Every record the server answered for, in order (the opportunities' read back from the spool)."""
        yield from (o for o in self.outcomes if o.entity != SPOOLED)
        if self._spool is None:
            return
        self._spool.flush()
        self._spool.seek(0)
        for line in self._spool:
            key, status, sources, id, reason = json.loads(line)
            yield Outcome(SPOOLED, key, status, [Source(f, n) for f, n in sources], id, reason)
        self._spool.seek(0, 2)

    @property
    def rejections(self) -> list[Rejection]:
        late = [
            Rejection(o.entity, s, o.key, o.reason or "rejected")
            for o in self.outcomes
            if o.status == "rejected"
            for s in (o.sources or [Source("-", 0)])
        ]
        return self.plan.rejections + late

    def counts(self) -> dict[str, dict[str, int]]:
        out = {e: dict.fromkeys(STATUSES, 0) for e in ENTITIES}
        for entity, counted in self._counts.items():
            for status, n in counted.items():
                out[entity][status] += n
        for r in self.plan.rejections:
            out[r.entity]["rejected"] += 1
        return out

    def row_accounting(self) -> dict[str, dict[str, int]]:
        """Per entity: rows read, rows stored (every record they feed is stored), rows rejected."""
        # A flag byte per line of each file, not a set of (file, line): a large file's set would take
        # megabytes at the end of the run, when the importer's memory is at its highest.
        for r in self.plan.rejections:
            self._mark(r.entity, r.source, _REJECTED)
        lines = self._lines
        return {
            e: {
                "read": n,
                "stored": sum(f.count(_FED) for f in lines[e].values()),
                "rejected": sum(f.count(_REJECTED) + f.count(_FED | _REJECTED) for f in lines[e].values()),
            }
            for e, n in self.plan.rows_read.items()
        }

    def notes(self) -> list[Note]:
        return [*self.plan.notes, *self.plan.sent_notes, *self.server_notes]

    def _all_notes(self) -> Iterator[Note]:
        yield from self.plan.notes
        yield from self.plan.sent_notes
        yield from self.server_notes

    def complete(self) -> bool:
        return self.interrupted is None and all(
            a["read"] == a["stored"] + a["rejected"] for a in self.row_accounting().values()
        )

    def changed(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts().values()) + self.facts["inserted"]

    def text(self, *, examples: int = 3, max_rejections: int = 50) -> str:
        lines = [f"Import {self.mapping!r} into {self.target} (run {self.run_id})", ""]
        if self.dry_run:
            lines += ["DRY RUN: nothing was written; the counts say what an import would do.", ""]
        if self.date_shift is not None:
            lines += [f"Dates {self.date_shift.text()}", ""]
        lines.append(f"{'':16}{'created':>9}{'updated':>9}{'unchanged':>11}{'rejected':>10}")
        for entity, c in self.counts().items():
            lines.append(
                f"{entity.replace('_', ' '):16}"
                + "".join(f"{c[s]:>{w}}" for s, w in zip(STATUSES, WIDTHS, strict=True))
            )
        f = self.facts
        lines.append(
            f"{'lifecycle facts':16}{f['inserted']:>9}{'':>9}{f['duplicates']:>11}{'':>10}"
            f"   ({f['sent']} sent to the back-fill; known ones are skipped)"
        )
        lines += ["", "Every row accounted for:"]
        for entity, a in self.row_accounting().items():
            ok = "ok" if a["read"] == a["stored"] + a["rejected"] else "MISSING ROWS"
            lines.append(
                f"  {entity.replace('_', ' '):14} {a['read']:>6} rows read = {a['stored']} imported "
                f"+ {a['rejected']} rejected   {ok}"
            )
        # Per (entity, message): the notes, their count and the first `examples` of them (not every
        # note: a large file's would all be objects at once).
        grouped: dict[tuple[str, str], tuple[list[int], list[Note]]] = {}
        for n in self._all_notes():
            tally, first = grouped.setdefault((n.entity, n.message), ([0, 0], []))
            tally[0] += 1
            tally[1] += n.count
            if len(first) < examples:
                first.append(n)
        if grouped:
            lines += ["", "Normalisations applied:"]
            for (entity, message), ((many, count), notes) in sorted(
                grouped.items(), key=lambda kv: (kv[0][0], -kv[1][0][0])
            ):
                where = ", ".join(
                    f"{n.source.file}:{n.source.line}"
                    if n.source and n.source.line
                    else (n.source.file if n.source else "-")
                    for n in notes
                )
                more = f", +{many - examples} more" if many > examples else ""
                lines.append(f"  {count:>6} x {entity:13} {message}   [{where}{more}]")
        lines += self._conflict_lines(max_rejections)
        rejections = self.rejections
        lines += ["", f"Rejected rows: {len(rejections)}"]
        for r in rejections[:max_rejections]:
            lines.append(f"  {r.source.file}:{r.source.line}  {r.entity}  {r.key or '-'}: {r.reason}")
        if len(rejections) > max_rejections:
            lines.append(f"  ... {len(rejections) - max_rejections} more in the JSON report (--report-json)")
        if self.interrupted:
            lines += [
                "",
                (
                    f"INTERRUPTED: {self.interrupted}. Run the same command again to finish; "
                    "what is already stored is left as it is."
                ),
            ]
        return "\n".join(lines)

    def _conflict_lines(self, most: int) -> list[str]:
        if not self.conflicts:
            return []
        lines = [
            "",
            (
                f"Conflicts: {len(self.conflicts)} (changed in the CRM since the last import and in the file; "
                "the CRM's value was kept)"
            ),
        ]
        for c in self.conflicts[:most]:
            where = f"{c.source.file}:{c.source.line}" if c.source else "-"
            crm, file = (_shown(v) for v in (c.crm, c.file))
            lines.append(f"  {where}  {c.entity}  {c.key}  {c.field}: CRM {crm}, file {file}")
        if len(self.conflicts) > most:
            lines.append(f"  ... {len(self.conflicts) - most} more in the JSON report (--report-json)")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "mapping": self.mapping,
            "target": self.target,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "date_shift": self.date_shift.as_json() if self.date_shift else None,
            "counts": self.counts(),
            "facts": self.facts,
            "rows": self.row_accounting(),
            "rejections": [asdict(r) for r in self.rejections],
            "conflicts": [asdict(c) for c in self.conflicts],
            "normalisations": [asdict(n) for n in self.notes()],
            "records": [asdict(o) for o in self.records()],
        }

    def rows_rejected(self) -> int:
        """Input rows rejected (a row feeding several records counts once)."""
        return sum(a["rejected"] for a in self.row_accounting().values())

    def rows_read(self) -> int:
        return sum(self.plan.rows_read.values())

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.as_json(), f, indent=1, default=str)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) and value.endswith("…") else json.dumps(value, ensure_ascii=False)


REASON_COLUMN = "reason"


def rejected_lines(report: Report) -> dict[str, dict[int, list[str]]]:
    """Per source file, each rejected line's reasons (a line feeding several records
    may be rejected for several), in line order."""
    out: dict[str, dict[int, list[str]]] = collections.defaultdict(dict)
    for r in report.rejections:
        if r.source.line:
            reasons = out[r.source.file].setdefault(r.source.line, [])
            if r.reason not in reasons:
                reasons.append(r.reason)
    return {f: dict(sorted(lines.items())) for f, lines in out.items()}


def errors_paths(path: Path, files: list[str]) -> dict[str, Path]:
    """Where the rejected rows of each file go: `path` itself when one file has
    rejected rows, else `path` with the file's name added (errors.accounts.csv)."""
    if len(files) == 1:
        return {files[0]: path}
    return {f: path.with_name(f"{path.stem}.{Path(f).stem}{path.suffix or '.csv'}") for f in files}


def write_errors(report: Report, tables: dict[str, Table], path: Path) -> list[Path]:
    """Write the rejected rows with their original columns and a `reason` column, one
    CSV per source file with rejections (`errors_paths`), in that file's delimiter and
    encoding where the reader says them: fixed, such a file replaces its source file
    for a re-import. A line that could not be read as a row has its values as read,
    where the reader kept them, else empty columns and the reason. Answers the paths."""
    lines = rejected_lines(report)
    written = []
    for name, target in errors_paths(path, sorted(lines)).items():
        table = tables[name]
        by_line = {row.line: row for row in table.rows}
        raw = {b[0]: b[2] for b in table.broken if len(b) > 2}  # type: ignore[misc]
        columns = list(table.columns)
        header = [*columns, REASON_COLUMN if REASON_COLUMN not in columns else f"{REASON_COLUMN}_"]
        encoding = getattr(table, "encoding", None) or "utf-8"
        with target.open("w", newline="", encoding=encoding, errors="replace") as f:
            writer = csv.writer(f, delimiter=getattr(table, "delimiter", None) or ",")
            writer.writerow(header)
            for line, reasons in lines[name].items():
                row = by_line.get(line)
                if row is not None:
                    values = [row.values.get(c, "") for c in columns]
                else:
                    values = list(raw.get(line, []))[: len(columns)]
                    values += [""] * (len(columns) - len(values))
                writer.writerow([*values, f"line {line}: " + "; ".join(reasons)])
        written.append(target)
    return written
