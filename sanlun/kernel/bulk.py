"""The one bulk-upsert contract: `POST /api/v1/<collection>:bulk-upsert`.

The URL is a custom method in the style of Google AIP-136 (`:verb` after the
collection), as `/api/v1/employees/facts:backfill` and `...:evaluate` already
are: it cannot be mistaken for a sub-resource or an `/{id}` path segment, and
the gateway routes it by the collection's prefix (`/` or `:` after a prefix).

Request: `{"items": [{"external_id": ..., ...}, ...], "dry_run": false}`, 1 to
1000 rows, each matched by its `external_id`. Every row is checked on its own:
a bad row fails *its* report row, never the batch (so `items` is a list of any
JSON values to the validator, and documented as the row model in OpenAPI).

Response (200): counts and one result per row, in input order::

    {"dry_run": false, "created": 1, "updated": 0, "unchanged": 1, "failed": 1,
     "results": [{"index": 0, "external_id": "...", "status": "created",
                  "id": "...", "errors": [], "warnings": []}, ...]}

`status` is `created`, `updated`, `unchanged` (the stored record already said
so: not written, same version, no event) or `failed`; `errors` (and
`warnings`, for values the server normalised) are problem-style
`{"loc": ["body", "items", <index>, <field>...], "msg": ...}`, with a stable
`code` where the service has one.

`dry_run: true` runs the very same upsert inside a SAVEPOINT that is rolled
back: the report says what would happen (rows that would be created have no
`id` yet), and nothing is written. Events go to the outbox in that same
savepoint, and a NOTIFY in a rolled-back subtransaction is discarded, so a dry
run publishes nothing. The request's own transaction (and with it an
`Idempotency-Key`, stored by the route) still commits.

`run_bulk_upsert` does the envelope (object rows, a non-empty `external_id`,
no key twice in a batch, the row model), the dry run and the report; the
service passes a function that upserts the rows that passed, set-based, and
returns one `BulkRowResult` per row (`BulkRow.created(...)` and friends).

A batch runs with Python's cyclic garbage collector paused (`gc_paused`): a
1,000-row batch allocates hundreds of thousands of objects, which would start
several full collections of the whole process heap (100 ms and more each) for
garbage that reference counting frees anyway; what cycles it leaves are
collected after the batch.

Re-imports (`"source": "<name>"`, 1 to 100 characters, e.g. the importer's
mapping name `maven-crm`): without a source a row is a plain upsert, the
last write wins (API clients syncing their own data). With one, the service
keeps per record the row that source last sent (`import_baselines`, see
`sanlun.kernel.baselines`) and every field sent is merged three ways, with
base = that baseline, file = the value sent, crm = the stored value:

- no stored record: the row creates it, as sent;
- file == base: the source did not change it, not applied (the CRM's value
  stays, whatever it is);
- else crm == base, or crm == file: the file's value is applied;
- else a conflict: the CRM's value is kept, the row's `warnings` get
  `{"loc": ["body", "items", i, "<field>"], "code": "import_conflict", "msg":
  "changed in the CRM since the last import (CRM: ..., file: ...); the CRM
  value was kept"}` and the report's `conflicts` counts them;
- a stored record without a baseline from this source (created in the CRM, or
  imported before baselines existed): a field empty in the CRM takes the
  file's value, a different one is a conflict (reported, CRM value kept).

A field the row does not send keeps its stored value. The baseline stored
afterwards is the row as sent, all its fields, for every row that did not
fail; a dry run writes none. Values compare in their canonical JSON forms
(decimals, dates, uuids and lists as the API returns them). The report has
`conflicts` (0 without a source).

`deprecated_alias` answers an old URL with the same handler, marked
deprecated in OpenAPI and answered with `Deprecation: true` and
`Link: <successor>; rel="successor-version"` (RFC 9745, RFC 8594).
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    ValidationError,
)
from pydantic_core import core_schema
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel import baselines
from sanlun.kernel.baselines import Merge, Merged
from sanlun.kernel.errors import Unprocessable

MAX_ITEMS = 1000
STATUSES = ("created", "updated", "unchanged", "failed")

RowT = TypeVar("RowT")
ResultT = TypeVar("ResultT", bound="BulkRowResult")
Loc = list[str | int]


class BulkItem(Generic[RowT]):
    """One row of `items`: any JSON value to the validator (the row is checked
    on its own later), the row model `RowT` in the OpenAPI request schema."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        (row_model,) = get_args(source) or (Any,)
        return core_schema.no_info_plain_validator_function(
            _as_sent,
            json_schema_input_schema=handler.generate_schema(row_model),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _as_sent, return_schema=core_schema.any_schema()
            ),
        )


