from decimal import Decimal

from sanlun.importer.diff import differences, split


def test_money_dates_and_lists_compare_by_value() -> None:
    desired = {
        "amount": {"amount": "1054", "currency": "USD"},
        "solution_ids": ["a"],
        "closed_on": "2017-03-01",
        "account_id": None,
    }
    stored = {
        "amount": {"amount": "1054.00", "currency": "USD"},
        "solution_ids": ["a"],
        "closed_on": "2017-03-01",
        "account_id": None,
        "version": 3,
    }
    assert differences(desired, stored) == []
    assert differences({**desired, "amount": {"amount": "1054.01", "currency": "USD"}}, stored) == ["amount"]
    assert differences({"employees": Decimal(10)}, {"employees": 10}) == []


def test_split_into_create_update_unchanged() -> None:
    desired = {"a": {"name": "A"}, "b": {"name": "B"}, "c": {"name": "C"}}
    stored = {"a": {"name": "A"}, "b": {"name": "Bee"}}
    assert split(desired, stored) == (["c"], ["b"], ["a"])


def test_a_field_the_api_does_not_return_counts_as_different() -> None:
    assert differences({"name": "A", "extra": 1}, {"name": "A"}) == ["extra"]
