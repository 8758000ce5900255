"""mkdocs on a site folder: `mkdocs build` run to the end, `mkdocs serve` started, waited
for and stopped cleanly."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from scripts.harness import HarnessError
from scripts.harness.children import RUN_TIMEOUT, ChildRun, run_child, stop_child
from scripts.probes import free_port

_SERVING_LINE = re.compile(r"Serving on http://[^/\s]+(/\S*)")


def mkdocs_command() -> str:
    """The mkdocs of this interpreter's environment (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mkdocs"
    if beside.exists():
        return str(beside)
    found = shutil.which("mkdocs")
    if found is None:
        raise HarnessError("mkdocs is not installed next to this python nor on PATH (run `make venv`)")
    return found


def mkdocs_build(
    root: Path,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    *,
    timeout: float = RUN_TIMEOUT,
    wrapper: Sequence[str] = (),
) -> ChildRun:
    """`mkdocs build ARGS` in the site folder `root` with `env`, run to the end (`wrapper`: a
    command that runs it, e.g. faketime)."""
    return run_child([*wrapper, mkdocs_command(), "build", *args], cwd=root, env=env, timeout=timeout)


class ServerExited(HarnessError):
    """`mkdocs serve` ended while it was waited for."""


class MkdocsServer:
    """`mkdocs serve` of the site folder `root` with `env`, on a free loopback port, its log in `log_path`."""

    def __init__(self, root: Path, env: Mapping[str, str], log_path: Path) -> None:
        self.root = root
        self.env = dict(env)
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.mount: str | None = None  # the path the server serves the site on, once it says

    def start(self) -> None:
        command = [mkdocs_command(), "serve", "--dev-addr", f"127.0.0.1:{self.port}"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    @property
    def log(self) -> str:
        """What the server has printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def exited(self) -> int | None:
        """The server's exit code, or None while it runs."""
        assert self.process is not None
        return self.process.poll()

    def page(self, path: str = "") -> str | None:
        """The page at `path` (below the path the server serves the site on) as served now,
        or None if the server does not answer it (yet)."""
        if self.mount is None:
            found = _SERVING_LINE.search(self.log)
            if found is None:
                return None
            self.mount = found.group(1).rstrip("/") + "/"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", self.mount + path, headers={"Connection": "close"})
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
            return body if response.status == 200 else None
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def wait(self, holds: Callable[[str | None], bool], timeout: float, path: str = "") -> str | None:
        """Poll the page at `path` until `holds(page)` (None: no answer); that page.
        ServerExited if the server ends meanwhile, TimeoutError past `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited() is not None:
                raise ServerExited(f"mkdocs serve exited ({self.exited()})")
            page = self.page(path)
            if holds(page):
                return page
            time.sleep(0.3)
        raise TimeoutError(f"mkdocs serve: nothing that holds within {timeout:g}s")

    def stop(self) -> str:
        """Stop the server: SIGINT, then SIGTERM (the site's handler ends a build cleanly), then kill."""
        if self.process is None:
            return "not running"
        return stop_child(self.process, (signal.SIGINT, signal.SIGTERM))
