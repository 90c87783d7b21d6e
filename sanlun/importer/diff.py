"""Desired vs stored: which records to send. Pure.

The importer compares each planned record with what the API returns for it
and sends only the new and the different ones, so a second run writes nothing
(no version bumps, no events) and a run after an interruption sends exactly
what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


def canonical(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        try:
            return ("money", Decimal(str(value["amount"])).quantize(Decimal("0.01")), value["currency"])
        except InvalidOperation:
            return ("money", str(value["amount"]), value["currency"])
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, str):
        return value.strip()
    return value


def differences(
    desired: Mapping[str, Any], stored: Mapping[str, Any], *, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """The fields of `desired` whose stored value differs (fields the API does not return count as different)."""
    return [
        name
        for name, value in desired.items()
        if name not in ignore and (name not in stored or canonical(value) != canonical(stored[name]))
    ]


def split(
    desired: Mapping[str, Mapping[str, Any]],
    stored: Mapping[str, Mapping[str, Any]],
    *,
    ignore: frozenset[str] = frozenset(),
) -> tuple[list[str], list[str], list[str]]:
    """Keys to create, keys to update, keys unchanged."""
    create, update, same = [], [], []
    for key, body in desired.items():
        if key not in stored:
            create.append(key)
        elif differences(body, stored[key], ignore=ignore):
            update.append(key)
        else:
            same.append(key)
    return create, update, same
