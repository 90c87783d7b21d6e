"""The import run: plan from the files, compare with what the API holds, send
what is new or different in batches, and report every row.

First the data clock (`--shift-dates-to`): the offset every date moves by,
computed from the data on a first import and read back from the records already
stored on a re-run or a resume, so dates never move twice.

Then, in order: org units, employees (managers by external id), accounts (parents by
external id), solutions, opportunities, then the lifecycle facts of the
imported opportunities. Each batch is one transaction on the server, so an
interrupted run leaves whole batches; the next run compares again and sends
only what is still missing or different.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sanlun.importer import diff
from sanlun.importer.client import ApiClient, ApiError
from sanlun.importer.dates import DateShift, as_date, bounds, check_range, date_fields, offset_to
from sanlun.importer.mapping import Mapping
from sanlun.importer.plan import Note, Plan, Planned, build_plan
from sanlun.importer.progress import Progress
from sanlun.importer.readers import read_tables
from sanlun.importer.report import Report

BATCH = 1000  # the most a bulk call takes (sanlun.kernel.bulk.MAX_ITEMS)
FACTS_BATCH = 2000


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# What the importer sends for an opportunity (`plan._opportunity` and `Importer._resolve`): the
# fields it compares with a stored one. A field sent but not listed here makes every stored
# opportunity look different (sent again, and reported unchanged by the server).
SENT_FIELDS = (
    "external_id",
    "name",
    "stage",
    "amount",
    "closed_on",
    "industry",
    "size_band",
    "source",
    "owner_id",
    "org_unit_path",
    "account_id",
    "solution_ids",
)


_SENT_AT = {name: i for i, name in enumerate(SENT_FIELDS)}
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored opportunity as the importer compares it: its id and its `SENT_FIELDS`,
    canonical (`diff.canonical`), in that order (a whole record per deal of a large
    target would not fit in memory)."""

    id: str
    values: tuple[Any, ...]

    def differs(self, body: dict[str, Any]) -> bool:
        """`diff.differences(body, stored) != []`, for a body of `SENT_FIELDS`."""
        for name, value in body.items():
            at = _SENT_AT.get(name)
            if at is None or self.values[at] is _ABSENT or diff.canonical(value) != self.values[at]:
                return True
        return False


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
    ) -> None:
        self.mapping, self.client, self.progress = mapping, client, progress
        self.data_dir = data_dir
        # The plan as the files say; `dates()` builds it again with the offset, if there is one. The
        # files' rows are let go as they are planned (and read again for that): a large file's rows
        # and its plan would not fit in memory together.
        self.plan: Plan = build_plan(mapping, read_tables(mapping, data_dir), consume=True)
        self.report = Report(mapping.name, target, client.run_id, self.plan)
        self.shift_dates_to, self.keep_weekdays = shift_dates_to, keep_weekdays
        self.leave_unassigned = leave_unassigned
        self.batch_size = batch_size
        self.after_batch = after_batch or (lambda entity, n: None)
        self.ids: dict[str, dict[str, str]] = {e: {} for e in ("employees", "accounts", "solutions", "opportunities")}

    def run(self) -> Report:
        try:
            self.dates()
            self.org_units()
            self.employees()
            self.accounts()
            self.solutions()
            self.opportunities()
            if self.mapping.facts:
                self.facts()
        except (ApiError, OSError, KeyboardInterrupt) as exc:
            self.report.interrupted = f"{type(exc).__name__}: {exc}"
            raise
        return self.report

    # -- the data clock ------------------------------------------------------------------------------

    def dates(self) -> None:
        """Fix the offset of every date, then plan again from the moved dates.

        A data set already (partly) in the target keeps the offset its records
        were stored with, whatever `shift_dates_to` asks today: a re-run or a
        resume must leave them where they are, and facts already back-filled
        cannot move. Otherwise the offset makes the last date the day before
        `shift_dates_to`."""
        span = bounds(self.plan, self.mapping)
        if span is None:
            return
        first, last = span
        stored = self._stored_offset()
        if stored is not None:
            if stored == 0 and self.shift_dates_to is None:
                return
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
            tables = read_tables(self.mapping, self.data_dir)
            self.plan = self.report.plan = build_plan(self.mapping, tables, consume=True)

    def _stored_offset(self) -> int | None:
        """How far the records of this data set already in the target were moved:
        stored date minus file date, by external id; people first (imported
        first, and few), then opportunities. None when none is stored yet."""
        names = date_fields(self.mapping)
        for entity, path in (("employees", "/api/v1/employees"), ("opportunities", "/api/v1/opportunities")):
            planned = {p.key: p for p in getattr(self.plan, entity) if names & p.body.keys()}
            if not planned:
                continue
            # Record by record as the pages come: a large target's records are not all held at once.
            deltas: collections.Counter[int] = collections.Counter()
            for record in self.client.get_all(path):
                p = planned.get(record.get("external_id"))  # type: ignore[arg-type]
                if p is None:
                    continue
                for name in names & p.body.keys():
                    mine, theirs = as_date(p.body[name]), as_date(record.get(name))
                    if mine is not None and theirs is not None:
                        deltas[(theirs - mine).days] += 1
            if deltas:
                days, agreeing = deltas.most_common(1)[0]
                if agreeing < deltas.total():
                    message = (
                        f"{deltas.total() - agreeing} stored dates differ from the file by another offset than "
                        f"{days} days (edited since the import?); the import keeps {days} days"
                    )
                    self.report.server_notes.append(Note(entity, None, message))
                return days
        return None

    # -- the one bulk contract: POST /api/v1/<collection>:bulk-upsert {"items": [...]} ---------------

    def _bulk(
        self, entity: str, collection: str, batch: list[Planned], bodies: list[dict[str, Any]] | None = None
    ) -> None:
        """Send one batch and record every row of the report (`sanlun.kernel.bulk`);
        a row the server refuses is `rejected` in the import report, with why."""
        answer = self.client.post(
            f"/api/v1/{collection}:bulk-upsert",
            {"items": bodies if bodies is not None else [p.body for p in batch]},
            what=entity,
        )
        for row in answer["results"]:
            p = batch[row["index"]]
            status = "rejected" if row["status"] == "failed" else row["status"]
            reason = "; ".join(f"{_field(e.get('loc', []))}: {e.get('msg')}" for e in row.get("errors") or [])
            self.report.record(entity, p.key, status, p.sources, id=row.get("id"), reason=reason or None)
            if row.get("id") and entity in self.ids:
                self.ids[entity][p.key] = row["id"]
            for w in row.get("warnings") or []:
                self.report.server_notes.append(Note(entity, p.sources[0], f"(server) {w['msg']}"))
        self.progress.advance(len(batch))
        self.after_batch(entity, len(batch))

    # -- lifecycle: units and people (their bulk endpoints say unchanged themselves) -----------

    def _bulk_rows(self, entity: str, collection: str, planned: list[Planned], size: int = 1000) -> None:
        self.progress.start(entity.replace("_", " "), len(planned))
        for batch in chunks(planned, size):
            self._bulk(entity, collection, batch)
        self.progress.finish(self._summary(entity))

    def org_units(self) -> None:
        if self.plan.org_units:
            self._bulk_rows("org_units", "org-units", self.plan.org_units)

    def employees(self) -> None:
        if self.plan.employees:
            self._bulk_rows("employees", "employees", self.plan.employees)

    # -- accounts -----------------------------------------------------------------------------------

    def accounts(self) -> None:
        planned = {p.key: p for p in self.plan.accounts}
        if not planned:
            return
        self.progress.start("accounts", len(planned))
        stored_list = list(self.client.get_all("/api/v1/accounts"))
        ext_of = {a["id"]: a.get("external_id") for a in stored_list}
        stored = {
            a["external_id"]: {**a, "parent_external_id": ext_of.get(a.get("parent_id"))}
            for a in stored_list
            if a.get("external_id")
        }
        for key, a in stored.items():
            self.ids["accounts"][key] = a["id"]
        create, update, same = diff.split({k: p.body for k, p in planned.items()}, stored)
        for key in same:
            self.report.record("accounts", key, "unchanged", planned[key].sources, id=stored[key]["id"])
        self.progress.advance(len(same))
        # Parents first, so a batch never names a parent that a later batch creates.
        send = sorted(create + update, key=lambda k: self._depth(k, planned))
        for batch in chunks([planned[k] for k in send], self.batch_size):
            self._bulk("accounts", "accounts", batch)
        self.progress.finish(self._summary("accounts"))

    @staticmethod
    def _depth(key: str, planned: dict[str, Planned]) -> int:
        depth, seen = 0, {key}
        while (parent := planned[key].body.get("parent_external_id")) in planned and parent not in seen:
            depth, key = depth + 1, parent
            seen.add(key)
        return depth

    # -- solutions (one by one: the catalogue is small and has no bulk endpoint) --------------------

    def solutions(self) -> None:
        planned = {p.key: p for p in self.plan.solutions}
        if not planned:
            return
        self.progress.start("solutions", len(planned))
        stored = {s["name"]: s for s in self.client.get_all("/api/v1/solutions")}
        create, update, same = diff.split({k: p.body for k, p in planned.items()}, stored)
        for key in same:
            self.report.record("solutions", key, "unchanged", planned[key].sources, id=stored[key]["id"])
        for key in create:
            p = planned[key]
            try:
                made = self.client.post("/api/v1/solutions", p.body, what="solution")
            except ApiError as exc:
                if exc.status >= 500:
                    raise
                self.report.record("solutions", key, "rejected", p.sources, reason=str(exc))
                continue
            self.report.record("solutions", key, "created", p.sources, id=made["id"])
            stored[key] = made
        for key in update:
            p, current = planned[key], stored[key]
            changes = {f: p.body[f] for f in diff.differences(p.body, current)}
            self.client.call(
                "PATCH",
                f"/api/v1/solutions/{current['id']}",
                json_body=changes,
                headers={"If-Match": f'"{current["version"]}"'},
            )
            self.report.record("solutions", key, "updated", p.sources, id=current["id"])
        for key, s in stored.items():
            self.ids["solutions"][key] = s["id"]
        self.progress.advance(len(planned))
        self.progress.finish(self._summary("solutions"))

    # -- opportunities ------------------------------------------------------------------------------

    def _resolve(self, p: Planned, people: dict[str, Planned]) -> dict[str, Any] | str:
        """The API body with ids, or the reason it cannot be sent (`people`: the planned employees by key)."""
        x = p.extra
        body = dict(p.body)
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
        # The planned deals themselves, not a map by key (the plan has each key once): a large
        # file's map would take memory for nothing.
        planned = self.plan.opportunities
        if not planned:
            return
        self.progress.start("opportunities", len(planned))
        people = {e.key: e for e in self.plan.employees}
        stored = self._stored_opportunities()
        create: list[Planned] = []
        update: list[Planned] = []
        same: list[Planned] = []
        for p in planned:
            key = p.key
            body = self._resolve(p, people)
            if isinstance(body, str):
                self.report.record("opportunities", key, "rejected", p.sources, reason=body)
                continue
            if body.get("owner_id") is None and p.extra["owner"]:
                self.plan.note(
                    "opportunities",
                    None,
                    f"{p.body['stage']} deal left unassigned for the assignment node (asked with --leave-unassigned)",
                )
            known = stored.get(key)
            if known is None:
                create.append(p)
            elif known.differs(body):
                update.append(p)
            else:
                same.append(p)
        for p in same:
            self.report.record("opportunities", p.key, "unchanged", p.sources, id=stored[p.key].id)
            self.ids["opportunities"][p.key] = stored[p.key].id
        self.progress.advance(len(planned) - len(create) - len(update))
        # The bodies are made again batch by batch: all of them at once would not fit a large file in memory.
        for sent in chunks(itertools.chain(create, update), self.batch_size):
            bodies = [self._resolve(p, people) for p in sent]
            self._bulk("opportunities", "opportunities", sent, bodies=bodies)  # type: ignore[arg-type]
        self.progress.finish(self._summary("opportunities"))

    def _stored_opportunities(self) -> dict[str, Stored]:
        """The opportunities the target holds, by external id, as the importer compares them."""
        out = {}
        for o in self.client.get_all("/api/v1/opportunities"):
            if key := o.get("external_id"):
                out[key] = Stored(o["id"], tuple(diff.canonical(o.get(f, _ABSENT)) for f in SENT_FIELDS))
        return out

    # -- lifecycle facts -----------------------------------------------------------------------------

    def facts(self) -> None:
        total = sum(self._fact_count(p) for p in self.plan.opportunities)
        self.progress.start("facts", total)
        # Made batch by batch, not all at once (two facts per deal of a large file are a lot of memory).
        facts = (fact for p in self.plan.opportunities for fact in self._facts_of(p))
        for batch in chunks(facts, FACTS_BATCH):
            answer = self.client.post("/api/v1/employees/facts:backfill", {"facts": batch}, what="facts")
            self.report.facts["sent"] += answer["received"]
            self.report.facts["inserted"] += answer["inserted"]
            self.report.facts["duplicates"] += answer["duplicates"]
            self.progress.advance(len(batch))
            self.after_batch("facts", len(batch))
        f = self.report.facts
        self.progress.finish(f"{f['inserted']} inserted, {f['duplicates']} already there")

    def _fact_count(self, p: Planned) -> int:
        return len(self._fact_dates(p))

    def _fact_dates(self, p: Planned) -> list[tuple[str, dt.date]]:
        """The facts of an imported opportunity, as (outcome, day): its opening
        (`open`) and, closed, its outcome (`won`/`lost`); none for one not
        imported, without an owner, or left unassigned."""
        x = p.extra
        if p.key not in self.ids["opportunities"] or p.body["stage"] in self.leave_unassigned:
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

    def _facts_of(self, p: Planned) -> list[dict[str, Any]]:
        dates = self._fact_dates(p)
        if not dates:
            return []
        x = p.extra
        base: dict[str, Any] = {
            "employee_id": self.ids["employees"][x["owner"]],
            "opportunity_ref": self.ids["opportunities"][p.key],
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
