"""The suite on several pytest-xdist workers (`-n` in pyproject.toml's addopts).

Each worker already owns its world: its own template and databases (random
names, tests/conftest.py), its own range of base ports (tests/e2e/system.py),
its own closed ports. What is left is order and quiet:

- order: with `--dist loadfile --no-loadscope-reorder` the workers take whole
  files in collection order, so the costliest files come first (`FIRST`) and
  no worker is left at the end alone with the 60-day simulation;
- quiet: the drills (tests/drills/, `sanlun up`'s restarts in
  tests/supervisor/test_up.py, and any test marked `alone`) measure latency,
  throughput and recovery against figures or deadlines taken moments before
  the failure they cause; five processes starting on another worker in between
  would move them. Such a test runs while no other worker runs one: every
  test holds a shared lock on a file of this run (from its setup, where
  module fixtures start, to its teardown, where they stop), an `alone` test an
  exclusive one; a turnstile lets it in as soon as the tests in progress end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

ALONE_DIRS = ("tests/drills/", "tests/supervisor/test_up.py")
# The costliest files, started first (their order here is their order in the run).
FIRST = (
    "tests/drills/",
    "tests/e2e/test_stages_over_time.py",
    "tests/e2e/test_import_demo.py",
    "tests/supervisor/test_up.py",
    "tests/supervisor/test_workers.py",
    "tests/test_cli.py",
    "tests/e2e/test_system.py",
)


def order_costliest_first(items: list[pytest.Item]) -> None:
    """`items` with the files of `FIRST` in front, in its order; the rest as collected."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))

    items.sort(key=rank)  # stable: tests keep their order inside a file


def mark_alone(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(ALONE_DIRS):
            item.add_marker(pytest.mark.alone)


def lock_files(run: int) -> tuple[Path, Path]:
    """The turnstile and the lock of the run whose controller is pid `run`."""
    base = Path(tempfile.gettempdir()) / f"sanlun-pytest-{run}"
    return Path(f"{base}.turnstile"), Path(f"{base}.lock")


def remove_lock_files() -> None:
    """In the controller, once its workers are done."""
    for path in lock_files(os.getpid()):
        path.unlink(missing_ok=True)


class RunLock:
    """A readers-writer lock shared by the workers of one run (flock on two files
    named after the run's controller, the workers' parent); writers first once one waits."""

    def __init__(self, run: int) -> None:
        turnstile, main = lock_files(run)
        self.turnstile: IO[str] = turnstile.open("a+")
        self.main: IO[str] = main.open("a+")

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        fcntl.flock(self.turnstile, fcntl.LOCK_EX)  # wait behind an `alone` test that waits
        fcntl.flock(self.turnstile, fcntl.LOCK_UN)
        fcntl.flock(self.main, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self.main, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        fcntl.flock(self.turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.main, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.main, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self.turnstile, fcntl.LOCK_UN)


_lock: RunLock | None = None


def turn_of(item: pytest.Item) -> contextlib.AbstractContextManager[None]:
    """The lock `item` runs under: none outside xdist, exclusive when `alone`."""
    global _lock  # noqa: PLW0603 - one per worker process
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return contextlib.nullcontext()
    if _lock is None:
        _lock = RunLock(os.getppid())  # the controller started every worker
    return _lock.exclusive() if item.get_closest_marker("alone") else _lock.shared()
