"""Run the gateway and the services as child processes of `sanlun up`.

Each child is uvicorn in its own process group, so a Ctrl-C in the terminal
reaches only the supervisor, which then stops the children in a known order:
the edge (the gateway) first, so it stops taking requests and finishes the
ones in flight while the services behind it still answer, then the services,
each with SIGTERM, a grace period, then SIGKILL. On Linux a child also gets
SIGTERM if the supervisor itself dies (even by SIGKILL), so no orphan keeps
holding a port.

A child that exits without being asked to (a crash, an OOM kill, `kill -9`) is
started again after an exponential backoff, while the others keep serving;
see `RestartPolicy`.

Children's output is forwarded line by line, prefixed with the process name;
the last lines of each are kept to explain a failure.
"""

from __future__ import annotations

import collections
import contextlib
import enum
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
from typing import ClassVar, TextIO

from sanlun.kernel.logging import UVICORN_LOG_CONFIG

TAIL_LINES = 40
GRACE_SECONDS = 10.0
# `sanlun up --workers N`: how long uvicorn's parent waits for a worker's answer
# before it takes the worker for hung and replaces it.
WORKER_HEALTHCHECK_SECONDS = 20
SUPERVISOR_NAME = "supervisor"
# argv[1] of a child: `python -m sanlun.supervisor child <supervisor pid> <uvicorn args...>`
CHILD_MARKER = "child"
# `child <supervisor pid> --log-service <name> <uvicorn args...>`: the `service`
# field of the child's log lines from its first line on.
LOG_SERVICE_FLAG = "--log-service"


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    factory: str
    port: int
    # Edge processes take outside traffic: they are stopped first, and the
    # others only once they have drained.
    edge: bool = False


class SupervisorError(Exception):
    """`sanlun up` cannot go on; the message says why and what to do."""


