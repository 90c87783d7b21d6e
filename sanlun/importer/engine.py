"""The import run: plan from the files, send every planned record to its
collection's bulk upsert with the mapping's name as the `source`, and report
every row.

The server decides what changes (`sanlun.kernel.bulk`, three-way merge in
`sanlun.kernel.baselines`): a record the file says as this source last sent it
is `unchanged` (not written); a field only the file changed is applied; a field
changed in the CRM since the last import keeps the CRM's value, and when the
file changed it too the row's report has an `import_conflict` (the report lists
each, with both values). So the importer reads nothing to compare: a re-import
costs what the file costs, not what the target holds. A closed deal is never
reopened by an import unless asked (`reopen_reason`, `--reopen-closed`).

First the data clock (`--shift-dates-to`): the offset every date moves by,
computed from the data on a first import and read back from the records the
file names already stored on a re-run or a resume (its people, found in the
units the file defines; else a sample of its deals, found by their owners), so
dates never move twice.

Then, in order: org units, employees (managers by external id), accounts
(parents by external id, parents first), solutions (the catalogue of the
organisation the mapping's units belong to), opportunities; the lifecycle facts
of each batch of opportunities go to the back-fill as its ids come back. Each
batch is one transaction on the server, so an interrupted run leaves whole
batches; the next run sends everything again and the server writes only what is
still missing or different.

A dry run (`dry_run`) sends every batch with `dry_run: true` (the server checks
and rolls back; no `Idempotency-Key`, which it would store) and no facts; a row
referring to a record this very run would create first (a new org unit, owner,
account, parent or solution) cannot be checked by the server and is counted as
created, with a note saying so.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sanlun.importer.client import ApiClient, ApiError
from sanlun.importer.dates import DateShift, as_date, bounds, bounds_of, check_range, date_fields, offset_to
from sanlun.importer.mapping import Mapping
from sanlun.importer.plan import Note, Plan, Planned, stream_plan
from sanlun.importer.progress import Progress
from sanlun.importer.report import Conflict, Report

BATCH = 1000  # the most a bulk call takes (sanlun.kernel.bulk.MAX_ITEMS)
FACTS_BATCH = 2000
OFFSET_SAMPLE = 2000  # stored deals read at most to learn the date offset (when the people carry no date)
CONFLICT = "import_conflict"  # sanlun.kernel.baselines.CONFLICT
ILLEGAL_STAGE = "illegal_stage_transition"
_CONFLICT_VALUES = re.compile(r"\(CRM: (?P<crm>.*?), file: (?P<file>.*)\); the CRM value was kept$", re.DOTALL)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def organization_of(path: str) -> str:
    """The organisation an org unit path belongs to, as `sanlun.kernel.auth.organization_of` says."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) if parts else "/"


def common_root(paths: Iterable[str]) -> str:
    """The deepest org unit path all `paths` are within (`/` when they share none)."""
    common: list[str] | None = None
    for path in paths:
        parts = [p for p in path.split("/") if p]
        if common is None:
            common = parts
            continue
        n = 0
        while n < min(len(common), len(parts)) and common[n] == parts[n]:
            n += 1
        common = common[:n]
    return "/" + "/".join(common or [])


def conflict_values(warning: dict[str, Any]) -> tuple[Any, Any]:
    """The CRM's and the file's value of an `import_conflict` warning: whole from its
    `conflict` object; from a server without it, as the message shows them (JSON; a value
    the server cut short stays text)."""
    if isinstance(both := warning.get("conflict"), dict):
        return both.get("crm"), both.get("file")
    m = _CONFLICT_VALUES.search(warning.get("msg", ""))
    if m is None:
        return None, None
    return _json(m.group("crm")), _json(m.group("file"))


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True, slots=True)
class Waiting:
    """A dry run's row that names a record the run would create first: which of its references."""

    kind: str


