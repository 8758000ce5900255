"""Builds through BuildKit: `docker buildx build --progress=plain`, as a reader runs them.

The docker SDK cannot drive BuildKit, so the build runs the docker CLI's buildx plugin
(the docker driver: the image lands in the engine's own store), from a folder holding the
build context exactly as the site assembled it (`lay_out`). What it prints with
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
import stat
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

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


def builder_platforms(host: str | None) -> list[str]:
    """The platforms the engine's builder can build for (`docker buildx inspect`'s `Platforms:`):
    its own, and those it emulates (QEMU registered with binfmt_misc)."""
    found = re.search(r"^Platforms:\s*(.+)$", _buildx("inspect", host=host), re.M)
    return [name.strip() for name in found.group(1).split(",")] if found else []


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


def lay_out(folder: Path, request: BuildRequest) -> None:
    """Make `folder` hold exactly the files of the context, each with its date.

    BuildKit sends a file again when its size, mode or date differ from what it last received
    from a folder of that name. So a file whose bytes are there already keeps its place; one
    whose bytes changed is written with its date, or one second later if that date is the
    old one (BuildKit would not look at it otherwise); a file no longer in the context goes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(request.context.tar)) as archive:
        for member in archive.getmembers():
            wanted.add(member.name)
            target = folder / member.name
            when = request.times.get(member.name, member.mtime)
            if member.issym():
                if not (target.is_symlink() and os.readlink(target) == member.linkname):
                    _remove(target)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                continue
            stream = archive.extractfile(member)
            data = stream.read() if stream is not None else b""
            _place(target, data, member.mode, when)
    for path in sorted(folder.rglob("*"), reverse=True):  # the deepest first
        relative = path.relative_to(folder).as_posix()
        if relative not in wanted and not any(name.startswith(relative + "/") for name in wanted):
            _remove(path)


def _place(target: Path, data: bytes, mode: int, when: int) -> None:
    """`target` holds `data`, with `mode` and date `when` (or a date that differs from its old one)."""
    old = target.lstat() if target.is_symlink() or target.exists() else None
    if old is not None and stat.S_ISREG(old.st_mode) and target.read_bytes() == data:
        if stat.S_IMODE(old.st_mode) != mode:
            os.chmod(target, mode)
        if int(old.st_mtime) != when:
            os.utime(target, (when, when))
        return
    if old is not None:
        if int(old.st_mtime) == when:
            when += 1  # new bytes under the old date: BuildKit would take the file as unchanged
        if not stat.S_ISREG(old.st_mode):
            _remove(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    os.chmod(target, mode)
    os.utime(target, (when, when))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()


class BuildKitBuilder:
    """`docker buildx build` against one engine; running builds can be cancelled."""

    name = "buildkit"

    def __init__(self, host: str | None, timeout: float = 1800.0) -> None:
        self.host = host
        self.timeout = timeout
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def build(self, request: BuildRequest, log: PlainLog | None = None) -> PlainLog:
        """Build; the log, or BuildFailed whose detail is the builder's own error text.

        The context is laid out in a folder, as a reader's `docker build .` sends one:
        BuildKit then reads its .dockerignore as it would for the reader, and sends only the
        files that changed since its last build from a folder of that name (`lay_out`).
        """
        log = log if log is not None else PlainLog()
        command = ["docker", "buildx", "build", "--progress=plain"]
        command += [f"--build-arg={k}={v}" for k, v in request.build_args.items()]
        command += [f"--no-cache-filter={stage}" for stage in request.no_cache_filter]
        command += [f"--secret=id={secret},src={path}" for secret, path in request.secrets.items()]
        if request.cache_only:
            command += ["--output", "type=cacheonly"]
        else:
            command += [f"--label={k}={v}" for k, v in request.labels.items()]
            command += ["-t", request.tag]
        if request.target:
            command += ["--target", request.target]
        if request.platform:
            command += ["--platform", request.platform]
        with contextlib.ExitStack() as stack:
            folder = request.folder
            if folder is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="livedocs-context-")))
            lay_out(folder, request)
            command += ["-f", str(folder / request.context.dockerfile), str(folder)]
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
            if process.stdout is not None:
                process.stdout.close()
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