def public_host(host: str) -> str:
    """The address to reach a server bound to `host` from this machine."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - the wildcard address is an input here, not a bind
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def base_url(host: str, port: int) -> str:
    h = public_host(host)
    return f"http://[{h}]:{port}" if ":" in h else f"http://{h}:{port}"


# --- restart policy --------------------------------------------------------


@dataclass(frozen=True)
class RestartPolicy:
    """How a crashed child is started again.

    The n-th failure in a row waits `initial_delay * 2**(n-1)`, at most
    `max_delay`. A child that stayed up and ready for `reset_after` seconds
    before it failed starts the count over. A child is restarted at most
    `max_failures` times in a row; the next failure makes the supervisor give
    up and stop everything (0: no limit, it never gives up).
    """

    initial_delay: float = 0.5
    max_delay: float = 15.0
    reset_after: float = 60.0
    max_failures: int = 0

    ENV: ClassVar[dict[str, str]] = {
        "initial_delay": "SANLUN_RESTART_INITIAL_DELAY",
        "max_delay": "SANLUN_RESTART_MAX_DELAY",
        "reset_after": "SANLUN_RESTART_RESET_AFTER",
        "max_failures": "SANLUN_RESTART_MAX_FAILURES",
    }

    def __post_init__(self) -> None:
        if (
            self.initial_delay <= 0
            or self.max_delay < self.initial_delay
            or self.reset_after < 0
            or self.max_failures < 0
        ):
            raise ValueError(f"invalid restart policy {self}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RestartPolicy:
        values: dict[str, float | int] = {}
        for attr, name in cls.ENV.items():
            raw = environ.get(name)
            if raw:
                try:
                    values[attr] = int(raw) if attr == "max_failures" else float(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r} is not a number") from None
        return cls(**values)  # type: ignore[arg-type]


class Backoff:
    """The failure count and next delay of one child. `clock` is injectable
    (monotonic seconds) so the policy is testable without waiting."""

    def __init__(self, policy: RestartPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.failures = 0
        self.ready_since: float | None = None

    def ready(self) -> None:
        """The child answers /health/ready."""
        if self.ready_since is None:
            self.ready_since = self.clock()

    def failed(self) -> float | None:
        """Record an exit nobody asked for; return the seconds to wait before
        starting it again, or None when the crash-loop limit is reached."""
        if self.ready_since is not None and self.clock() - self.ready_since >= self.policy.reset_after:
            self.failures = 0
        self.ready_since = None
        self.failures += 1
        if self.policy.max_failures and self.failures > self.policy.max_failures:
            return None
        return min(self.policy.max_delay, self.policy.initial_delay * 2 ** min(self.failures - 1, 62))


# --- ports -----------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    family, _, _, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # uvicorn binds with SO_REUSEADDR too; without it a port in TIME_WAIT
        # would look taken although uvicorn could use it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def port_owner_pid(port: int) -> int | None:
    """The pid listening on `port`, when /proc lets us see it (Linux, and a
    process we may inspect)."""
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
                return int(proc.name)
        except OSError:
            continue
    return None


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def port_owner(port: int) -> str | None:
    """`pid 1234 (python -m http.server)` for the process listening on `port`."""
    pid = port_owner_pid(port)
    if pid is None:
        return None
    return f"pid {pid} ({' '.join(_cmdline(pid))[:120]})"


def orphaned_child(pid: int) -> int | None:
    """The pid of the dead `sanlun up` that started `pid`, if `pid` is one of
    its children left running: its command line names the supervisor, and
    it has since been re-parented (which happens only when that parent died)."""
    argv = _cmdline(pid)
    try:
        at = argv.index("sanlun.supervisor")
        if argv[at + 1] != CHILD_MARKER:
            return None
        supervisor = int(argv[at + 2])
    except (ValueError, IndexError):
        return None
    parent = _parent_pid(pid)
    return supervisor if parent is not None and parent != supervisor else None


def stop_process_group(pid: int, timeout: float) -> bool:
    """SIGTERM the group led by `pid`, SIGKILL it after `timeout`; True once gone."""
    for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return True
            time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def check_ports(host: str, specs: Sequence[ProcessSpec], say: Callable[[str], None] = print) -> None:
    """Raise `SupervisorError` naming the owner of a taken port. A child left
    running by a `sanlun up` that was killed is stopped instead (and said so)."""
    for spec in specs:
        if port_is_free(host, spec.port):
            continue
        pid = port_owner_pid(spec.port)
        dead_parent = orphaned_child(pid) if pid is not None else None
        if pid is not None and dead_parent is not None:
            say(
                f"Port {spec.port} is held by pid {pid}, a child of a `sanlun up` (pid {dead_parent}) "
                "that is gone: stopping it."
            )
            stop_process_group(pid, GRACE_SECONDS)
            deadline = time.monotonic() + 2
            while not port_is_free(host, spec.port) and time.monotonic() < deadline:
                time.sleep(0.05)
            if port_is_free(host, spec.port):
                continue
        owner = port_owner(spec.port) or "another process"
        raise SupervisorError(
            f"Port {spec.port} on {host} (for {spec.name}) is already in use by {owner}. "
            "Stop that process or choose other ports with --base-port."
        )


# --- children --------------------------------------------------------------


class State(enum.Enum):
    STARTING = "starting"  # running, not yet answering /health/ready
    READY = "ready"
    WAITING = "waiting"  # exited; restarts at `restart_at`
    STOPPED = "stopped"


@dataclass
class Child:
    spec: ProcessSpec
    process: subprocess.Popen[str]
    backoff: Backoff
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None
    state: State = State.STARTING
    started_at: float = 0.0
    exited_at: float | None = None
    restart_at: float = 0.0
    late_reported: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail_text(self) -> str:
        return "\n".join(f"    {line}" for line in self.tail) or "    (no output)"

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "?"
        return f"was killed by signal {-code} ({name})"
    return f"exited with code {code}"


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        host: str,
        env: Mapping[str, str],
        out: TextIO = sys.stdout,
        grace_seconds: float = GRACE_SECONDS,
        restart: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.specs = list(specs)
        self.workers = workers
        self.host = host
        self.env = dict(env)
        self.out = out
        self.grace_seconds = grace_seconds
        self.restart = restart or RestartPolicy()
        self.clock = clock
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._width = max(len(s.name) for s in [*self.specs, ProcessSpec(SUPERVISOR_NAME, "", 0)])

    def say(self, text: str) -> None:
        with self._write_lock:
            self.out.write(text + "\n")
            self.out.flush()

    def event(self, text: str) -> None:
        """A supervisor event, timestamped, in the same columns as the children."""
        stamp = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        self.say(f"{SUPERVISOR_NAME:<{self._width}} | {stamp} {text}")

    def command(self, spec: ProcessSpec) -> list[str]:
        return [
            sys.executable,
            "-m",
            "sanlun.supervisor",
            CHILD_MARKER,
            str(os.getpid()),
            LOG_SERVICE_FLAG,
            spec.name,
            "--factory",
            spec.factory,
            "--host",
            self.host,
            "--port",
            str(spec.port),
            # "auto" would log a failing lifespan and serve anyway
            "--lifespan",
            "on",
            # No `Server: uvicorn` banner on the answers (issue 16).
            "--no-server-header",
            # The peer is the client: the gateway reads X-Forwarded-For itself,
            # from SANLUN_GATEWAY_TRUSTED_PROXIES only (gateway.auth_failures).
            "--no-proxy-headers",
            # uvicorn finishes the requests in flight, then cancels what is left
            # in time for its lifespan shutdown, before the supervisor's SIGKILL.
            "--timeout-graceful-shutdown",
            str(max(1, int(self.grace_seconds * 0.7))),
            # uvicorn's own lines (also those before the app starts) as JSON,
            # each naming the process like the app's lines (sanlun/kernel/logging.py)
            "--log-config",
            str(UVICORN_LOG_CONFIG),
            *self._worker_args(),
        ]

    def _worker_args(self) -> list[str]:
        """Several workers: uvicorn's own parent process binds the port, starts
        them, restarts one that dies and stops them all on SIGTERM; all of them
        stay in the child's process group (see `_schedule_restart`). It takes a
        worker that does not answer its ping in time for hung and replaces it: a
        starting worker imports the whole app first, which takes longer than
        uvicorn's 5 s on a busy machine, so it gets `WORKER_HEALTHCHECK_SECONDS`."""
        if self.workers == 1:
            return []
        return ["--workers", str(self.workers), "--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_SECONDS)]

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen[str]:
        # Always called from the main thread: PR_SET_PDEATHSIG fires when the
        # thread that forked the child ends, not only the process.
        return subprocess.Popen(
            self.command(spec),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            process_group=0,
        )

    def _read(self, child: Child) -> None:
        child.reader = threading.Thread(
            target=self._forward,
            args=(child, child.process),
            name=f"out-{child.spec.name}",
            daemon=True,
        )
        child.reader.start()

    def start(self) -> None:
        now = self.clock()
        for spec in self.specs:
            child = Child(spec, self._spawn(spec), Backoff(self.restart, self.clock), started_at=now)
            self.children.append(child)
        for child in self.children:
            self._read(child)

    def _forward(self, child: Child, process: subprocess.Popen[str]) -> None:
        if process.stdout is None:  # started without a pipe: nothing to forward
            return
        with process.stdout:
            for raw in process.stdout:
                line = raw.rstrip("\n")
                child.tail.append(line)
                self.say(f"{child.spec.name:<{self._width}} | {line}")

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.state is not State.WAITING and not c.alive()), None)

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
                now = self.clock()
                for child in self.children:
                    child.state = State.READY
                    child.backoff.ready()
                    child.started_at = now
                return
            if time.monotonic() > deadline:
                late = pending[0]
                raise SupervisorError(
                    f"{late.spec.name} (pid {late.pid}) did not answer "
                    f"{base_url(self.host, late.spec.port)}/health/ready "
                    f"with 200 within {timeout:.0f}s. Its last output:\n{late.tail_text()}"
                )
            self.stopping.wait(0.25)

    # --- supervising ---

    def supervise(self, *, ready_timeout: float, poll: float = 0.1) -> Child | None:
        """Restart children that exit until a stop is requested (None), or a
        child fails more often in a row than the policy allows (that child)."""
        while not self.stopping.is_set():
            for child in self.children:
                if self.stopping.is_set():
                    break
                if child.state in (State.STARTING, State.READY) and not child.alive():
                    if not self._schedule_restart(child):
                        return child
                elif child.state is State.WAITING and self.clock() >= child.restart_at:
                    self._restart(child)
                elif child.state is State.STARTING:
                    self._check_restarted(child, ready_timeout)
            self.stopping.wait(poll)
        return None

    def _schedule_restart(self, child: Child) -> bool:
        # uvicorn's workers outlive a parent that was killed outright, still holding the
        # port its replacement must bind: they go with it (its process group).
        child.signal_group(signal.SIGKILL)
        if child.reader:
            child.reader.join(timeout=0.5)  # its last lines first
        now = self.clock()
        child.exited_at = now
        delay = child.backoff.failed()
        how = describe_exit(child.process.returncode)
        if delay is None:
            child.state = State.STOPPED
            self.event(
                f"{child.spec.name} (pid {child.pid}) {how}; that is {child.backoff.failures} failures in a row, "
                f"more than the {self.restart.max_failures} restarts allowed: giving up"
            )
            return False
        child.state = State.WAITING
        child.restart_at = now + delay
        self.event(
            f"{child.spec.name} (pid {child.pid}) {how}; restarting it in {delay:g}s (attempt {child.backoff.failures})"
        )
        return True

    def _restart(self, child: Child) -> None:
        child.process = self._spawn(child.spec)
        child.tail.clear()
        child.state = State.STARTING
        child.started_at = self.clock()
        child.late_reported = False
        self._read(child)
        self.event(
            f"{child.spec.name} restarted as pid {child.pid} (attempt {child.backoff.failures}); "
            "waiting for /health/ready"
        )

    def _check_restarted(self, child: Child, ready_timeout: float) -> None:
        if _answers_ready(self.host, child.spec.port, timeout=1):
            child.state = State.READY
            child.backoff.ready()
            down = self.clock() - (child.exited_at if child.exited_at is not None else child.started_at)
            self.event(f"{child.spec.name} (pid {child.pid}) is ready again, {down:.1f}s after it stopped")
        elif not child.late_reported and self.clock() - child.started_at > ready_timeout:
            child.late_reported = True
            self.event(
                f"{child.spec.name} (pid {child.pid}) is not ready {ready_timeout:.0f}s after its restart; "
                "still waiting. "
                f"Its last output:\n{child.tail_text()}"
            )

    # --- stopping ---

    def stop(self) -> None:
        """The edge processes first (they drain their requests in flight while
        the services behind them still answer), then the others together."""
        edge = [c for c in self.children if c.spec.edge]
        rest = [c for c in self.children if not c.spec.edge]
        for wave in (edge, rest):
            self._stop_wave(wave)
        for child in self.children:
            if child.reader:
                child.reader.join(timeout=2)

    def _stop_wave(self, wave: Sequence[Child]) -> None:
        running = [c for c in wave if c.alive()]
        for child in wave:
            child.state = State.STOPPED
        if not running:
            return
        self.event("stopping " + ", ".join(f"{c.spec.name} (pid {c.pid})" for c in running))
        started = time.monotonic()
        for child in running:
            child.signal_group(signal.SIGTERM)
        deadline = started + self.grace_seconds
        for child in running:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.event(f"{child.spec.name} did not stop within {self.grace_seconds:g}s; killing it")
                child.signal_group(signal.SIGKILL)
                child.process.wait()
        # uvicorn ends a graceful shutdown by re-raising the SIGTERM it got.
        odd = [
            f"{c.spec.name} {describe_exit(c.process.returncode)}"
            for c in running
            if c.process.returncode not in (0, -signal.SIGTERM)
        ]
        self.event(
            "stopped "
            + ", ".join(c.spec.name for c in running)
            + f" in {time.monotonic() - started:.2f}s"
            + (f" ({'; '.join(odd)})" if odd else "")
        )

    def _death_message(self, child: Child, when: str) -> str:
        return (
            f"{child.spec.name} (pid {child.pid}) {describe_exit(child.process.returncode)} {when}. "
            f"Its last output:\n{child.tail_text()}"
        )

    def run(self, *, ready_timeout: float, on_ready: Callable[[], None] | None = None) -> int:
        """Start, wait until ready, then supervise (restarting crashed children)
        until SIGINT/SIGTERM (exit 0) or a child exceeds the crash-loop limit
        (exit 1). Children are always stopped on the way out."""
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
            failed = self.supervise(ready_timeout=ready_timeout)
            if failed:
                self.say(f"error: {self._death_message(failed, 'too often')}\nStopping the other processes.")
                return 1
            self.event("stop requested")
            return 0
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping.set()


