"""Run the gateway and the services as child processes of `sanlun up`.

Each child is `python -m uvicorn --factory ...` in its own process group, so a
Ctrl-C in the terminal reaches only the supervisor, which then stops the
children in a known way: SIGTERM to each group, a grace period, then SIGKILL.
On Linux a child also gets SIGTERM if the supervisor itself is killed, so no
orphan keeps holding a port.

Children's output is forwarded line by line, prefixed with the process name;
the last lines of each are kept to explain a failure.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

TAIL_LINES = 40
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    factory: str
    port: int


class SupervisorError(Exception):
    """`sanlun up` cannot go on; the message says why and what to do."""


def public_host(host: str) -> str:
    """The address to reach a server bound to `host` from this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def base_url(host: str, port: int) -> str:
    h = public_host(host)
    return f"http://[{h}]:{port}" if ":" in h else f"http://{h}:{port}"


# --- ports -----------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    family, _, _, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # uvicorn binds with SO_REUSEADDR too; without it a port in TIME_WAIT
        # would look taken although uvicorn could use it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def port_owner(port: int) -> str | None:
    """`pid 1234 (python -m http.server)` for the process listening on `port`,
    when /proc lets us see it (Linux, and a process we may inspect)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                return f"pid {proc.name} ({cmdline[:120]})"
        except OSError:
            continue
    return None


def check_ports(host: str, specs: Sequence[ProcessSpec]) -> None:
    for spec in specs:
        if not port_is_free(host, spec.port):
            owner = port_owner(spec.port) or "another process"
            raise SupervisorError(
                f"Port {spec.port} on {host} (for {spec.name}) is already in use by {owner}. "
                "Stop that process or choose other ports with --base-port."
            )


# --- children --------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    spec: ProcessSpec
    process: subprocess.Popen[str]
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail_text(self) -> str:
        return "\n".join(f"    {line}" for line in self.tail) or "    (no output)"

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        host: str,
        env: Mapping[str, str],
        out: TextIO = sys.stdout,
        grace_seconds: float = GRACE_SECONDS,
    ) -> None:
        self.specs = list(specs)
        self.host = host
        self.env = dict(env)
        self.out = out
        self.grace_seconds = grace_seconds
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._width = max(len(s.name) for s in self.specs)

    def say(self, text: str) -> None:
        with self._write_lock:
            self.out.write(text + "\n")
            self.out.flush()

    def start(self) -> None:
        for spec in self.specs:
            command = [
                sys.executable, "-m", "uvicorn", "--factory", spec.factory,
                "--host", self.host, "--port", str(spec.port),
                # "auto" would log a failing lifespan and serve anyway
                "--lifespan", "on",
                "--timeout-graceful-shutdown", str(max(1, int(self.grace_seconds / 2))),
            ]
            process = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            self.children.append(Child(spec, process))
        # Readers start after every fork: forking while other threads run is unsafe with preexec_fn.
        for child in self.children:
            child.reader = threading.Thread(target=self._forward, args=(child,), name=f"out-{child.spec.name}", daemon=True)
            child.reader.start()

    def _forward(self, child: Child) -> None:
        assert child.process.stdout is not None
        for line in child.process.stdout:
            line = line.rstrip("\n")
            child.tail.append(line)
            self.say(f"{child.spec.name:<{self._width}} | {line}")

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def wait_ready(self, timeout: float) -> None:
        """Return when every child answers /health/ready with 200; raise
        `SupervisorError` naming the child that died or is late."""
        deadline = time.monotonic() + timeout
        pending = list(self.children)
        while pending and not self.stopping.is_set():
            dead = self.dead_child()
            if dead:
                raise SupervisorError(self._death_message(dead, "while starting"))
            pending = [c for c in pending if not _answers_ready(self.host, c.spec.port)]
            if not pending:
                return
            if time.monotonic() > deadline:
                late = pending[0]
                raise SupervisorError(
                    f"{late.spec.name} (pid {late.pid}) did not answer {base_url(self.host, late.spec.port)}/health/ready "
                    f"with 200 within {timeout:.0f}s. Its last output:\n{late.tail_text()}"
                )
            self.stopping.wait(0.25)

    def watch(self) -> Child | None:
        """Block until a stop is requested (None) or a child dies (that child)."""
        while not self.stopping.wait(0.25):
            dead = self.dead_child()
            if dead:
                return dead
        return None

    def stop(self) -> None:
        for child in self.children:
            if child.alive():
                child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.spec.name} did not stop within {self.grace_seconds:.0f}s; killing it")
                child.signal_group(signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            if child.reader:
                child.reader.join(timeout=2)

    def _death_message(self, child: Child, when: str) -> str:
        code = child.process.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"{child.spec.name} (pid {child.pid}) {how} {when}. Its last output:\n{child.tail_text()}"

    def run(self, *, ready_timeout: float, on_ready: Callable[[], None] | None = None) -> int:
        """Start, wait until ready, then supervise until SIGINT/SIGTERM (exit 0)
        or a child's death (exit 1). Children are always stopped on the way out."""
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            try:
                self.wait_ready(ready_timeout)
            except SupervisorError as exc:
                self.say(f"error: {exc}")
                return 1
            if self.stopping.is_set():
                return 0
            if on_ready:
                on_ready()
            dead = self.watch()
            if dead:
                self.say(f"error: {self._death_message(dead, 'unexpectedly')}\nStopping the other processes.")
                return 1
            self.say("Stopping...")
            return 0
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping.set()


def _answers_ready(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url(host, port)}/health/ready", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False