class Importer:
    def __init__(
        self,
        *,
        mapping: Mapping,
        data_dir: Path,
        client: ApiClient,
        progress: Progress,
        target: str,
        leave_unassigned: frozenset[str] = frozenset(),
        batch_size: int = BATCH,
        after_batch: Callable[[str, int], None] | None = None,
        shift_dates_to: dt.date | None = None,
        keep_weekdays: bool = False,
        dry_run: bool = False,
        reopen_reason: str | None = None,
    ) -> None:
        self.mapping, self.client, self.progress = mapping, client, progress
        self.data_dir = data_dir
        # The plan as the files say; `dates()` builds it again with the offset, if there is one. The
        # opportunities are planned batch by batch as they are sent (`Plan.deals`): a large file's
        # deals are never all in memory.
        self.plan: Plan = stream_plan(mapping, data_dir)
        self.report = Report(mapping.name, target, client.run_id, self.plan, dry_run=dry_run)
        self.shift_dates_to, self.keep_weekdays = shift_dates_to, keep_weekdays
        self.leave_unassigned = leave_unassigned
        self.batch_size = batch_size
        self.dry_run, self.reopen_reason = dry_run, reopen_reason
        self.after_batch = after_batch or (lambda entity, n: None)
        # The ids later records refer to (a deal's id goes straight to its facts: none kept per deal).
        self.ids: dict[str, dict[str, str]] = {e: {} for e in ("employees", "accounts", "solutions")}
        # A dry run's records that would be created (no id yet): what later rows cannot be checked against.
        self.pending: dict[str, set[str]] = collections.defaultdict(set)
        self._facts: list[dict[str, Any]] = []
        self._deals: Iterator[tuple[int, list[Planned]]] | None = None

    def run(self) -> Report:
        try:
            self.dates()
            self.org_units()
            self.employees()
            self.accounts()
            self.solutions()
            self.opportunities()
        except (ApiError, OSError, KeyboardInterrupt) as exc:
            self.report.interrupted = f"{type(exc).__name__}: {exc}"
            self._plan_the_rest()
            raise
        return self.report

    def _plan_the_rest(self) -> None:
        """After an interruption, the deals not sent yet planned (not sent): the report still has
        every row the plan rejects, as when the whole file was planned first."""
        if self.plan.deals is None:
            return
        try:
            for _ in self._deals or self.plan.deals.batches(self.batch_size):
                pass
        except (OSError, ValueError):
            pass

    # -- the data clock ------------------------------------------------------------------------------

    def dates(self) -> None:
        """Fix the offset of every date, then plan again from the moved dates.

        A data set already (partly) in the target keeps the offset its records
        were stored with, whatever `shift_dates_to` asks today: a re-run or a
        resume must leave them where they are, and facts already back-filled
        cannot move. Otherwise the offset makes the last date the day before
        `shift_dates_to`."""
        span = bounds(self.plan, self.mapping)
        # A streamed file's deals are planned once more for their dates only where those are needed:
        # to tell whether there is a date at all, and for the offset's bounds.
        deals = self.plan.deals
        if span is None and deals is not None:
            span, deals = bounds_of(deals.all(), date_fields(self.mapping)), None
        if span is None:
            return
        stored = self._stored_offset()
        if self.shift_dates_to is None and not stored:
            return
        if deals is not None and (more := bounds_of(deals.all(), date_fields(self.mapping))) is not None:
            span = (min(span[0], more[0]), max(span[1], more[1]))
        first, last = span
        if stored is not None:
            shift = DateShift(stored, first, last, "stored", self.shift_dates_to)
        elif self.shift_dates_to is not None:
            days = offset_to(last, self.shift_dates_to, keep_weekdays=self.keep_weekdays)
            shift = DateShift(days, first, last, "computed", self.shift_dates_to)
        else:
            return
        check_range(first, last, shift.days)
        self.report.date_shift = shift
        if shift.days:
            self.mapping = self.mapping.shifted(shift.days)
            # The unshifted plan goes first: two plans of a large file at once would not fit in memory.
            self.plan = self.report.plan = Plan()
            self.plan = self.report.plan = stream_plan(self.mapping, self.data_dir)

    def _stored_offset(self) -> int | None:
        """How far the records of this data set already in the target were moved:
        stored date minus file date, by external id. Only what the file names is
        read: its people (listed within the units they are planned in, one
        listing of their common unit), then, if their records carry no date, at
        most `OFFSET_SAMPLE` of its deals (listed by the file's owners). None when
        none is stored yet."""
        names = date_fields(self.mapping)
        if not names or not self.plan.employees:
            return None
        people = {p.key: p for p in self.plan.employees}
        root = common_root(p.body["org_unit_path"] for p in self.plan.employees)
        deltas: collections.Counter[int] = collections.Counter()
        stored_people: dict[str, str] = {}
        for record in self.client.get_all("/api/v1/employees", {"org_unit": root} if root != "/" else None):
            p = people.get(record.get("external_id"))  # type: ignore[arg-type]
            if p is not None:
                stored_people[p.key] = record["id"]
                _count(deltas, names, p.body, record)
        if deltas:
            return self._agreed("employees", deltas)
        if not stored_people:
            return None  # no deal of the file's can be stored either: none is read
        # A streamed file's deals planned again, those of owners already stored kept (this path, a
        # re-run whose people carry no date, holds them: the only one that does).
        planned = self.plan.deals.all() if self.plan.deals is not None else self.plan.opportunities
        deals = {p.key: p for p in planned if p.extra["owner"] in stored_people and names & p.body.keys()}
        seen = 0
        for owner in dict.fromkeys(p.extra["owner"] for p in deals.values()):
            for record in self.client.get_all("/api/v1/opportunities", {"owner_id": stored_people[owner]}):
                p = deals.get(record.get("external_id"))  # type: ignore[arg-type]
                if p is not None:
                    _count(deltas, names, p.body, record)
                    seen += 1
            if seen >= OFFSET_SAMPLE:
                break
        return self._agreed("opportunities", deltas) if deltas else None

    def _agreed(self, entity: str, deltas: collections.Counter[int]) -> int:
        days, agreeing = deltas.most_common(1)[0]
        if agreeing < deltas.total():
            message = (
                f"{deltas.total() - agreeing} stored dates differ from the file by another offset than "
                f"{days} days (edited since the import?); the import keeps {days} days"
            )
            self.report.server_notes.append(Note(entity, None, message))
        return days

    # -- the one bulk contract: POST /api/v1/<collection>:bulk-upsert {"items": [...]} ---------------

    def _bulk(
        self,
        entity: str,
        collection: str,
        batch: list[Planned],
        bodies: list[Any] | None = None,
        **request: Any,
    ) -> list[dict[str, Any]]:
        """Send one batch as a re-import from this mapping's source (`sanlun.kernel.bulk`)
        and record every row of the report: a row the server refuses is `rejected` with
        why, a field it kept against the file is a conflict. Answers the rows' results."""
        payload: dict[str, Any] = {
            "items": bodies if bodies is not None else [p.body for p in batch],
            "source": self.mapping.name,
            **request,
        }
        if self.dry_run:
            payload["dry_run"] = True
        answer = self.client.post(f"/api/v1/{collection}:bulk-upsert", payload, what=entity, dry_run=self.dry_run)
        results: list[dict[str, Any]] = answer["results"]
        for row in results:
            p = batch[row["index"]]
            status = "rejected" if row["status"] == "failed" else row["status"]
            errors = row.get("errors") or []
            reason = "; ".join(f"{_field(e.get('loc', []))}: {e.get('msg')}" for e in errors)
            if any(e.get("code") == ILLEGAL_STAGE for e in errors):
                reason += " (--reopen-closed REASON reopens closed deals)"
            self.report.record(entity, p.key, status, p.sources, id=row.get("id"), reason=reason or None)
            if row.get("id") and entity in self.ids:
                self.ids[entity][p.key] = row["id"]
            elif status == "created" and entity != "opportunities":
                # A dry run's: no id until it is written (no record names a deal: none kept for them).
                self.pending[entity].add(p.key)
            for w in row.get("warnings") or []:
                source = p.sources[0] if p.sources else None
                if w.get("code") == CONFLICT:
                    crm, file = conflict_values(w)
                    self.report.conflicts.append(Conflict(entity, p.key, _field(w.get("loc", [])), crm, file, source))
                else:
                    self.report.server_notes.append(Note(entity, source, f"(server) {w['msg']}"))
        self.after_batch(entity, len(batch))
        return results

    def _bulk_rows(self, entity: str, collection: str, planned: list[Planned], **request: Any) -> None:
        """Every planned record in batches; in a dry run, a record waiting for one this run
        would create first is not sent (`_waits`)."""
        self.progress.start(entity.replace("_", " "), len(planned))
        for batch in chunks(planned, self.batch_size):
            send = [p for p in batch if not self._waited(entity, p, self._waits(entity, p))]
            if send:
                self._bulk(entity, collection, send, **request)
            self.progress.advance(len(batch))
        self.progress.finish(self._summary(entity))

    def _waits(self, entity: str, p: Planned) -> Waiting | None:
        """In a dry run, what `p` names that this run would create first (None: nothing)."""
        if not self.dry_run:
            return None
        path = p.body.get("org_unit_path")
        if path is not None and path in {self.plan.org_paths.get(k) for k in self.pending["org_units"]}:
            return Waiting("org unit")
        for name in ("parent_external_id", "manager_external_id"):
            if (key := p.body.get(name)) is not None and key in self.pending[entity]:
                return Waiting(name.removesuffix("_external_id"))
        return None

    def _waited(self, entity: str, p: Planned, waits: Waiting | None) -> bool:
        if waits is None:
            return False
        self.report.record(entity, p.key, "created", p.sources)
        self.pending[entity].add(p.key)
        message = f"dry run: not checked by the server, it names the {waits.kind} this run would create"
        self.report.server_notes.append(Note(entity, p.sources[0] if p.sources else None, message))
        return True

    # -- org units, people, accounts (each bulk endpoint merges and says unchanged itself) -----------

    def org_units(self) -> None:
        if self.plan.org_units:
            self._bulk_rows("org_units", "org-units", self.plan.org_units)

    def employees(self) -> None:
        if self.plan.employees:
            self._bulk_rows("employees", "employees", self.plan.employees)

    def accounts(self) -> None:
        planned = {p.key: p for p in self.plan.accounts}
        if planned:
            # Parents first, so a batch never names a parent that a later batch creates.
            ordered = sorted(planned, key=lambda k: self._depth(k, planned))
            self._bulk_rows("accounts", "accounts", [planned[k] for k in ordered])

    @staticmethod
    def _depth(key: str, planned: dict[str, Planned]) -> int:
        depth, seen = 0, {key}
        while (parent := planned[key].body.get("parent_external_id")) in planned and parent not in seen:
            depth, key = depth + 1, parent
            seen.add(key)
        return depth

    # -- solutions: the catalogue of the organisation the mapping imports into ----------------------

    def organisation(self) -> str | None:
        """Whose catalogue the solutions go to: the organisation of the unit the accounts
        are imported into, else the one every imported unit below the group root belongs
        to; None (the caller's own) when the mapping names none."""
        paths = self.plan.org_paths
        if self.mapping.accounts_org_unit and self.mapping.accounts_org_unit in paths:
            return organization_of(paths[self.mapping.accounts_org_unit])
        organisations = {organization_of(p) for p in paths.values() if p.count("/") >= 2}
        return organisations.pop() if len(organisations) == 1 else None

    def solutions(self) -> None:
        if not self.plan.solutions:
            return
        organisation = self.organisation()
        if organisation is None:
            message = "no one organisation among the imported units: imported into the importer's own catalogue"
            self.report.server_notes.append(Note("solutions", None, message))
        # The catalogue's key is the solution's name (the plan's key).
        planned = [Planned(p.key, {"external_id": p.key, **p.body}, p.sources, p.extra) for p in self.plan.solutions]
        request = {"organization_path": organisation} if organisation else {}
        self._bulk_rows("solutions", "solutions", planned, **request)

    # -- opportunities ------------------------------------------------------------------------------

    def _resolve(self, p: Planned, people: dict[str, Planned]) -> dict[str, Any] | str | Waiting:
        """The API body with ids, the reason it cannot be sent (`people`: the planned employees
        by key), or (a dry run) what it names that the run would create first."""
        x = p.extra
        body = dict(p.body)
        for entity, kind in (("employees", "owner"), ("accounts", "account"), ("solutions", "solution")):
            if x[kind] and x[kind] in self.pending[entity]:
                return Waiting(kind)
        if x["owner"]:
            owner_id = self.ids["employees"].get(x["owner"])
            if owner_id is None:
                return f"owner {x['owner']!r} was not imported"
            body["org_unit_path"] = people[x["owner"]].body["org_unit_path"]
            body["owner_id"] = None if p.body["stage"] in self.leave_unassigned else owner_id
        else:
            body["owner_id"] = None
        if x["account"]:
            account_id = self.ids["accounts"].get(x["account"])
            if account_id is None:
                return f"account {x['account']!r} was not imported"
            body["account_id"] = account_id
        solution_ids = []
        if x["solution"]:
            solution_id = self.ids["solutions"].get(x["solution"])
            if solution_id is None:
                return f"solution {x['solution']!r} was not imported"
            solution_ids.append(solution_id)
        body["solution_ids"] = solution_ids
        body.setdefault("org_unit_path", self.plan.org_paths.get(self.mapping.accounts_org_unit or "", "/"))
        return body

    def opportunities(self) -> None:
        """Every planned deal, batch by batch (a streamed file's planned as it is read again; bodies
        made per batch: all of them at once would not fit a large file in memory); each batch's facts
        as its ids come back."""
        stream = self.plan.deals
        if stream is None and not self.plan.opportunities:
            return
        self.progress.start("opportunities", stream.rows if stream is not None else len(self.plan.opportunities))
        people = {e.key: e for e in self.plan.employees}
        request = {"reopen_reason": self.reopen_reason} if self.reopen_reason else {}
        if stream is not None:
            self._deals = stream.batches(self.batch_size)
        else:
            self._deals = ((len(b), b) for b in chunks(self.plan.opportunities, self.batch_size))
        for rows, batch in self._deals:
            send: list[Planned] = []
            bodies: list[dict[str, Any]] = []
            for p in batch:
                body = self._resolve(p, people)
                if isinstance(body, str):
                    self.report.record("opportunities", p.key, "rejected", p.sources, reason=body)
                elif isinstance(body, Waiting):
                    self._waited("opportunities", p, body)
                else:
                    if body.get("owner_id") is None and p.extra["owner"]:
                        self.plan.sent_notes.append(
                            Note(
                                "opportunities",
                                None,
                                f"{p.body['stage']} deal left unassigned for the assignment node "
                                "(asked with --leave-unassigned)",
                            )
                        )
                    send.append(p)
                    bodies.append(body)
            if send:
                results = self._bulk("opportunities", "opportunities", send, bodies=bodies, **request)
                del bodies
                if self.mapping.facts and not self.dry_run:
                    for row in results:
                        if row.get("id") and row["status"] != "failed":
                            self._facts += self._facts_of(send[row["index"]], row["id"])
                    self._send_facts(FACTS_BATCH)
            self.progress.advance(rows)
        if self._facts:
            self._send_facts(1)
        self.progress.finish(self._summary("opportunities"))
        if self.mapping.facts and not self.dry_run:
            f = self.report.facts
            self.progress.start("facts", f["sent"])
            self.progress.finish(f"{f['inserted']} inserted, {f['duplicates']} already there")

    # -- lifecycle facts: per batch of deals, as their ids come back ---------------------------------

    def _send_facts(self, least: int) -> None:
        """Send the facts made so far, in `FACTS_BATCH`es, once there are at least `least`."""
        while len(self._facts) >= max(least, 1):
            batch, self._facts = self._facts[:FACTS_BATCH], self._facts[FACTS_BATCH:]
            answer = self.client.post("/api/v1/employees/facts:backfill", {"facts": batch}, what="facts")
            self.report.facts["sent"] += answer["received"]
            self.report.facts["inserted"] += answer["inserted"]
            self.report.facts["duplicates"] += answer["duplicates"]
            self.after_batch("facts", len(batch))

    def _fact_dates(self, p: Planned) -> list[tuple[str, dt.date]]:
        """The facts of an imported opportunity, as (outcome, day): its opening
        (`open`) and, closed, its outcome (`won`/`lost`); none for one without an
        owner, or left unassigned."""
        x = p.extra
        if p.body["stage"] in self.leave_unassigned:
            return []
        if not x["owner"] or x["owner"] not in self.ids["employees"]:
            return []
        out = []
        if opened := x["engaged_on"] or self.plan.data_end:
            out.append(("open", opened))
        stage = p.body["stage"]
        if stage in ("won", "lost") and x["closed_on"]:
            out.append((stage, x["closed_on"]))
        return out

    def _facts_of(self, p: Planned, opportunity_id: str) -> list[dict[str, Any]]:
        dates = self._fact_dates(p)
        if not dates:
            return []
        x = p.extra
        base: dict[str, Any] = {
            "employee_id": self.ids["employees"][x["owner"]],
            "opportunity_ref": opportunity_id,
            "account_ref": self.ids["accounts"].get(x["account"]) if x["account"] else None,
            "solution_refs": [self.ids["solutions"][x["solution"]]] if x["solution"] in self.ids["solutions"] else [],
        }
        money = {"amount": str(x["amount"]), "currency": self.mapping.currency} if x["amount"] is not None else None
        return [
            {
                **base,
                "external_id": f"{self.mapping.name}:{p.key}:{what}",
                "kind": f"opportunity_{what}",
                "occurred_on": day.isoformat(),
                "amount": None if what == "lost" else money,
            }
            for what, day in dates
        ]

    def _summary(self, entity: str) -> str:
        c = self.report.counts()[entity]
        return ", ".join(f"{n} {s}" for s, n in c.items())


def _field(loc: list[Any]) -> str:
    """The field a problem-style `loc` names, without the `body.items.<index>` prefix."""
    return ".".join(map(str, loc[3:] if loc[:2] == ["body", "items"] else loc)) or "row"


def _count(deltas: collections.Counter[int], names: frozenset[str], body: Any, record: dict[str, Any]) -> None:
    """Count, per date field the planned body and the stored record both have, stored minus file in days."""
    for name in names & body.keys():
        mine, theirs = as_date(body[name]), as_date(record.get(name))
        if mine is not None and theirs is not None:
            deltas[(theirs - mine).days] += 1
