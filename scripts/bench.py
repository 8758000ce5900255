#!/usr/bin/env python3
"""Benchmark the site: what measuring on a live engine costs over replaying the record.

One run, on a temporary copy of the site (docs/, examples/ and mkdocs.yml copied, macros/
symlinked), so that the repository's examples/measurements.json is never rewritten and
nothing is built into site/:

  replay build     LIVEDOCS_ENGINE=replay mkdocs build: no engine work; the baseline
  warm live build  LIVEDOCS_ENGINE=live with every image cached; target <= 1.15 x replay
  cold live build  this site's images (and so their layer cache) removed, then a live
                   build; target <= 1.0 x the docker CLI building the same Dockerfiles
                   one after another (DOCKER_BUILDKIT=0), cleared the same way first
  serve            under `mkdocs serve`: prose edit -> page shows it; example edit ->
                   page shows the changed figure (and the log says the rebuild ended);
                   container events during the prose edit (target 0)
  peak memory      max RSS of a replay build, with and without the macros module

Every timing is wall-clock, repeated --repeat times (default 3); the median is reported.
The table gives each median, its ratio to its baseline, the target and whether it is met;
the results go to bench/results-<timestamp>.json and bench/latest.json, and the figures of
the previous latest.json are printed beside the new ones. A missed target is reported in
the table, not by the exit status: the exit status is non-zero only when the benchmark
itself could not run.

    .venv/bin/python scripts/bench.py [--repeat N] [--quick] [--results-dir DIR] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import http.client
import io
import json
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO / "bench"
DEFAULT_IMAGE_MAP = REPO / "tests" / "standins" / "image-map.yml"
SCHEMA = 1
STAGE_REPOSITORY = "livedocs-stage"  # the site's tags for multi-stage build stages
STANDIN_REPOSITORY = "standin/"  # the offline base images: never removed
CLI_PREFIX = "bench-cli-"  # tags of the images the docker CLI baseline builds
PROSE_PAGE = "docs/multi-stage.md"
PROSE_URL = "multi-stage/"  # below the path the server says it serves on (site_url's path)
EXAMPLE_FILE = "examples/go-app/main.go"
EXAMPLE_TEXT = 'fmt.Fprintf(w, "'  # the handler's reply; the marker goes right after it
WARM_TARGET = 1.15
COLD_TARGET = 1.0
BUILD_TIMEOUT = 3600.0
SERVE_TIMEOUT = 900.0
_LAYER_LINE = re.compile(r"^\s*---> ([0-9a-f]{12})\s*$", re.M)
# The end of a serve rebuild: the browsers are reloaded after every build that returns
# (mkdocs does not always log "Documentation built" for a rebuild), or the rebuild failed.
_REBUILT_LINE = re.compile(r"Reloading browsers|An error happened during the rebuild")
_CONTAINER_LINE = re.compile(r"^\s*---> Running in ([0-9a-f]{12})\s*$", re.M)
_SERVING_LINE = re.compile(r"Serving on http://[^/\s]+(/\S*)")
_SITE_LINE = re.compile(r"livedocs: (?:building |built |\S+ failed as expected).*")
_SUMMARY_LINE = re.compile(r"livedocs: built \d+, cached \d+.*")


class BenchError(Exception):
    """The benchmark itself cannot go on (as opposed to a target that is missed)."""


def say(message: str) -> None:
    """Progress, on stderr, so that stdout carries the table only."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- child processes ------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: wall-clock seconds, peak memory, exit code, output."""

    seconds: float
    max_rss_mb: float
    code: int
    output: str

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_child(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = BUILD_TIMEOUT) -> ChildRun:
    """Run `command` to the end; its wall-clock time and its own max RSS (from wait4)."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    # Linux reports ru_maxrss in kilobytes.
    return ChildRun(seconds, usage.ru_maxrss / 1024, process.returncode, output)


def child_env(mode: str | None, image_map: str) -> dict[str, str]:
    """The environment of a site build: LIVEDOCS_ENGINE as given, the image map, no serve flag."""
    env = {key: value for key, value in os.environ.items() if key not in ("LIVEDOCS_ENGINE", "LIVEDOCS_SERVE")}
    env.update({"NO_MKDOCS_2_WARNING": "1", "LIVEDOCS_IMAGE_MAP": image_map, "PYTHONUNBUFFERED": "1"})
    if mode is not None:
        env["LIVEDOCS_ENGINE"] = mode
    return env


def mkdocs_command() -> str:
    """The mkdocs of this interpreter's environment (the venv's, under `make bench`)."""
    beside = Path(sys.executable).parent / "mkdocs"
    if beside.exists():
        return str(beside)
    found = shutil.which("mkdocs")
    if found is None:
        raise BenchError("mkdocs is not installed next to this python nor on PATH (run `make venv`)")
    return found


# -- the copy of the site -------------------------------------------------------------

NO_MACROS_CONFIG = "mkdocs-nomacros.yml"


class SiteCopy:
    """docs/, examples/ and mkdocs.yml copied into a temporary folder, macros/ symlinked."""

    def __init__(self, workdir: Path, image_map: str) -> None:
        self.workdir = workdir
        self.root = workdir / "src"
        self.site_dir = workdir / "site"
        self.image_map = image_map
        self.mkdocs = mkdocs_command()
        self.root.mkdir()
        shutil.copytree(REPO / "docs", self.root / "docs", symlinks=True)
        shutil.copytree(REPO / "examples", self.root / "examples", symlinks=True)
        shutil.copy2(REPO / "mkdocs.yml", self.root / "mkdocs.yml")
        (self.root / "macros").symlink_to(REPO / "macros", target_is_directory=True)
        # The same site without the macros plugin: pages keep their {{ ... }} as text.
        (self.root / NO_MACROS_CONFIG).write_text(
            "# The site without the macros module, for the memory comparison.\n"
            "INHERIT: mkdocs.yml\nstrict: false\nplugins:\n  - search\n",
            encoding="utf-8",
        )

    def build(self, mode: str, *, macros: bool = True, check: bool = True) -> ChildRun:
        """`mkdocs build` of the copy into the temporary site folder (--strict with macros)."""
        command = [self.mkdocs, "build", "--site-dir", str(self.site_dir)]
        command += ["--strict"] if macros else ["--config-file", NO_MACROS_CONFIG]
        run = run_child(command, cwd=self.root, env=child_env(mode, self.image_map))
        if check and run.code != 0:
            what = "mkdocs build" + ("" if macros else " (without macros)")
            raise BenchError(f"{what} with LIVEDOCS_ENGINE={mode} failed ({run.code}):\n{run.tail()}")
        return run

    def restore(self, relative: str) -> None:
        """Put one file of the copy back as it is in the repository."""
        shutil.copy2(REPO / relative, self.root / relative)


def build_summary(run: ChildRun) -> str:
    """The workbench's 'built N, cached M' line, or what the log says instead."""
    found = _SUMMARY_LINE.findall(run.output)
    if found:
        return found[-1]
    return "built nothing" if "livedocs: building" not in run.output else "built (no summary line)"