def _as_sent(value: Any) -> Any:
    return value


class BulkUpsertRequest(BaseModel, Generic[RowT]):
    """Subclass per endpoint with its row model and an example, e.g.
    `class EmployeeBulkUpsert(BulkUpsertRequest[EmployeeImport])`."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[
        list[BulkItem[RowT]],
        Field(
            min_length=1,
            max_length=MAX_ITEMS,
            description=(
                "The rows, each matched by its `external_id` and checked on its own: a bad row fails its result, "
                "not the batch."
            ),
        ),
    ]
    dry_run: bool = Field(
        False, description="Check every row and report what would happen; write nothing, publish no event."
    )
    source: Annotated[str | None, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)] = Field(
        None,
        description=(
            "The system the rows come from (e.g. `maven-crm`): a re-import, merged three ways with what this "
            "source sent last time and what the CRM holds. A field the source did not change since is not "
            "applied; a field changed on both sides keeps the CRM's value and is reported "
            "(`code: import_conflict`). Omitted: a plain upsert, the last write wins."
        ),
        examples=["maven-crm"],
    )


class ConflictValues(BaseModel):
    """The two values of an `import_conflict`, whole, as the API returns them."""

    crm: Any = Field(description="What the CRM holds, changed there since the last import: kept.")
    file: Any = Field(description="What the file sent, changed there too: not applied.")


class RowError(BaseModel):
    """A problem-style error (or warning) of one row; `code` only where the service has a stable one."""

    loc: Loc
    msg: str
    code: str | None = Field(default=None, exclude_if=lambda v: v is None)
    conflict: ConflictValues | None = Field(
        default=None, exclude_if=lambda v: v is None, description="On `import_conflict` warnings only."
    )


class BulkRowResult(BaseModel):
    index: int = Field(description="The row's position in `items`.")
    external_id: str | None
    status: Literal["created", "updated", "unchanged", "failed"] = Field(
        description=(
            "`unchanged`: the stored record already said so (not written, same version, no event). "
            "On a dry run, what would happen."
        )
    )
    id: uuid.UUID | None = Field(
        None, description="The record's id; none for a failed row or one a dry run would create."
    )
    errors: list[RowError] = []
    warnings: list[RowError] = Field(
        [],
        description=(
            "Values the server accepted after normalising them, and (with a `source`) fields it did not apply "
            "because the CRM changed them too (`code: import_conflict`)."
        ),
    )


class BulkUpsertReport(BaseModel, Generic[ResultT]):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    failed: int
    conflicts: int = Field(
        0, description="With a `source`: fields changed both in the CRM and in the file; the CRM's values were kept."
    )
    results: list[ResultT]


class BulkReport(BulkUpsertReport[BulkRowResult]):
    """The report of the endpoints whose rows carry nothing beyond the contract."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dry_run": False,
                    "created": 1,
                    "updated": 1,
                    "unchanged": 0,
                    "failed": 1,
                    "results": [
                        {
                            "index": 0,
                            "external_id": "HR-E-10001",
                            "status": "updated",
                            "id": "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f",
                            "errors": [],
                            "warnings": [],
                        },
                        {
                            "index": 1,
                            "external_id": "HR-E-10482",
                            "status": "created",
                            "id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
                            "errors": [],
                            "warnings": [],
                        },
                        {
                            "index": 2,
                            "external_id": "HR-E-10517",
                            "status": "failed",
                            "id": None,
                            "errors": [{"loc": ["body", "items", 2, "email"], "msg": "appears earlier in this batch"}],
                            "warnings": [],
                        },
                    ],
                }
            ]
        }
    )


@dataclass
class BulkRow(Generic[RowT]):
    """A row that passed the envelope: its position, key and checked data."""

    index: int
    external_id: str
    data: RowT

    def loc(self, *field: str | int) -> Loc:
        return ["body", "items", self.index, *field]

    def error(self, field: str | Sequence[str | int], msg: str, code: str | None = None) -> RowError:
        return RowError(loc=self.loc(*([field] if isinstance(field, str) else field)), msg=msg, code=code)

    def failed(
        self, field: str | Sequence[str | int], msg: str, code: str | None = None, **extra: Any
    ) -> BulkRowResult:
        failed: BulkRowResult = self.result("failed", errors=[self.error(field, msg, code)], **extra)
        return failed

    def result(self, status: str, *, id: Any = None, result: type[BulkRowResult] = BulkRowResult, **extra: Any) -> Any:
        return result(index=self.index, external_id=self.external_id, status=status, id=id, **extra)

    def created(self, id: Any, **extra: Any) -> Any:
        return self.result("created", id=id, **extra)

    def updated(self, id: Any, **extra: Any) -> Any:
        return self.result("updated", id=id, **extra)

    def unchanged(self, id: Any, **extra: Any) -> Any:
        return self.result("unchanged", id=id, **extra)