def _answers_ready(host: str, port: int, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url(host, port)}/health/ready", timeout=timeout) as resp:  # noqa: S310 - http URL built here
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --- inside a child --------------------------------------------------------


def _child_main(argv: Sequence[str]) -> None:  # pragma: no cover - runs in the child
    """`python -m sanlun.supervisor child <supervisor pid> [--log-service <name>]
    <uvicorn args>`: ask the kernel for SIGTERM when the supervisor dies, name
    the process in its logs, then become uvicorn.

    Done here rather than in a `preexec_fn`, which is unsafe once the
    supervisor has threads (it restarts children while its readers run)."""
    supervisor = int(argv[0])
    if sys.platform == "linux":
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != supervisor:  # it died before the prctl took effect
            sys.exit(0)
    args = list(argv[1:])
    if args[:1] == [LOG_SERVICE_FLAG]:
        from sanlun.kernel.logging import name_process

        name_process(args[1])
        args = args[2:]
    from uvicorn.main import STARTUP_FAILURE
    from uvicorn.main import main as uvicorn_main

    try:
        uvicorn_main(args=args, prog_name="uvicorn")
    except Exception:
        # What uvicorn lets escape (an app module that fails to import) goes
        # through its JSON log config instead of a plain traceback on stderr.
        import logging

        logging.getLogger("uvicorn.error").exception("the process could not start")
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) > 2 and sys.argv[1] == CHILD_MARKER:
        _child_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m sanlun.supervisor child <supervisor pid> <uvicorn args...> (run by `sanlun up`)")