# -- the engine -----------------------------------------------------------------------


class EngineTools:
    """The few engine operations the benchmark needs, through the docker SDK."""

    def __init__(self) -> None:
        import docker
        import docker.errors

        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except Exception as error:
            raise BenchError(f"no Docker engine answers ({error}); run `make engine`") from None
        self._errors = docker.errors

    def facts(self) -> dict[str, str]:
        version = self.client.version()
        return {"version": str(version.get("Version")), "api_version": str(version.get("ApiVersion"))}

    def refs(self, wanted: Callable[[str], bool]) -> list[str]:
        """Every `repository:tag` the engine holds that `wanted` accepts (stand-ins never)."""
        found = set()
        for image in self.client.images.list():
            for ref in image.tags:
                if not ref.startswith(STANDIN_REPOSITORY) and wanted(ref):
                    found.add(ref)
        return sorted(found)

    def remove(self, refs: list[str]) -> list[str]:
        """Remove images (untag; delete with their now unused parent layers); the failures."""
        failures = []
        for ref in refs:
            try:
                self.client.images.remove(ref, force=False, noprune=False)
            except self._errors.ImageNotFound:
                pass
            except self._errors.APIError as error:
                failures.append(f"{ref}: {error.explanation or error}")
        return failures

    def remove_containers(self, ids: list[str]) -> list[str]:
        """Remove stopped containers by ID (those that still exist); the failures."""
        failures = []
        for container_id in ids:
            try:
                self.client.api.remove_container(container_id)
            except self._errors.NotFound:
                pass
            except self._errors.APIError as error:
                failures.append(f"container {container_id}: {error.explanation or error}")
        return failures

    def dangling(self) -> set[str]:
        return {image.id for image in self.client.images.list(filters={"dangling": True})}

    def container_events(self, since: float, until: float) -> list[str]:
        """Container events (create, start, die, ...) the engine saw between two moments."""
        stream = self.client.api.events(since=since, until=until, filters={"type": "container"}, decode=True)
        return [f"{event.get('Action')} {event.get('from', '')}".strip() for event in stream]

    def close(self) -> None:
        self.client.close()