Upsert = Callable[[list[BulkRow[Any]]], Awaitable[Iterable[BulkRowResult]]]


class _Pause:
    """How many batches of this process (one event loop) are running, and whether the
    collector was enabled before the first of them paused it."""

    depth = 0
    resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector until the last batch running in this process ends."""
    if _Pause.depth == 0:
        _Pause.resume = gc.isenabled()
        gc.disable()
    _Pause.depth += 1
    try:
        yield
    finally:
        _Pause.depth -= 1
        if _Pause.depth == 0 and _Pause.resume:
            gc.enable()


async def run_bulk_upsert(
    *,
    session: AsyncSession,
    request: BulkUpsertRequest[Any],
    upsert: Upsert,
    row_model: type[BaseModel] | None = None,
    report: type[BulkUpsertReport[Any]] = BulkReport,
    merge: Merge | None = None,
) -> Any:
    """Check the envelope of every row (and its `row_model`, if given; else the
    service checks `data`, the row as sent), merge the rows with the stored
    records and the source's baselines if the request names a `source`
    (`merge` says how for this collection), upsert the rows that passed with
    `upsert`, roll it back on a dry run, and report every row in input order."""
    if request.source is not None and merge is None:
        raise Unprocessable(
            "This collection keeps no import baselines: send it without a source.",
            errors=[{"loc": ["body", "source"], "msg": "not supported here"}],
        )
    with gc_paused():
        return await _run_bulk_upsert(
            session=session,
            request=request,
            upsert=upsert,
            row_model=row_model,
            report=report,
            merge=merge if request.source is not None else None,
        )


def _invalid(result_type: type[BulkRowResult], index: int, key: str, exc: ValidationError) -> BulkRowResult:
    errors = [RowError(loc=["body", "items", index, *e["loc"]], msg=e["msg"], code=e["type"]) for e in exc.errors()]
    return result_type(index=index, external_id=key, status="failed", errors=errors)


async def _run_bulk_upsert(
    *,
    session: AsyncSession,
    request: BulkUpsertRequest[Any],
    upsert: Upsert,
    row_model: type[BaseModel] | None,
    report: type[BulkUpsertReport[Any]],
    merge: Merge | None,
) -> Any:
    (result_type,) = get_args(report.model_fields["results"].annotation)
    failed: list[BulkRowResult] = []
    rows: list[BulkRow[Any]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(request.items):
        loc: Loc = ["body", "items", index]
        external_id = raw.get("external_id") if isinstance(raw, dict) else None
        key = external_id.strip() if isinstance(external_id, str) else ""
        problem = None
        if not isinstance(raw, dict):
            problem = RowError(loc=loc, msg="must be an object", code="type")
        elif not key:
            problem = RowError(loc=[*loc, "external_id"], msg="is required (a non-empty string)", code="missing")
        elif key in seen:
            problem = RowError(
                loc=[*loc, "external_id"], msg=f"duplicate of row {seen[key]} in this batch", code="duplicate"
            )
        if problem is not None:
            failed.append(result_type(index=index, external_id=key or None, status="failed", errors=[problem]))
            continue
        seen[key] = index
        if row_model is None:
            rows.append(BulkRow(index, key, raw))
            continue
        try:
            rows.append(BulkRow(index, key, row_model.model_validate(raw)))
        except ValidationError as exc:
            failed.append(_invalid(result_type, index, key, exc))

    results: list[BulkRowResult] = []
    merged: _Merging | None = None
    if rows:
        savepoint = await session.begin_nested()
        try:
            if merge is not None:
                merged = await _Merging.run(
                    session, merge, request.source or "", request.items, rows, row_model, result_type
                )
                failed += merged.failed
                rows = merged.rows
            results = list(await upsert(rows)) if rows else []
            if merged is not None:
                await merged.save(session, results)
        except BaseException:
            await savepoint.rollback()
            raise
        if request.dry_run:
            await savepoint.rollback()
        else:
            await savepoint.commit()
    answered = sorted(r.index for r in results)
    if answered != [r.index for r in rows]:
        raise AssertionError(f"bulk upsert answered rows {answered}, was given {[r.index for r in rows]}")
    if request.dry_run:
        for r in results:
            if r.status == "created":
                r.id = None  # not assigned until the row is written
    conflicts = merged.report(results) if merged is not None else 0
    ordered = sorted([*failed, *results], key=lambda r: r.index)
    counts = {s: sum(r.status == s for r in ordered) for s in STATUSES}
    return report(dry_run=request.dry_run, results=ordered, conflicts=conflicts, **counts)


@dataclass
class _Merging:
    """A batch's three-way merge (`sanlun.kernel.baselines`): the rows as merged,
    the rows whose merged form the row model refused, and what to write back."""

    merge: Merge
    source: str
    rows: list[BulkRow[Any]]
    failed: list[BulkRowResult]
    sent: dict[str, dict[str, Any]]  # external id -> the row's fields as sent, canonical
    base: dict[str, dict[str, Any]]  # external id -> the stored baseline
    merged: dict[int, Merged]  # row index -> its merge, for rows that kept a field against the file

    @classmethod
    async def run(
        cls,
        session: AsyncSession,
        merge: Merge,
        source: str,
        items: Sequence[Any],
        rows: list[BulkRow[Any]],
        row_model: type[BaseModel] | None,
        result_type: type[BulkRowResult],
    ) -> _Merging:
        keys = [r.external_id for r in rows]
        base = await baselines.load(session, merge.table, collection=merge.collection, source=source, external_ids=keys)
        stored = await merge.stored(keys)
        out = cls(merge, source, [], [], {}, base, {})
        for row in rows:
            sent = out.sent[row.external_id] = merge.canonical(row.data)
            crm = stored.get(row.external_id)
            if crm is None:
                out.rows.append(row)  # a new record: created from the file
                continue
            merged = baselines.merge_row(items[row.index], sent, base.get(row.external_id), crm)
            if merged.conflicts:
                out.merged[row.index] = merged
            if row_model is None:
                out.rows.append(BulkRow(row.index, row.external_id, merged.row))
                continue
            try:
                out.rows.append(BulkRow(row.index, row.external_id, row_model.model_validate(merged.row)))
            except ValidationError as exc:
                out.failed.append(_invalid(result_type, row.index, row.external_id, exc))
        return out

    async def save(self, session: AsyncSession, results: Iterable[BulkRowResult]) -> None:
        """The file's rows as the new baselines, for the rows that did not fail and say something new."""
        changed = {
            r.external_id: self.sent[r.external_id]
            for r in results
            if r.status != "failed"
            and r.external_id is not None
            and self.base.get(r.external_id) != self.sent[r.external_id]
        }
        await baselines.save(
            session, self.merge.table, collection=self.merge.collection, source=self.source, rows=changed
        )

    def report(self, results: Iterable[BulkRowResult]) -> int:
        """Warn of each kept conflict on the rows that did not fail; how many there are."""
        count = 0
        for r in results:
            merged = self.merged.get(r.index)
            if merged is None or r.status == "failed":
                continue
            for name, (crm, file) in merged.conflicts.items():
                msg = baselines.conflict_message(crm, file, no_baseline=merged.no_baseline)
                r.warnings.append(
                    RowError(
                        loc=["body", "items", r.index, name],
                        msg=msg,
                        code=baselines.CONFLICT,
                        conflict=ConflictValues(crm=crm, file=file),
                    )
                )
                count += 1
        return count


