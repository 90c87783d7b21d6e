"""Coverage use cases: the account team, the tier rule, and `account.coverage_changed`."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish
from sanlun.kernel.peers import Peers
from services.key_account.accounts import references
from services.key_account.accounts.models import Account
from services.key_account.coverage import repository
from services.key_account.coverage.models import CoverageMember
from services.key_account.coverage.schemas import MemberCreate, MemberUpdate
from services.key_account.domain.coverage import Violation, violations

MANAGING_ROLES = ("manager", "org_admin", "group_admin", "integrator")


def today(session: AsyncSession) -> dt.date:
    """Business today: the application's clock (sanlun.kernel.clock)."""
    return session_clock(session).today()


def check_may_change(principal: Principal, account: Account) -> None:
    """The owner and those managing the account's org unit shape its team; other members only read it."""
    if account.owner_id is not None and account.owner_id == principal.employee_id:
        return
    if principal.has(*MANAGING_ROLES) and can_see(principal, owner_id=None, org_unit_path=account.org_unit_path):
        return
    raise Forbidden("Only the account's owner or a manager over its org unit may change its team.")


async def team(
    *, session: AsyncSession, account: Account, on: dt.date | None = None
) -> tuple[list[CoverageMember], list[Violation]]:
    members = await repository.members_on(session, account.id, on or today(session))
    return members, violations(account.tier, [m.role for m in members])


async def _changed(session: AsyncSession, account: Account) -> None:
    version = await repository.bump_coverage_version(session, account.id)
    members = await repository.members_on(session, account.id, today(session))
    await publish(
        session,
        Event(
            type="account.coverage_changed",
            subject=str(account.id),
            data={
                "account_id": str(account.id),
                "org_unit_path": account.org_unit_path,
                "members": [
                    {
                        "employee_id": str(m.employee_id),
                        "role": m.role,
                        "valid_from": m.valid_from.isoformat(),
                        "valid_to": m.valid_to.isoformat() if m.valid_to else None,
                    }
                    for m in members
                ],
                "version": version,
                "tier": account.tier,  # an addition to the contract: consumers tolerate it
            },
        ),
    )


async def add_member(
    *, session: AsyncSession, principal: Principal, peers: Peers, account: Account, data: MemberCreate
) -> CoverageMember:
    check_may_change(principal, account)
    refs = references.Refs()
    refs.employee(data.employee_id, ["body", "employee_id"])
    await refs.check(principal=principal, peers=peers)
    member = CoverageMember(
        id=uuid.uuid4(),
        account_id=account.id,
        **data.model_dump(exclude={"valid_from"}),
        valid_from=data.valid_from or today(session),
    )
    session.add(member)
    await session.flush()
    await _changed(session, account)
    return member


async def get_member(*, session: AsyncSession, account: Account, member_id: uuid.UUID) -> CoverageMember:
    member = await repository.get_member(session, account.id, member_id)
    if member is None:
        raise NotFound(f"Coverage member {member_id} was not found on this account.")
    return member


async def update_member(
    *, session: AsyncSession, principal: Principal, account: Account, member: CoverageMember, data: MemberUpdate
) -> CoverageMember:
    check_may_change(principal, account)
    changes = data.model_dump(exclude_unset=True)
    for field in ("role", "valid_from"):
        if field in changes and changes[field] is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    valid_from = changes.get("valid_from", member.valid_from)
    valid_to = changes.get("valid_to", member.valid_to)
    if valid_to is not None and valid_to < valid_from:
        raise Unprocessable(
            "valid_to is before valid_from.", errors=[{"loc": ["body", "valid_to"], "msg": "before valid_from"}]
        )
    for field, value in changes.items():
        setattr(member, field, value)
    await session.flush()
    await _changed(session, account)
    return member


async def remove_member(
    *, session: AsyncSession, principal: Principal, account: Account, member: CoverageMember
) -> None:
    check_may_change(principal, account)
    await session.delete(member)
    await session.flush()
    await _changed(session, account)
