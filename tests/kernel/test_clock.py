"""The business clock: injectable, moved only where it is allowed, and the
`as_of` bounds that keep date arithmetic from overflowing into a 500."""

import datetime as dt

import pytest

from sanlun.kernel.clock import EARLIEST, LATEST, Clock, check_as_of
from sanlun.kernel.errors import Unprocessable
from tests.support import auth, service_settings

OPS = auth(org_unit="/group", roles=("ops",))


def test_a_clock_moves_by_its_offset_and_keeps_running():
    clock = Clock()
    clock.set(dt.datetime(2017, 3, 1, 9, 0, tzinfo=dt.UTC))
    assert clock.today() == dt.date(2017, 3, 1)
    clock.advance(dt.timedelta(days=30))
    assert clock.today() == dt.date(2017, 3, 31)
    first = clock.now()
    assert clock.now() >= first  # time still runs


def test_as_of_outside_the_sane_range_is_a_422_naming_the_field():
    assert check_as_of(None) is None
    assert check_as_of(EARLIEST) == EARLIEST and check_as_of(LATEST) == LATEST
    for bad in (dt.date(1, 1, 1), dt.date(9999, 12, 31)):
        with pytest.raises(Unprocessable) as raised:
            check_as_of(bad, "as_of")
        assert raised.value.errors[0]["loc"] == ["query", "as_of"]


def test_an_adjustable_clock_is_refused_in_production():
    with pytest.raises(ValueError, match="SANLUN_CLOCK_ADJUSTABLE"):
        service_settings(
            "opportunity", environment="production", clock_adjustable=True, jwt_secret="x" * 40, service_secret="y" * 40
        )


async def test_ops_clock_moves_only_an_adjustable_process(service_client):
    fixed = await service_client("opportunity")
    assert (await fixed.get("/ops/clock", headers=OPS)).json()["adjustable"] is False
    refused = await fixed.put("/ops/clock", json={"advance_days": 1}, headers=OPS)
    assert refused.status_code == 404 and refused.json()["code"] == "clock_fixed"

    clock = Clock()
    moving = await service_client("employee_lifecycle", clock=clock, clock_adjustable=True)
    rep = await moving.put("/ops/clock", json={"advance_days": 1}, headers=auth(roles=("rep",)))
    assert rep.status_code == 403
    moved = await moving.put("/ops/clock", json={"now": "2017-06-30T12:00:00Z"}, headers=OPS)
    assert moved.status_code == 200, moved.text
    assert moved.json()["today"] == "2017-06-30" and clock.today() == dt.date(2017, 6, 30)
    ahead = await moving.put("/ops/clock", json={"advance_days": 2}, headers=OPS)
    assert ahead.json()["today"] == "2017-07-02"
    both = await moving.put("/ops/clock", json={"now": "2017-06-30T12:00:00Z", "advance_days": 1}, headers=OPS)
    assert both.status_code == 422
    absurd = await moving.put("/ops/clock", json={"now": "0001-01-01T00:00:00Z"}, headers=OPS)
    assert absurd.status_code == 422
