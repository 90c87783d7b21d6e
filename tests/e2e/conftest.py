"""One running system (gateway + four services on the committed test database)
shared by the end-to-end modules that only need the public API: each works in
an organisation of its own, so they do not see each other's records.
test_system.py stops its services, so it starts its own by defining `system`;
test_import_demo.py and test_stages_over_time.py start theirs on a database of
their own (`fresh_database_url`): their counts must be of their import alone."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.system import RunningSystem
from tests.gateway.system import running_system


@pytest.fixture(scope="package")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    with running_system(committed_database_url) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(system: RunningSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url("gateway"), timeout=15) as client:
        yield client
