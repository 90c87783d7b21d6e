"""Bulk upsert of accounts by external id, for imports (the kernel's bulk contract,
`sanlun.kernel.bulk`): a report row for every input row. A field a row leaves out
keeps its stored value; one it sends as null is cleared (`CLEARABLE`), so a
re-import's merge applies a source's null like any other value it changed.

Checks run first (types, duplicates, placement, parents, cycles through stored
accounts); only rows that pass are written, with a constant number of
statements whatever the batch size: one upsert, one parent UPDATE, and the
three queries of `segmentation.evaluate_many`.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.baselines import Merge, canonical
from sanlun.kernel.bulk import BulkRow, run_bulk_upsert
from sanlun.kernel.peers import Peers
from sanlun.kernel.references import CODE as UNKNOWN_REFERENCE
from services.key_account.accounts import references, repository
from services.key_account.accounts.schemas import (
    AccountBulkReport,
    AccountBulkUpsert,
    AccountRowResult,
)
from services.key_account.db import IMPORT_BASELINES
from services.key_account.domain.importing import (
    UPSERT_FIELDS,
    RowOutcome,
    check_row,
    resolve_parents,
)
from services.key_account.segmentation import service as segmentation

IMPORTING_ROLES = ("manager", "org_admin", "group_admin", "integrator")


async def bulk_upsert(
    *, session: AsyncSession, principal: Principal, peers: Peers, request: AccountBulkUpsert
) -> AccountBulkReport:
    require_roles(principal, *IMPORTING_ROLES)
    # No row model: `check_row` checks and normalises each row itself, with stable codes.
    return await run_bulk_upsert(
        session=session,
        request=request,
        report=AccountBulkReport,
        upsert=lambda rows: _upsert(session, principal, peers, rows),
        merge=Merge(
            "accounts", IMPORT_BASELINES, stored=lambda keys: _stored(session, principal, keys), canonical=_sent
        ),
    )


def _api_form(values: dict[str, Any]) -> dict[str, Any]:
    """Checked row values (or stored columns) as a row sends them: revenue as money."""
    out = {k: v for k, v in values.items() if not k.startswith("annual_revenue_")}
    if "annual_revenue_amount" in values:
        amount = values["annual_revenue_amount"]
        out["annual_revenue"] = (
            None if amount is None else {"amount": amount, "currency": values["annual_revenue_currency"]}
        )
    return canonical(out)


def _sent(row: dict[str, Any]) -> dict[str, Any]:
    """A row's fields as sent, normalised as `check_row` stores them (a misspelt
    sector as the sector it becomes); a field it refuses, as sent (the row fails)."""
    checked = _api_form(check_row(0, row).values)
    return {k: checked.get(k, canonical(v)) for k, v in row.items() if k != "external_id"}


async def _stored(session: AsyncSession, principal: Principal, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The batch's accounts the caller may change, as bulk rows would say them (for a re-import's merge)."""
    return {
        a.external_id: _api_form({k: v for k, v in a._asdict().items() if k not in ("external_id", "visible")})
        for a in await repository.import_rows(session, principal, keys)
        if a.visible
    }


async def _check_owners(principal: Principal, peers: Peers, outcomes: list[RowOutcome]) -> None:
    """Fail the rows whose `owner_id` is no employee the caller may see: one call for the batch."""
    refs = references.Refs()
    for out in outcomes:
        if out.ok:
            refs.employee(out.values.get("owner_id"), [out.index])
    unseen = {r.loc[0] for r in await refs.unseen(principal=principal, peers=peers)}
    for out in outcomes:
        if out.index in unseen:
            out.error("owner_id", references.MESSAGES["employee"], UNKNOWN_REFERENCE)


