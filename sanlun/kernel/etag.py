"""ETag / If-Match for optimistic concurrency, backed by a row's `version`."""

from __future__ import annotations

from fastapi import Request, Response

from sanlun.kernel.errors import PreconditionFailed


def etag_of(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_of(version)


def check_if_match(request: Request, version: int) -> None:
    """Refuse the write (412) when `If-Match` names another version.

    Without `If-Match` the write goes ahead (last writer wins), as RFC 9110
    allows; clients that care send it."""
    header = request.headers.get("if-match")
    if header is None:
        return
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    if "*" in tags or etag_of(version) in tags:
        return
    raise PreconditionFailed(
        f"The record has changed (current ETag {etag_of(version)}); GET it again and retry.",
        current_etag=etag_of(version),
    )
