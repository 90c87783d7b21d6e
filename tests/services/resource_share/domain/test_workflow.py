import datetime as dt

import pytest

from services.resource_share.domain.workflow import (
    INTRODUCTION_TRANSITIONS,
    REQUEST_TRANSITIONS,
    IllegalTransition,
    allowed_actions,
    effective_status,
    next_status,
)

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        ("requested", "approve", "approved"),
        ("requested", "decline", "declined"),
        ("approved", "fulfil", "fulfilled"),
        ("fulfilled", "rate", "rated"),
    ],
)
def test_request_transitions(status, action, expected):
    assert next_status(REQUEST_TRANSITIONS, status=status, action=action, expires_at=LATER, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("requested", "fulfil"),
        ("requested", "rate"),
        ("declined", "approve"),
        ("approved", "approve"),
        ("rated", "rate"),
        ("fulfilled", "decline"),
    ],
)
def test_illegal_request_transitions(status, action):
    with pytest.raises(IllegalTransition) as exc:
        next_status(REQUEST_TRANSITIONS, status=status, action=action, expires_at=LATER, now=NOW)
    assert (exc.value.status, exc.value.action) == (status, action)


def test_an_undecided_request_past_its_expiry_is_expired_and_cannot_be_decided():
    assert effective_status("requested", NOW, NOW) == "expired"
    assert effective_status("approved", NOW, LATER) == "approved"
    with pytest.raises(IllegalTransition) as exc:
        next_status(REQUEST_TRANSITIONS, status="requested", action="approve", expires_at=NOW, now=LATER)
    assert exc.value.status == "expired"
    assert allowed_actions(REQUEST_TRANSITIONS, "expired") == []


def test_introduction_transitions():
    assert allowed_actions(INTRODUCTION_TRANSITIONS, "requested") == ["accept", "decline"]
    assert allowed_actions(INTRODUCTION_TRANSITIONS, "accepted") == ["fail", "introduce"]
    with pytest.raises(IllegalTransition):
        next_status(INTRODUCTION_TRANSITIONS, status="requested", action="introduce", expires_at=LATER, now=NOW)
