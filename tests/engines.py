"""A throwaway second dockerd, on its own socket (and a loopback TCP port) and data root.

Started and stopped by the tests that need to hurt an engine (kill it mid-build, freeze
it, point DOCKER_HOST at it); the engine everything else uses is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.probes import free_port, processes_naming


class SecondEngine:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="livedocs-dockerd-"))
        self.socket = self.home / "docker.sock"
        self.port = free_port()
        self.unix_host = f"unix://{self.socket}"
        self.tcp_host = f"tcp://127.0.0.1:{self.port}"
        self.log = self.home / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        # A bridge of its own: with --bridge=none, or sharing docker0, a second
        # dockerd tears down the main engine's docker0 when it starts or stops.
        self.bridge = f"ldbr{os.getpid() % 10000}"

    def start(self, timeout: float = 60) -> SecondEngine:
        subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], capture_output=True, check=False)
        subprocess.run(["ip", "addr", "add", "172.29.244.1/24", "dev", self.bridge], capture_output=True, check=False)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], capture_output=True, check=True)
        env = {
            **os.environ,
            # as the main engine: any registry traffic goes to a dead loopback proxy
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "localhost,127.0.0.1",
        }
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    f"--host={self.unix_host}",
                    f"--host={self.tcp_host}",
                    f"--data-root={self.home / 'data'}",
                    f"--exec-root={self.home / 'exec'}",
                    f"--pidfile={self.home / 'dockerd.pid'}",
                    f"--bridge={self.bridge}",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--storage-driver=overlay2",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.docker("info", check=False).returncode == 0:
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"second dockerd did not start: {self.log.read_text()[-2000:]}")

    def docker(self, *args: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "-H", self.unix_host, *args], capture_output=True, text=True, check=check, timeout=120, **kwargs
        )

    def load_from_main(self, *images: str) -> None:
        """Copy images from the main engine (never from a registry)."""
        saved = subprocess.run(["docker", "save", *images], capture_output=True, check=True).stdout
        subprocess.run(["docker", "-H", self.unix_host, "load"], input=saved, capture_output=True, check=True)

    def freeze(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """The engine dies: SIGKILL, no chance to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        # containerd-shims of a killed engine may linger in the session, or (started in a
        # session of their own) outside it: every process that names this engine's folder
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.process is not None:
                os.killpg(self.process.pid, signal.SIGKILL)
        for pid in processes_naming(str(self.home)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        subprocess.run(["umount", "-R", str(self.home / "exec" / "netns")], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(self.home / "data")], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(self.home / "exec")], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