def site_tags(root: Path) -> list[str]:
    """The tags this site's examples declare (examples/*/livedocs.yml), as the workbench reads them."""
    from macros.examples import load_examples

    return list(load_examples(root))


def full_ref(tag: str) -> str:
    """`name` -> `name:latest`, as the engine lists it."""
    return tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"


def clear_site_images(engine: EngineTools, tags: list[str]) -> dict[str, Any]:
    """Remove this site's images, its `livedocs-stage/<tag>` stages and any image a CLI
    baseline left behind, so that their layers (the classic builder's cache) go too.

    Images are removed, never forced: one a container still uses stays, and is reported.
    The stand-ins (`standin/*`) are never touched.
    """
    declared = {full_ref(tag) for tag in tags}
    prefixes = (CLI_PREFIX, *(f"{STAGE_REPOSITORY}/{tag}:" for tag in tags))

    def ours(ref: str) -> bool:
        return ref in declared or ref.startswith(prefixes)

    refs = engine.refs(ours)
    failures = engine.remove(refs)
    return {"removed": len(refs) - len(failures), "failures": failures, "left": engine.refs(ours)}


# -- the docker CLI baseline ----------------------------------------------------------


@dataclass(frozen=True)
class CliBuild:
    tag: str
    ref: str
    command: list[str]
    expect_failure: bool


def cli_builds(root: Path, image_map: str, workdir: Path) -> list[CliBuild]:
    """One `docker build` per declared image, on a copy of its context (FROM lines mapped,
    `edit:` replacements made), in the order the manifests declare them (`after:` first)."""
    from macros.dockerfile import rewrite_images
    from macros.examples import load_examples
    from macros.imagemap import load_image_map

    mapping = load_image_map(REPO, image_map) if image_map else {}
    specs = load_examples(root)
    ordered: list[str] = []

    def visit(tag: str) -> None:
        after = specs[tag].after
        if after and after not in ordered:
            visit(after)
        if tag not in ordered:
            ordered.append(tag)

    for tag in specs:
        visit(tag)
    builds = []
    for tag in ordered:
        spec = specs[tag]
        context = workdir / "cli" / re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
        shutil.copytree(spec.context_path, context, symlinks=True)
        for original, replacement in spec.edit.items():
            shutil.copyfile(spec.context_path / replacement, context / original)
        dockerfile = context / spec.dockerfile
        dockerfile.write_text(rewrite_images(dockerfile.read_text(encoding="utf-8"), mapping), encoding="utf-8")
        ref = CLI_PREFIX + re.sub(r"[^a-z0-9_.-]", "-", tag.lower())
        # --force-rm: a failed step's container is removed too, as the site's builds do.
        command = ["docker", "build", "--force-rm", "-t", ref, "-f", str(dockerfile)]
        if spec.target:
            command += ["--target", spec.target]
        for key, value in sorted(spec.build_args.items()):
            command += ["--build-arg", f"{key}={value}"]
        builds.append(CliBuild(tag, ref, [*command, str(context)], spec.expect_failure))
    return builds


@dataclass
class CliRun:
    """What the docker CLI baseline did: its time, and what its output names (for the clean-up)."""

    seconds: float = 0.0
    layer_ids: set[str] = field(default_factory=set)  # short IDs of the images its steps made or reused
    containers: set[str] = field(default_factory=set)  # short IDs of the containers its steps ran in
    cached_steps: int = 0
    unexpected: list[str] = field(default_factory=list)
    per_build: dict[str, float] = field(default_factory=dict)  # seconds, by tag

    def absorb(self, output: str) -> None:
        self.layer_ids.update(_LAYER_LINE.findall(output))
        self.containers.update(_CONTAINER_LINE.findall(output))
        self.cached_steps += output.count("---> Using cache")


