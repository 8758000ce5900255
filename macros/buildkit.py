"""Builds through BuildKit: `docker buildx build --progress=plain`, as a reader runs them.

The docker SDK cannot drive BuildKit, so the build runs the docker CLI's buildx plugin
(the docker driver: the image lands in the engine's own store), from a temporary folder
holding the build context exactly as the site assembled it. What it prints with
`--progress=plain` is what a reader sees; `PlainLog` reads it as it streams: the
numbered `[stage n/m]` steps, which came from the cache, how long each took, what was
sent of the build context, and the error of a failed build with its Dockerfile line.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field

from .context import BuildRequest
from .errors import BuildFailed, LivedocsError
from .settings import docker_environment

_VERTEX = re.compile(r"^#(\d+) (.*)$")
_STEP = re.compile(r"^\[(?P<stage>[^\]]*?) ?(?P<index>\d+)/(?P<count>\d+)\] (?P<instruction>.*)$")
_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
_TRANSFER = re.compile(r"transferring context: (\d+(?:\.\d+)?[kMG]?B)")
_PLACE = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+)$")
# BuildKit's own bookkeeping steps (loading the Dockerfile, .dockerignore, the context and
# base image metadata): folded away in the listings, which the page says.
_FOLDED = ("[internal] ",)


@dataclass
class Vertex:
    number: int
    name: str
    cached: bool = False
    seconds: float | None = None
    error: str | None = None
    lines: list[str] = field(default_factory=list)  # as printed, "#N ..." included


@dataclass
class PlainLog:
    """`--progress=plain` output, read line by line."""

    lines: list[str] = field(default_factory=list)
    vertices: dict[int, Vertex] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)  # the error summary after the steps

    def add(self, line: str) -> None:
        line = line.rstrip("\n")
        self.lines.append(line)
        match = _VERTEX.match(line)
        if not match:
            if self.tail or line.startswith(("------", "ERROR:")) or any(v.error for v in self.vertices.values()):
                self.tail.append(line)
            return
        number, text = int(match.group(1)), match.group(2)
        vertex = self.vertices.get(number)
        if vertex is None:
            vertex = self.vertices[number] = Vertex(number, text)
        vertex.lines.append(line)
        if text == "CACHED":
            vertex.cached = True
        elif done := _DONE.match(text):
            vertex.seconds = float(done.group(1))
        elif text.startswith("ERROR: "):
            vertex.error = text.removeprefix("ERROR: ")

    def steps(self) -> list[tuple[Vertex, re.Match[str]]]:
        """The Dockerfile's own steps (`[build 2/4] WORKDIR /src`), in the order they started."""
        found = []
        for vertex in self.vertices.values():
            match = _STEP.match(vertex.name)
            if match:
                found.append((vertex, match))
        return found

    def listing(self) -> str:
        """What the reader's build prints, its internal steps folded away."""
        kept: list[str] = []
        for line in self.lines:
            match = _VERTEX.match(line)
            if match and (match.group(1) == "0" or self.vertices[int(match.group(1))].name.startswith(_FOLDED)):
                continue
            if not line.strip() and (not kept or not kept[-1].strip()):
                continue
            kept.append(line)
        return "\n".join(kept).strip()

    def failure(self) -> str:
        """The failed step's own lines, then the builder's summary and its `ERROR:` line."""
        failed = [v for v in self.vertices.values() if v.error is not None]
        shown = [line for vertex in failed[-1:] for line in vertex.lines]
        return "\n".join([*shown, *self.tail]).strip() or "\n".join(self.lines[-20:])

    def context_size(self) -> str | None:
        """What `transferring context: 2.05kB` says was sent of the build context, as printed."""
        for vertex in self.vertices.values():
            if vertex.name == "[internal] load build context":
                for line in vertex.lines:
                    found = _TRANSFER.search(line)
                    if found:
                        return found.group(1)
        return None

    def failed_place(self) -> tuple[str, int] | None:
        """(Dockerfile, line) the builder points at, if it does."""
        for line in self.tail:
            match = _PLACE.match(line.strip())
            if match:
                return match.group("file"), int(match.group("line"))
        return None


@functools.cache
def buildx_version() -> str | None:
    """buildx's version if `docker buildx` answers, else None; asked once per process (the
    plugin is the CLI's, the same for every engine)."""
    words = _buildx("version", host=None).split()
    return words[1] if len(words) > 1 else None


def buildkit_version(host: str | None) -> str:
    """The engine's BuildKit version, as `docker buildx inspect` reports it ("" if it does not)."""
    found = re.search(r"^BuildKit version:\s*(\S+)", _buildx("inspect", host=host), re.M)
    return found.group(1) if found else ""


def _buildx(command: str, host: str | None) -> str:
    """What `docker buildx <command>` prints for the engine at `host`; "" if it fails or is missing."""
    docker = shutil.which("docker")
    if docker is None:
        return ""
    try:
        done = subprocess.run(
            [docker, "buildx", command],
            env=docker_environment(host),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


class BuildKitBuilder:
    """`docker buildx build` against one engine; running builds can be cancelled."""

    name = "buildkit"

    def __init__(self, host: str | None, timeout: float = 1800.0) -> None:
        self.host = host
        self.timeout = timeout
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def build(self, request: BuildRequest, log: PlainLog | None = None) -> PlainLog:
        """Build; the log, or BuildFailed whose detail is the builder's own error text."""
        log = log if log is not None else PlainLog()
        command = ["docker", "buildx", "build", "--progress=plain"]
        command += [f"--label={k}={v}" for k, v in request.labels.items()]
        command += [f"--build-arg={k}={v}" for k, v in request.build_args.items()]
        command += ["-t", request.tag]
        if request.target:
            command += ["--target", request.target]
        with tempfile.TemporaryDirectory(prefix="livedocs-context-") as folder:
            # A folder, as a reader's `docker build .` sends: BuildKit then reports the
            # context it transfers, and reads .dockerignore as it would for the reader.
            with tarfile.open(fileobj=io.BytesIO(request.context.tar)) as archive:
                archive.extractall(folder, filter="tar")
            command += ["-f", os.path.join(folder, request.context.dockerfile), folder]
            self._run(command, log)
        return log

    def _run(self, command: list[str], log: PlainLog) -> None:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=docker_environment(self.host),
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # an interrupt is handled here, not sent to it by the terminal
            )
        except OSError as error:
            raise LivedocsError(f"cannot run docker buildx: {error}") from None
        with self._lock:
            self._running.add(process)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                log.add(line)
            code = process.wait(timeout=self.timeout)
        finally:
            with self._lock:
                self._running.discard(process)
        if code != 0:
            raise BuildFailed("the build failed", detail=log.failure())

    def cancel(self) -> None:
        """Stop every running build (an interrupt): buildx cancels the build in the engine."""
        with self._lock:
            running = list(self._running)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
