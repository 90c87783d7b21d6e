"""Who may decide on a request: the person asked, or a manager above them."""

import uuid

from sanlun.kernel.auth import Principal, normalise_path


def within(prefix: str, path: str) -> bool:
    prefix = normalise_path(prefix)
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def may_decide(principal: Principal, *, owner_id: uuid.UUID, owner_org_unit_path: str) -> bool:
    # Admins see everything but do not decide for people: only the owner or their line does.
    if principal.employee_id == owner_id:
        return True
    return principal.has("manager") and within(principal.org_unit_path, owner_org_unit_path)