def run_cli_builds(builds: list[CliBuild], run: CliRun) -> None:
    """Build every image with the docker CLI, one after another, into `run` (filled as it
    goes, so that an interrupted baseline can still be cleaned up)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    started = time.perf_counter()
    for build in builds:
        began = time.perf_counter()
        done = subprocess.run(
            build.command, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
        run.per_build[build.tag] = round(time.perf_counter() - began, 2)
        output = done.stdout + done.stderr
        run.absorb(output)
        if (done.returncode != 0) != build.expect_failure:
            run.unexpected.append(f"{build.tag}: exit {done.returncode}\n{output[-2000:]}")
    run.seconds = time.perf_counter() - started


def clean_cli(engine: EngineTools, dangling_before: set[str], run: CliRun) -> dict[str, Any]:
    """Remove what the CLI baseline left: its containers (none with --force-rm), its
    `bench-cli-*` images, and the dangling images its builds left (build stages, a failed
    build's finished steps): only those that are new since `dangling_before` and that
    its own output named."""
    failures = engine.remove_containers(sorted(run.containers))
    refs = engine.refs(lambda ref: ref.startswith(CLI_PREFIX))
    failures += engine.remove(refs)
    ours = [
        image_id
        for image_id in sorted(engine.dangling() - dangling_before)
        if image_id.removeprefix("sha256:")[:12] in run.layer_ids
    ]
    failures += engine.remove(ours)
    return {"images": len(refs), "dangling": len(ours), "failures": failures}


# -- mkdocs serve ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def page_text(markup: str) -> str:
    """A page's text: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


class Server:
    """`mkdocs serve` on the copy, on a free loopback port, its log in a file."""

    def __init__(self, copy: SiteCopy) -> None:
        self.copy = copy
        self.port = free_port()
        self.log_path = copy.workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.mount: str | None = None  # the path the server serves the site on, once it says

    def start(self) -> None:
        command = [self.copy.mkdocs, "serve", "--dev-addr", f"127.0.0.1:{self.port}"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.copy.root,
                env=child_env("live", self.copy.image_map),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def builds(self) -> int:
        """How many rebuilds the server has finished so far."""
        return len(_REBUILT_LINE.findall(self.log()))

    def _alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-25:])
            raise BenchError(f"mkdocs serve exited ({self.process.returncode}):\n{tail}")

    def page(self) -> str | None:
        """The chapter as served now, or None if the server does not answer (yet)."""
        if self.mount is None:
            found = _SERVING_LINE.search(self.log())
            if found is None:
                return None
            self.mount = found.group(1).rstrip("/") + "/"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", self.mount + PROSE_URL, headers={"Connection": "close"})
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
            return body if response.status == 200 else None
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def watch(
        self,
        conditions: dict[str, Callable[[str | None], bool]],
        what: str,
        optional: tuple[str, ...] = (),
        quiet: float = 3.0,
    ) -> dict[str, float]:
        """Poll until every condition has held once; the seconds until each first did.

        A condition is given the page's text as served now (None if it does not answer).
        An `optional` condition is given up once the others have held and the server has
        been quiet (no build running or finishing) for `quiet` seconds: it is then
        missing from the answer.
        """
        started = time.perf_counter()
        seen: dict[str, float] = {}
        state, calm_since = (self.builds(), self._building()), time.perf_counter()
        while len(seen) < len(conditions):
            self._alive()
            now = time.perf_counter()
            if now - started > SERVE_TIMEOUT:
                missing = ", ".join(sorted(set(conditions) - set(seen)))
                raise BenchError(f"mkdocs serve: {what}: no {missing} within {SERVE_TIMEOUT:g}s")
            markup = self.page()
            text = page_text(markup) if markup is not None else None
            for name, holds in conditions.items():
                if name not in seen and holds(text):
                    seen[name] = time.perf_counter() - started
            current = (self.builds(), self._building())
            if current != state or current[1]:
                state, calm_since = current, now
            required = set(conditions) - set(optional)
            if required <= set(seen) and now - calm_since > quiet:
                break
            time.sleep(0.05)
        return seen

    def errors_since(self, offset: int) -> list[str]:
        """The distinct ERROR lines the server logged after `offset` characters of its log."""
        lines = [line for line in self.log()[offset:].splitlines() if line.startswith("ERROR")]
        return list(dict.fromkeys(line[:400] for line in lines))

    def settle(self, quiet: float = 2.0, timeout: float = SERVE_TIMEOUT) -> None:
        """Wait until no build has finished for `quiet` seconds and none is running.

        A live rebuild that changes a figure rewrites examples/measurements.json, which
        the server watches, so one edit may cause a second (no-op) rebuild.
        """
        deadline = time.monotonic() + timeout
        last, since = (self.builds(), self._building()), time.monotonic()
        while time.monotonic() - since < quiet:
            self._alive()
            if time.monotonic() > deadline:
                raise BenchError(f"mkdocs serve kept rebuilding for {timeout:g}s")
            time.sleep(0.1)
            now = (self.builds(), self._building())
            if now != last or now[1]:
                last, since = now, time.monotonic()

    def _building(self) -> bool:
        log = self.log()
        ended = max((match.start() for match in _REBUILT_LINE.finditer(log)), default=-1)
        return log.rfind("Building documentation") > max(ended, log.rfind("Documentation built"))

    def stop(self) -> str:
        """Stop the server: SIGINT, then SIGTERM (the site's handler ends a build cleanly), then kill."""
        if self.process is None or self.process.poll() is not None:
            return "not running"
        for sig, grace in ((signal.SIGINT, 10.0), (signal.SIGTERM, 20.0)):
            self.process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
                return f"stopped by {sig.name} (exit {self.process.returncode})"
        self.process.kill()
        self.process.wait()
        return "killed"


