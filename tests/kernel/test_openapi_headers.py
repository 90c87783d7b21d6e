"""The OpenAPI declares request and response headers from what each route does
(sanlun.kernel.openapi_headers), on a small app: no database needed."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from sanlun.kernel.app import openapi_with_problems
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.openapi_headers import calls
from sanlun.kernel.routing import TransactionalRoute

router = APIRouter(prefix="/things", route_class=TransactionalRoute)
plain = APIRouter(prefix="/plain")


def _read_one(response: Response) -> dict:
    set_etag(response, 1)  # through a helper, as a router may do
    return {}


@router.post("")
async def create_thing(response: Response) -> dict:
    set_etag(response, 1)
    return {}


@router.get("/{thing_id}")
async def get_thing(thing_id: int, response: Response) -> dict:
    return _read_one(response)


@router.patch("/{thing_id}")
async def update_thing(thing_id: int, request: Request, response: Response) -> dict:
    check_if_match(request, 1)
    set_etag(response, 2)
    return {}


@router.get("")
async def list_things() -> list[dict]:
    return []


@plain.post("")
async def not_transactional() -> dict:
    return {}


def spec() -> dict:
    app = FastAPI()
    app.include_router(router)
    app.include_router(plain)
    return openapi_with_problems(app)


def headers(operation: dict) -> tuple[set[str], set[str], set[str]]:
    """(header parameters, headers of 2xx answers, response statuses)."""
    params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    ok = [r for status, r in operation["responses"].items() if status.startswith("2")]
    return params, set.intersection(*(set(r.get("headers", {})) for r in ok)), set(operation["responses"])


def test_headers_follow_what_each_route_does():
    paths = spec()["paths"]
    params, answers, statuses = headers(paths["/things"]["post"])
    assert params == {"Idempotency-Key", "X-Request-ID"}
    assert answers == {"Idempotent-Replayed", "ETag", "X-Request-ID"}
    assert {"400", "422"} <= statuses and "412" not in statuses
    assert "idempotency_key_reused" in paths["/things"]["post"]["responses"]["422"]["description"]

    params, answers, statuses = headers(paths["/things/{thing_id}"]["get"])
    assert params == {"X-Request-ID"} and answers == {"ETag", "X-Request-ID"}

    params, answers, statuses = headers(paths["/things/{thing_id}"]["patch"])
    assert params == {"If-Match", "X-Request-ID"} and answers == {"ETag", "X-Request-ID"} and "412" in statuses

    assert headers(paths["/things"]["get"])[:2] == ({"X-Request-ID"}, {"X-Request-ID"})
    # Idempotency is TransactionalRoute's: a POST served by another route class has none.
    assert headers(paths["/plain"]["post"])[:2] == ({"X-Request-ID"}, {"X-Request-ID"})


def test_every_answer_carries_the_request_id_and_parameters_are_declared_once():
    for item in spec()["paths"].values():
        for operation in item.values():
            names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
            assert len(names) == len(set(names))
            assert all("X-Request-ID" in r["headers"] for r in operation["responses"].values())


def test_calls_sees_through_helpers_and_decorators_but_not_forever():
    assert calls(get_thing, "set_etag") and not calls(get_thing, "check_if_match")
    assert not calls(get_thing, "set_etag", depth=0)
    assert calls(update_thing, "check_if_match")
