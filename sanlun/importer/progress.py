"""Progress: a bar redrawn in place on a terminal, plain lines otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.width = width
        self._label, self._total, self._done, self._last = "", 0, 0, 0.0

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        if not self.tty:
            self.stream.write(f"{label}: {total} to check\n")
            self.stream.flush()
        else:
            self._draw()

    def advance(self, n: int, what: str = "") -> None:
        self._done += n
        if self.tty:
            now = time.monotonic()
            if now - self._last > 0.1 or self._done >= self._total:
                self._last = now
                self._draw()
        else:
            self.stream.write(f"{self._label}: {self._done}/{self._total}{f' {what}' if what else ''}\n")
            self.stream.flush()

    def finish(self, summary: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self._label}: {summary}\n")
        self.stream.flush()

    def _draw(self) -> None:
        share = self._done / self._total if self._total else 1.0
        filled = int(self.width * share)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r\033[K{self._label:<14} [{bar}] {self._done}/{self._total}")
        self.stream.flush()


class Silent(Progress):
    def __init__(self) -> None:
        super().__init__(tty=False)

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int, what: str = "") -> None:
        pass

    def finish(self, summary: str) -> None:
        pass
