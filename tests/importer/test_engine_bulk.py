"""The importer speaks the one bulk contract and nothing else: `POST
/api/v1/<collection>:bulk-upsert {"items": [...], "source": <the mapping>}`,
`results` read row by row (conflicts the server's merge kept among them), no
second URL tried when the first answers 404."""

from __future__ import annotations

import collections
import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from sanlun.importer.client import ApiClient, ApiError
from sanlun.importer.engine import Importer
from sanlun.importer.plan import Plan, Planned, Source
from sanlun.importer.progress import Silent
from sanlun.importer.report import Report


def importer(client: ApiClient) -> Importer:
    # Only what `_bulk` touches: no mapping or CSV files needed.
    imp = Importer.__new__(Importer)
    imp.client, imp.progress, imp.after_batch = client, Silent(), lambda entity, n: None
    imp.mapping = SimpleNamespace(name="test-crm")  # type: ignore[assignment]
    imp.dry_run = False
    imp.report = Report("test", "http://gw", client.run_id, plan=Plan())
    imp.ids = {e: {} for e in ("employees", "accounts", "solutions")}
    imp.pending = collections.defaultdict(set)
    return imp


def planned(key: str, **body: Any) -> Planned:
    return Planned(key, {"external_id": key, **body}, [Source("accounts.csv", 2)])


def test_a_batch_goes_to_the_custom_method_and_every_row_is_recorded() -> None:
    sent: list[tuple[str, dict[str, Any], str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, json.loads(request.content), request.headers.get("idempotency-key")))
        return httpx.Response(
            200,
            json={
                "dry_run": False,
                "created": 1,
                "updated": 0,
                "unchanged": 0,
                "failed": 1,
                "results": [
                    {
                        "index": 1,
                        "external_id": "b",
                        "status": "failed",
                        "id": None,
                        "warnings": [],
                        "errors": [
                            {"loc": ["body", "items", 1, "employees"], "msg": "'13k' is not an integer", "code": "type"}
                        ],
                    },
                    {
                        "index": 0,
                        "external_id": "a",
                        "status": "created",
                        "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                        "errors": [],
                        "warnings": [
                            {"loc": ["body", "items", 0, "industry"], "msg": "sector normalised"},
                            {
                                "loc": ["body", "items", 0, "headquarters"],
                                "code": "import_conflict",
                                "msg": 'changed in the CRM since the last import (CRM: "Oslo, Norway", '
                                'file: "Bergen"); the CRM value was kept',
                            },
                        ],
                    },
                ],
            },
        )

    with ApiClient("http://gw", "t", transport=httpx.MockTransport(handler)) as client:
        imp = importer(client)
        imp._bulk("accounts", "accounts", [planned("a", name="A"), planned("b", name="B")])

    assert [(path, sorted(body)) for path, body, _ in sent] == [("/api/v1/accounts:bulk-upsert", ["items", "source"])]
    assert sent[0][1]["source"] == "test-crm"  # the mapping's name: the server merges with its last import
    assert sent[0][2]  # an Idempotency-Key per batch
    outcomes = {o.key: o for o in imp.report.outcomes}
    assert (outcomes["a"].status, outcomes["a"].id) == ("created", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e")
    assert (outcomes["b"].status, outcomes["b"].reason) == ("rejected", "employees: '13k' is not an integer")
    assert imp.ids["accounts"] == {"a": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"}
    assert [n.message for n in imp.report.server_notes] == ["(server) sector normalised"]
    (conflict,) = imp.report.conflicts
    assert (conflict.key, conflict.field, conflict.crm, conflict.file) == (
        "a",
        "headquarters",
        "Oslo, Norway",
        "Bergen",
    )
    assert 'accounts.csv:2  accounts  a  headquarters: CRM "Oslo, Norway", file "Bergen"' in imp.report.text()


def test_no_fallback_to_another_url() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(404, json={"detail": "No route matches."})

    with ApiClient("http://gw", "t", transport=httpx.MockTransport(handler)) as client, pytest.raises(ApiError):
        importer(client)._bulk("opportunities", "opportunities", [planned("o-1", name="O")])
    assert paths == ["/api/v1/opportunities:bulk-upsert"]
