import io
import json

import httpx

from sanlun.importer.client import ApiClient
from sanlun.importer.progress import Progress


def test_batches_carry_a_stable_idempotency_key_and_are_retried_after_a_gateway_error() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers.get("idempotency-key"), request.headers.get("x-request-id")))
        if len(seen) == 1:
            return httpx.Response(503, json={"detail": "busy"})
        return httpx.Response(200, json={"ok": True})

    with ApiClient("http://gw", "t", transport=httpx.MockTransport(handler), run_id="r1") as client:
        client.retries, body = 2, {"items": [1]}
        assert client.post("/api/v1/things", body, what="things") == {"ok": True}
        other = client.batch_key("things", {"items": [2]})
    assert len(seen) == 2 and seen[0][0] == seen[1][0] and seen[0][0].startswith("sanlun-import-r1-things-")
    assert seen[0][1] != seen[1][1]  # one request id per attempt
    assert other != seen[0][0]


def test_a_post_without_a_key_is_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, json={"detail": "busy"})

    with ApiClient("http://gw", "t", transport=httpx.MockTransport(handler)) as client:
        assert client.request("POST", "/x", json_body={}).status_code == 503
    assert calls == [1]


def test_progress_prints_plain_lines_when_not_a_terminal_and_a_bar_on_one() -> None:
    plain, tty = io.StringIO(), io.StringIO()
    for stream, is_tty in ((plain, False), (tty, True)):
        p = Progress(stream, tty=is_tty, width=10)
        p.start("opportunities", 4)
        p.advance(2)
        p.advance(2)
        p.finish("4 created")
    assert plain.getvalue().splitlines() == [
        "opportunities: 4 to check",
        "opportunities: 2/4",
        "opportunities: 4/4",
        "opportunities: 4 created",
    ]
    assert "\r" in tty.getvalue() and "[##########] 4/4" in tty.getvalue()
    json.dumps(tty.getvalue())