@dataclass
class ServeFigures:
    prose: list[float] = field(default_factory=list)
    prose_events: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    example_page: list[float] = field(default_factory=list)
    example_log: list[float] = field(default_factory=list)
    example_misses: list[list[str]] = field(default_factory=list)  # the log's errors, per edit not shown
    rebuilds: int = 0
    stopped: str = ""


def measure_serve(copy: SiteCopy, engine: EngineTools, repeat: int) -> ServeFigures:
    """Edit-to-reload times under `mkdocs serve`, and the engine's container events during a prose edit.

    Each edit is timed from the write to the first poll of the page that shows it; the
    log's next "Documentation built" is timed too. The engine's container events are
    read for the span from the prose edit until the server is quiet again.
    """
    figures = ServeFigures()
    server = Server(copy)
    page_file = copy.root / PROSE_PAGE
    example_file = copy.root / EXAMPLE_FILE
    example_source = example_file.read_text(encoding="utf-8")
    if EXAMPLE_TEXT not in example_source:
        raise BenchError(f"{EXAMPLE_FILE} has no {EXAMPLE_TEXT!r} to edit")
    say(f"mkdocs serve on 127.0.0.1:{server.port}")
    server.start()
    first = 0
    try:
        server.watch({"page": lambda text: text is not None and "Multi-stage" in text}, "the first build")
        first = server.builds()
        server.settle()
        for number in range(repeat):
            nonce = f"{os.getpid()}x{number}x{int(time.time())}"
            # (a) prose: append a sentence; poll until the page shows it.
            sentence = f"Benchmark sentence {nonce}."
            finished = server.builds()
            since = time.time()
            with page_file.open("a", encoding="utf-8") as stream:
                stream.write(f"\n{sentence}\n")
            seen = server.watch(
                {
                    "page": lambda text, s=sentence: text is not None and s in text,
                    "log": lambda _, n=finished: server.builds() > n,
                },
                "the prose edit",
            )
            server.settle()
            events = engine.container_events(since, time.time())
            figures.prose.append(seen["page"])
            figures.prose_events.append(len(events))
            figures.events += events
            say(f"serve: prose edit shown in {seen['page']:.2f}s, {len(events)} container event(s)")
            # (b) an example: change the handler's reply; poll until the page shows the new
            # response body (the source on the page has `%s` where the reply has a path).
            marker = f"Bench reply {nonce}: "
            shown = re.compile(re.escape(marker) + r"[^%\"\\\n]*\n")
            finished, offset = server.builds(), len(server.log())
            example_file.write_text(example_source.replace(EXAMPLE_TEXT, EXAMPLE_TEXT + marker, 1), encoding="utf-8")
            seen = server.watch(
                {
                    "page": lambda text, p=shown: text is not None and p.search(text) is not None,
                    "log": lambda _, n=finished: server.builds() > n,
                },
                "the example edit",
                optional=("page",),
            )
            server.settle()
            figures.example_log.append(seen["log"])
            if "page" in seen:
                figures.example_page.append(seen["page"])
                say(f"serve: example edit shown in {seen['page']:.2f}s (rebuild logged at {seen['log']:.2f}s)")
            else:
                # The rebuild ended without the new reply on the page: a problem box instead.
                figures.example_misses.append(server.errors_since(offset))
                say(f"serve: example edit rebuilt in {seen['log']:.2f}s, but the page never showed the new reply")
    finally:
        figures.stopped = server.stop()
        figures.rebuilds = server.builds() - first
    return figures


