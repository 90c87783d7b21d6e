"""Retention deletes old bookkeeping rows and nothing else."""

import datetime as dt
import uuid

import sqlalchemy as sa

from sanlun.kernel import retention
from tests.support import auth

OPS = auth(org_unit="/group", roles=("ops",))
NOW = dt.datetime.now(dt.UTC)
S = "employee_lifecycle"


async def _outbox(connection, status: str, age: dt.timedelta, delivered: bool) -> int:
    row = await connection.execute(
        sa.text(f"""
        INSERT INTO {S}.outbox (event_id, type, source, subject, time, data, subscriber, status, attempts,
                                next_attempt_at, created_at, delivered_at)
        VALUES (:e, 'employee.updated', 'employee_lifecycle', 's', :t, '{{}}', 'opportunity', :status, 1, :t, :t, :d)
        RETURNING id"""),
        {"e": uuid.uuid4(), "t": NOW - age, "status": status, "d": NOW - age if delivered else None},
    )
    return row.scalar_one()


async def _inbox(connection, age: dt.timedelta) -> uuid.UUID:
    event_id = uuid.uuid4()
    await connection.execute(
        sa.text(f"INSERT INTO {S}.inbox (event_id, type, source, received_at) VALUES (:e, 't', 's', :r)"),
        {"e": event_id, "r": NOW - age},
    )
    return event_id


async def _key(connection, age: dt.timedelta) -> str:
    key = uuid.uuid4().hex
    await connection.execute(
        sa.text(f"""
        INSERT INTO {S}.idempotency_keys (principal, key, request_hash, created_at) VALUES ('p', :k, 'h', :c)"""),
        {"k": key, "c": NOW - age},
    )
    return key


async def test_a_pass_deletes_only_expired_bookkeeping(service_client, connection, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches per table
    client = await service_client(S)
    old, young = dt.timedelta(days=40), dt.timedelta(hours=1)
    expired = [await _outbox(connection, "delivered", dt.timedelta(days=8), True) for _ in range(5)]
    kept = [
        await _outbox(connection, "delivered", young, True),
        await _outbox(connection, "pending", old, False),  # never delivered: never deleted
        await _outbox(connection, "parked", old, False),
    ]
    inbox_old, inbox_young = [await _inbox(connection, old) for _ in range(3)], await _inbox(connection, young)
    key_old, key_young = await _key(connection, dt.timedelta(hours=49)), await _key(connection, young)

    refused = await client.post("/ops/retention/run", headers=auth(org_unit="/group/east", roles=("manager",)))
    assert refused.status_code == 403
    response = await client.post("/ops/retention/run", headers=OPS)
    assert response.status_code == 200, response.text
    deleted = response.json()["deleted"]
    assert deleted["outbox"] >= 5 and deleted["inbox"] >= 3 and deleted["idempotency_keys"] >= 1

    ids = set((await connection.execute(sa.text(f"SELECT id FROM {S}.outbox"))).scalars())
    assert not ids & set(expired) and set(kept) <= ids
    inbox = set((await connection.execute(sa.text(f"SELECT event_id FROM {S}.inbox"))).scalars())
    assert not inbox & set(inbox_old) and inbox_young in inbox
    keys = set((await connection.execute(sa.text(f"SELECT key FROM {S}.idempotency_keys"))).scalars())
    assert key_old not in keys and key_young in keys


async def test_retention_is_set_per_service(service_client, connection):
    client = await service_client(S, outbox_retention_days=30, idempotency_retention_hours=1)
    month_old = await _outbox(connection, "delivered", dt.timedelta(days=20), True)
    two_hours = await _key(connection, dt.timedelta(hours=2))
    assert (await client.post("/ops/retention/run", headers=OPS)).status_code == 200
    assert (
        await connection.execute(sa.text(f"SELECT count(*) FROM {S}.outbox WHERE id = :i"), {"i": month_old})
    ).scalar_one() == 1
    assert (
        await connection.execute(sa.text(f"SELECT count(*) FROM {S}.idempotency_keys WHERE key = :k"), {"k": two_hours})
    ).scalar_one() == 0


async def test_the_schedule_runs_passes_on_its_own(service_client, connection):
    import asyncio

    await _outbox(connection, "delivered", dt.timedelta(days=9), True)  # the only expired row in this transaction
    deleted = retention.DELETED.labels(S, "outbox")
    before = deleted._value.get()
    await service_client(S, retention_interval_seconds=0.05)
    # Watch the metric, not the table: the scheduled pass shares the test's
    # connection, and a query racing it would fail.
    for _ in range(100):
        if deleted._value.get() > before:
            break
        await asyncio.sleep(0.05)
    assert deleted._value.get() - before == 1
