"""A throwaway second dockerd, on its own socket (and a loopback TCP port) and data root.

Started and stopped by the tests that need to hurt an engine (kill it mid-build, freeze
it, point DOCKER_HOST at it); the engine everything else uses is never touched. The engine
itself is the harness's (scripts/harness/engines.py), as the benchmark's cold rounds start it.
"""

from __future__ import annotations

import os
import signal
import subprocess

from scripts.harness import HarnessError
from scripts.harness.engines import ThrowawayEngine


class SecondEngine(ThrowawayEngine):
    def __init__(self) -> None:
        super().__init__("overlay2", tcp=True)
        self.unix_host = self.host

    def start(self, timeout: float = 60) -> SecondEngine:  # type: ignore[override]
        super().start()
        try:
            self.wait(timeout)
        except HarnessError as error:
            raise RuntimeError(f"second dockerd did not start: {error}") from None
        return self

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