# -- the phases -----------------------------------------------------------------------


@dataclass
class Samples:
    """Repeated runs of one measurement."""

    key: str
    label: str
    unit: str = "s"
    values: list[float] = field(default_factory=list)
    baseline: str | None = None
    target: float | None = None  # the most the ratio (without a baseline: any one value) may be

    @property
    def median(self) -> float:
        return statistics.median(self.values)


def measure_builds(copy: SiteCopy, repeat: int, found: dict[str, Samples], details: dict[str, Any]) -> None:
    """Replay, warm live and macro-less replay builds, interleaved, `repeat` times each."""
    replay = found["replay_build"]
    warm = found["warm_live_build"]
    bare = found["replay_build_no_macros"]
    rss = found["peak_rss_replay"]
    bare_rss = found["peak_rss_replay_no_macros"]
    not_warm = []
    for number in range(repeat):
        run = copy.build("replay")
        replay.values.append(run.seconds)
        rss.values.append(run.max_rss_mb)
        run = copy.build("live")
        warm.values.append(run.seconds)
        if "livedocs: building" in run.output:
            not_warm.append(build_summary(run))
        run = copy.build("replay", macros=False)
        bare.values.append(run.seconds)
        bare_rss.values.append(run.max_rss_mb)
        say(
            f"builds {number + 1}/{repeat}: replay {replay.values[-1]:.2f}s, warm {warm.values[-1]:.2f}s, "
            f"no macros {bare.values[-1]:.2f}s"
        )
    details["warm_builds_that_built"] = not_warm


def measure_cold(
    copy: SiteCopy, engine: EngineTools, repeat: int, found: dict[str, Samples], details: dict[str, Any]
) -> None:
    """Cold: the docker CLI one build after another, then the site, each from a cleared engine."""
    tags = site_tags(copy.root)
    builds = cli_builds(copy.root, copy.image_map, copy.workdir)
    runs: list[dict[str, Any]] = []
    dangling_before = engine.dangling()  # not the benchmark's: never removed
    for number in range(repeat):
        record: dict[str, Any] = {}
        record["cleared_before_cli"] = clear_site_images(engine, tags)
        cli = CliRun()
        try:
            run_cli_builds(builds, cli)
        finally:
            record["cli_cleanup"] = clean_cli(engine, dangling_before, cli)
        if cli.unexpected:
            raise BenchError("the docker CLI baseline did not build as declared:\n" + "\n".join(cli.unexpected))
        found["cold_cli_build"].values.append(cli.seconds)
        record["cli_cached_steps"] = cli.cached_steps
        record["cli_seconds_by_tag"] = cli.per_build
        record["cleared_before_site"] = clear_site_images(engine, tags)
        run = copy.build("live")
        found["cold_live_build"].values.append(run.seconds)
        record["site"] = build_summary(run)
        record["site_log"] = _SITE_LINE.findall(run.output)
        runs.append(record)
        say(f"cold {number + 1}/{repeat}: docker CLI {cli.seconds:.1f}s, site {run.seconds:.1f}s ({record['site']})")
    details["cold_runs"] = runs
    details["cli_builds"] = [" ".join(build.command[:-1]) + " <context>" for build in builds]


# Runs mkdocs in-process under cProfile. cProfile sees the main thread only, so the
# workbench's build threads are replaced by a loop in the main thread: the profile then
# shows every engine round trip (they run one after another, as with workers=1).
PROFILE_DRIVER = """
import cProfile, sys
sys.path.insert(0, '.')
from macros.workbench import Workbench
if hasattr(Workbench, '_in_parallel'):
    def _serial(self, tags, say):
        for tag in tags:
            self._resolve_live(tag, say)
    Workbench._in_parallel = _serial
from mkdocs.__main__ import cli
profiler = cProfile.Profile()
profiler.enable()
try:
    cli(sys.argv[2:], standalone_mode=False)
finally:
    profiler.disable()
    profiler.dump_stats(sys.argv[1])
"""