async def _upsert(
    session: AsyncSession, principal: Principal, peers: Peers, rows: list[BulkRow[dict[str, Any]]]
) -> list[AccountRowResult]:
    outcomes = [check_row(row.index, row.data) for row in rows]
    keys = {o.values["external_id"] for o in outcomes if "external_id" in o.values}
    parents = {o.values["parent_external_id"] for o in outcomes if "parent_external_id" in o.values}
    existing = {r.external_id: r for r in await repository.by_external_ids(session, principal, sorted(keys | parents))}
    for out in outcomes:
        if out.ok:
            _check_placement(principal, out, existing.get(out.values["external_id"]))
    await _check_owners(principal, peers, outcomes)
    # A parent the caller may not see is as unknown to them as one that does not exist.
    known = {ext for ext, r in existing.items() if r.visible}
    resolve_parents(outcomes, known, await repository.ancestry_of(session, sorted(parents & known)))

    good = [o for o in outcomes if o.ok]
    written: dict[str, Any] = {}
    changed: set[str] = set()
    if good:
        values = [_values(o, existing.get(o.values["external_id"]), principal) for o in good]
        cleared = {c: [o.values["external_id"] for o in good if c in o.cleared] for c in UPSERT_FIELDS}
        written = {r.external_id: r for r in await repository.upsert_by_external_id(session, values, cleared)}
        links = [
            (o.values["external_id"], o.values["parent_external_id"]) for o in good if "parent_external_id" in o.values
        ]
        relinked = await repository.link_parents(session, links)
        changed = set(written) | relinked
        ids = [r.id for r in written.values()] + [existing[e].id for e in relinked - set(written) if e in existing]
        await segmentation.evaluate_many(session=session, account_ids=ids)
    stored = {
        o.values["external_id"]: existing[o.values["external_id"]].id
        for o in good
        if o.values["external_id"] in existing
    }
    accounts = {**stored, **{e: r.id for e, r in written.items()}}
    tiers = await repository.tiers_of(session, list(accounts.values())) if accounts else {}
    return [_result(row, out, written, changed, accounts, tiers) for row, out in zip(rows, outcomes, strict=True)]


def _check_placement(principal: Principal, out: RowOutcome, stored: Any) -> None:
    if stored is not None and not stored.visible:
        out.error("external_id", "in use by an account you may not change", "not_yours")
        return
    paths = [out.values.get("org_unit_path") or (stored.org_unit_path if stored else principal.org_unit_path)]
    if stored is not None:
        paths.append(stored.org_unit_path)
    if not all(can_see(principal, owner_id=None, org_unit_path=p) for p in paths):
        out.error("org_unit_path", "outside the org units you manage", "forbidden")


def _values(out: RowOutcome, stored: Any, principal: Principal) -> dict[str, Any]:
    values = {field: out.values.get(field) for field in UPSERT_FIELDS}
    values["id"] = uuid.uuid4()  # used only when the row is new
    values["external_id"] = out.values["external_id"]
    if values["org_unit_path"] is None:
        values["org_unit_path"] = stored.org_unit_path if stored else principal.org_unit_path
    return values


def _result(
    row: BulkRow[dict[str, Any]],
    out: RowOutcome,
    written: dict[str, Any],
    changed: set[str],
    accounts: dict[str, uuid.UUID],
    tiers: dict[uuid.UUID, Any],
) -> AccountRowResult:
    ext = out.values.get("external_id")
    if not out.ok or ext not in accounts:
        return row.result("failed", result=AccountRowResult, errors=out.errors, warnings=out.warnings)
    stored = written.get(ext)
    status = "created" if stored is not None and stored.inserted else "updated" if ext in changed else "unchanged"
    account_id = accounts[ext]
    tier = tiers.get(account_id)
    extra = (
        {
            "parent_id": tier.parent_id,
            "tier": tier.tier,
            "tier_score": tier.tier_score,
            "tier_reasons": tier.tier_reasons or [],
        }
        if tier is not None
        else {}
    )
    return row.result(status, id=account_id, result=AccountRowResult, warnings=out.warnings, **extra)