def deprecated_alias(router: APIRouter, *, alias: str, of: str, method: str = "POST") -> None:
    """Answer `alias` (a path relative to the router, like `of`) with the
    handler of the route at `of`, for one release: deprecated in OpenAPI, and
    every answer (replays and errors included) says where to go instead."""
    path = router.prefix + of
    route = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == path and method in (r.methods or ()))

    class DeprecatedRoute(route.__class__):  # type: ignore[name-defined,misc]
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler: Callable[[Request], Awaitable[Response]] = super().get_route_handler()

            async def answer(request: Request) -> Response:
                response = await handler(request)
                response.headers["Deprecation"] = "true"
                response.headers["Link"] = f'<{path}>; rel="successor-version"'
                return response

            return answer

    headers = {
        "Deprecation": {"description": "`true`: this URL is deprecated.", "schema": {"type": "string"}},
        "Link": {
            "description": f'`<{path}>; rel="successor-version"`: the URL to use instead.',
            "schema": {"type": "string"},
        },
    }
    status = route.status_code or 200
    responses = {**route.responses, status: {**route.responses.get(status, {}), "headers": headers}}
    router.add_api_route(
        alias,
        route.endpoint,
        methods=[method],
        response_model=route.response_model,
        status_code=route.status_code,
        summary=f"{route.summary} (deprecated: use {path})",
        description=route.description,
        responses=responses,
        deprecated=True,
        name=f"{route.name}_deprecated",
        route_class_override=DeprecatedRoute,
    )
