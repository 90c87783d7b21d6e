"""Start real service processes (uvicorn) for tests that need them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sanlun.topology import BY_NAME
from tests.support import ROOT, TEST_SECRET, TEST_SERVICE_SECRET
from tests.support_servers import closed_peer_urls


class ServiceProcess:
    """Service `name` on 127.0.0.1:`port`. Its peers are at closed ports unless
    `env` names them (`SANLUN_OPPORTUNITY_URL`), never at the default ports."""

    def __init__(self, name: str, port: int, *, database_url: str, log_dir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.port = port
        self.env = {
            **os.environ,
            "SANLUN_DATABASE_URL": database_url,
            "SANLUN_JWT_SECRET": TEST_SECRET,
            "SANLUN_SERVICE_SECRET": TEST_SERVICE_SECRET,
            "SANLUN_ENVIRONMENT": "test",
            **{f"SANLUN_{key.upper()}": url for key, url in closed_peer_urls().items()},
            f"SANLUN_{name.upper()}_URL": f"http://127.0.0.1:{port}",
            **(env or {}),
        }
        self.log_path = log_dir / f"{name}-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                BY_NAME[self.name].app_factory,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, as when a machine dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
