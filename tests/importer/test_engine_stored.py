"""The importer keeps what a target holds compact (`engine.Stored`) and compares
with it exactly as `diff.differences` compares with the whole record."""

from __future__ import annotations

import pytest

from sanlun.importer import diff
from sanlun.importer.engine import _ABSENT, SENT_FIELDS, Stored

RECORD = {
    "id": "7d0c5e3a-1b2c-4d5e-8f90-123456789abc",
    "external_id": "maven:O1",
    "name": "GTX Pro for Acme (O1)",
    "stage": "won",
    "amount": {"amount": "4514.00", "currency": "USD"},
    "closed_on": "2017-03-01",
    "industry": "technology",
    "size_band": "mid",
    "source": "maven-crm",
    "owner_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
    "org_unit_path": "/maven/maventech/east/mo-chen",
    "account_id": None,
    "solution_ids": ["8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"],
    "version": 3,
    "expected_close_date": "2017-02-01",
}
BODY = {k: v for k, v in RECORD.items() if k in SENT_FIELDS}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"amount": {"amount": "4514", "currency": "USD"}},  # the same money
        {"amount": {"amount": "4514.01", "currency": "USD"}},
        {"name": " GTX Pro for Acme (O1) "},  # the same after stripping
        {"stage": "lost"},
        {"solution_ids": []},
        {"account_id": "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"},
    ],
)
def test_stored_differs_as_diff_differences_says(change: dict) -> None:
    body = {**BODY, **change}
    stored = Stored(RECORD["id"], tuple(diff.canonical(RECORD.get(f, _ABSENT)) for f in SENT_FIELDS))
    assert stored.differs(body) == bool(diff.differences(body, RECORD))


def test_a_field_the_target_does_not_return_counts_as_different() -> None:
    record = {k: v for k, v in RECORD.items() if k != "size_band"}
    stored = Stored(RECORD["id"], tuple(diff.canonical(record.get(f, _ABSENT)) for f in SENT_FIELDS))
    assert stored.differs(BODY) and diff.differences(BODY, record) == ["size_band"]


def test_a_field_the_importer_does_not_keep_counts_as_different() -> None:
    """Sent again, the server reports it unchanged: slower, never wrong."""
    stored = Stored(RECORD["id"], tuple(diff.canonical(RECORD.get(f, _ABSENT)) for f in SENT_FIELDS))
    assert stored.differs({**BODY, "expected_close_date": "2017-02-01"})
