"""The one answer for a record a request body names but the caller may not see.

Issue 16: an id that does not exist and an id the caller may not see get the
same 422 `unknown_reference`, with the same detail and, per field, the same
message at the same `loc`, so a body is no oracle for other organisations'
records. Every service raises it through `unknown_reference`; the services
that check employees they do not own ask the lifecycle service through
`hidden_employees` (its batch read, with the caller's token, so the caller's
visibility applies).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sanlun.kernel.errors import Unprocessable, UpstreamUnavailable
from sanlun.kernel.peer_stages import PATH as STAGES_PATH
from sanlun.kernel.peer_stages import SERVICE as EMPLOYEES_SERVICE
from sanlun.kernel.peers import Peers

CODE = "unknown_reference"
DETAIL = "The request names records that do not exist or that you may not see."


def unknown_reference(errors: Iterable[dict[str, Any]]) -> Unprocessable:
    """422 `unknown_reference`; each error is `{"loc": [...], "msg": ...}`."""
    return Unprocessable(DETAIL, code=CODE, errors=list(errors))


async def hidden_by_batch_read(
    peers: Peers, service: str, path: str, ids: Sequence[uuid.UUID], *, field: str, id_key: str, label: str
) -> set[uuid.UUID]:
    """Of `ids`, those a peer's batch read (`POST path` with `{field: [...]}`,
    one call per 1000 ids, with the caller's token) does not show: unknown or
    not the caller's to see. A peer that cannot answer raises the peer
    client's 502/504 problem, so nothing unchecked is stored."""
    if not ids:
        return set()
    answers = await peers.post_batches(service, path, list(ids), field=field)
    try:
        shown = {uuid.UUID(str(item[id_key])) for answer in answers for item in answer["items"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamUnavailable(f"The {label} service answered in an unexpected shape.", service=service) from exc
    # Only the ids it showed count as seen: one neither shown nor in `not_found` is not trusted.
    return set(ids) - shown


async def hidden_employees(peers: Peers, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Of `ids`, those the lifecycle service does not show the caller
    (`hidden_by_batch_read` over its batch stage read)."""
    return await hidden_by_batch_read(
        peers,
        EMPLOYEES_SERVICE,
        STAGES_PATH,
        ids,
        field="employee_ids",
        id_key="employee_id",
        label="employee lifecycle",
    )