def profile_builds(copy: SiteCopy, results_dir: Path, stamp: str) -> dict[str, str]:
    """One replay and one warm build under cProfile (build threads run serially); the top
    of each by cumulative time, restricted to the macros module and the docker SDK."""
    results_dir.mkdir(parents=True, exist_ok=True)
    tops = {}
    for mode in ("replay", "live"):
        out = results_dir / f"profile-{stamp}-{mode}.prof"
        command = [sys.executable, "-c", PROFILE_DRIVER, str(out), "build", "--strict"]
        command += ["--site-dir", str(copy.site_dir)]
        run = run_child(command, cwd=copy.root, env=child_env(mode, copy.image_map))
        if run.code != 0:
            raise BenchError(f"profiled build ({mode}) failed:\n{run.tail()}")
        text = io.StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.sort_stats("cumulative").print_stats(r"/macros/|docker/api|mkdocs_macros/plugin", 25)
        tops[mode] = text.getvalue()
        say(f"profile of the {mode} build: {out}")
    return tops


# -- results --------------------------------------------------------------------------


def new_samples() -> dict[str, Samples]:
    entries = [
        Samples("replay_build", "replay build (baseline)"),
        Samples("warm_live_build", "warm live build", baseline="replay_build", target=WARM_TARGET),
        Samples("cold_cli_build", "cold docker CLI builds, sequential"),
        Samples("cold_live_build", "cold live build", baseline="cold_cli_build", target=COLD_TARGET),
        Samples("serve_prose_edit", "serve: prose edit -> page"),
        Samples("serve_prose_container_events", "serve: container events per prose edit", "events", target=0),
        Samples("serve_example_edit_log", "serve: example edit -> rebuild logged"),
        Samples("serve_example_edit_page", "serve: example edit -> page"),
        Samples("replay_build_no_macros", "replay build without macros"),
        Samples("peak_rss_replay", "peak RSS, replay build", "MB"),
        Samples("peak_rss_replay_no_macros", "peak RSS, replay without macros", "MB", baseline="peak_rss_replay"),
    ]
    return {entry.key: entry for entry in entries}


def summarize(found: dict[str, Samples]) -> dict[str, dict[str, Any]]:
    """Each measurement that ran: median, samples, ratio to its baseline, target, verdict."""
    out: dict[str, dict[str, Any]] = {}
    for key, entry in found.items():
        if not entry.values:
            continue
        median = entry.median
        item: dict[str, Any] = {
            "label": entry.label,
            "unit": entry.unit,
            "median": round(median, 4),
            "samples": [round(value, 4) for value in entry.values],
        }
        if entry.baseline and found[entry.baseline].values:
            base = found[entry.baseline].median
            item["baseline"] = entry.baseline
            item["ratio"] = round(median / base, 4) if base else None
        if entry.target is not None:
            # A ratio is judged by the medians; a count (container events) by its worst run.
            value = item.get("ratio") if entry.baseline else max(entry.values)
            item["target"] = entry.target
            item["passed"] = value is not None and value <= entry.target
        out[key] = item
    return out


def figure(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:g} {unit}"


def table(results: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """The measurements as a plain-text table, the previous run's figures beside them."""
    old = (previous or {}).get("measurements", {})
    header = ["measurement", "median", "ratio", "target", "result"]
    if previous:
        header += [f"previous ({previous.get('started_at', '?')})", "prev ratio", "prev result"]
    rows = [header]
    for key, item in results["measurements"].items():
        row = [item["label"], figure(item["median"], item["unit"]), *_judged(item)]
        if previous:
            before = old.get(key)
            if isinstance(before, dict) and "median" in before:
                ratio, _, verdict = _judged(before)
                row += [figure(before["median"], before.get("unit", "s")), ratio.split(" x ")[0], verdict]
            else:
                row += ["-", "", ""]
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _judged(item: dict[str, Any]) -> tuple[str, str, str]:
    """(ratio, target, verdict) cells of one measurement."""
    ratio = f"{item['ratio']:.2f} x {item['baseline']}" if item.get("ratio") is not None else ""
    if "target" not in item:
        return ratio, "", ""
    target = f"<= {item['target']:.2f}" if item.get("baseline") else f"<= {item['target']:g} (every run)"
    return ratio, target, "PASS" if item.get("passed") else "FAIL"


def ratio_lines(results: dict[str, Any]) -> list[str]:
    """One line per ratio that has a target, and the memory the macros module costs."""
    measurements = results["measurements"]
    lines = []
    for item in measurements.values():
        if "target" in item and item.get("baseline"):
            verdict = "PASS" if item["passed"] else "FAIL"
            base = measurements[item["baseline"]]["label"]
            lines.append(f"{item['label']} / {base}: {item['ratio']:.3f} (target <= {item['target']:.2f}) {verdict}")
    if "peak_rss_replay" in measurements and "peak_rss_replay_no_macros" in measurements:
        extra = measurements["peak_rss_replay"]["median"] - measurements["peak_rss_replay_no_macros"]["median"]
        lines.append(f"the macros module adds {extra:.1f} MB of peak memory to a replay build")
    return lines


def macros_digest() -> str:
    """A hash of macros/*.py, so that runs of different code can be told apart."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "macros").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def save(results: dict[str, Any], results_dir: Path, stamp: str) -> Path:
    """results-<stamp>.json and latest.json (written whole, then renamed)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    path = results_dir / f"results-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    temporary = results_dir / ".latest.json.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, results_dir / "latest.json")
    return path


def load_previous(results_dir: Path) -> dict[str, Any] | None:
    path = results_dir / "latest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        say(f"ignoring {path}: {error}")
        return None
    return data if isinstance(data, dict) and isinstance(data.get("measurements"), dict) else None


# -- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median reported)")
    parser.add_argument("--quick", action="store_true", help="replay, warm and memory only: no cold build, no serve")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS, help="where the JSON results go")
    parser.add_argument("--profile", action="store_true", help="also profile one replay and one warm build")
    parser.add_argument(
        "--image-map",
        default=os.environ.get("LIVEDOCS_IMAGE_MAP", str(DEFAULT_IMAGE_MAP)),
        help="LIVEDOCS_IMAGE_MAP for the builds ('' for none; default tests/standins/image-map.yml)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.image_map:
        path = Path(args.image_map)
        args.image_map = str(path if path.is_absolute() else (REPO / path))
    return args


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="livedocs-bench-") as folder:
        yield Path(folder)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the results document."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    found = new_samples()
    details: dict[str, Any] = {}
    engine = EngineTools()
    try:
        with workspace() as workdir:
            copy = SiteCopy(workdir, args.image_map)
            say(f"site copied to {copy.root}; priming with one live build (not timed)")
            details["site_copy"] = str(copy.root)
            details["prime"] = build_summary(copy.build("live"))
            measure_builds(copy, args.repeat, found, details)
            if args.profile:
                details["profile"] = profile_builds(copy, args.results_dir, stamp)
            if not args.quick:
                try:
                    serve = measure_serve(copy, engine, args.repeat)
                finally:
                    # Put the example back, and its images as the repository's Dockerfiles make them.
                    copy.restore(EXAMPLE_FILE)
                    copy.restore(PROSE_PAGE)
                    say("restoring the images the example edit replaced (not timed)")
                    details["restore"] = build_summary(copy.build("live"))
                found["serve_prose_edit"].values += serve.prose
                found["serve_prose_container_events"].values += [float(n) for n in serve.prose_events]
                found["serve_example_edit_log"].values += serve.example_log
                found["serve_example_edit_page"].values += serve.example_page
                details["serve"] = {
                    "container_events": serve.events,
                    "example_edits_not_shown": serve.example_misses,
                    "rebuilds": serve.rebuilds,
                    "stopped": serve.stopped,
                }
                measure_cold(copy, engine, args.repeat, found, details)
        engine_facts = engine.facts()
    finally:
        engine.close()
    return {
        "schema": SCHEMA,
        "stamp": stamp,
        "started_at": started_at,
        "finished_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "repeat": args.repeat,
        "quick": args.quick,
        "environment": {
            "engine": engine_facts,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "image_map": args.image_map,
            "macros_digest": macros_digest(),
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        },
        "measurements": summarize(found),
        "details": details,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))  # macros.examples and friends, to read the manifests
    previous = load_previous(args.results_dir)
    try:
        results = run(args)
    except BenchError as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    path = save(results, args.results_dir, results["stamp"])
    print(table(results, previous))
    print()
    for line in ratio_lines(results):
        print(line)
    misses = results["details"].get("serve", {}).get("example_edits_not_shown") or []
    if misses:
        print(f"note: {len(misses)} example edit(s) under serve never showed the new reply; the serve log said:")
        for line in dict.fromkeys(line for errors in misses for line in errors[:3]):
            print(f"  {line}")
    not_warm = results["details"].get("warm_builds_that_built")
    if not_warm:
        print(f"note: {len(not_warm)} warm build(s) built something: {not_warm}")
    for mode, top in results["details"].get("profile", {}).items():
        print(f"\n-- profile, {mode} build (main thread) --\n{top}")
    print(f"\nresults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
