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

Every timing is wall-clock, taken in --repeat rounds (default 3). A round times a baseline
and what is compared with it back to back (a replay build, then a warm live build; the
docker CLI's cold builds, then the site's), so each round has a ratio of its own; a ratio
is the median of the rounds' ratios, and so is its verdict: other work on the machine
during one round moves that round's ratio, not the others'. The table gives each median,
its ratio, the target and whether it is met, and the previous bench/latest.json beside
them; the results go to bench/results-<timestamp>.json and bench/latest.json. A missed
target is reported in the table, not by the exit status: the exit status is non-zero only
when the benchmark itself could not run.

    .venv/bin/python scripts/bench.py [--repeat N] [--quick] [--results-dir DIR] [--profile]
"""

from __future__ import annotations

import argparse
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the site's macros/, and tests/engines.py

from macros.builders import stage_repository  # noqa: E402
from macros.dockerfile import rewrite_images  # noqa: E402
from macros.engine import Engine  # noqa: E402
from macros.errors import LivedocsError  # noqa: E402
from macros.examples import ImageSpec, load_examples  # noqa: E402
from macros.imagemap import load_image_map  # noqa: E402
from macros.scheduler import dependency_order  # noqa: E402
from macros.units import iso_utc  # noqa: E402
from tests.engines import free_port  # noqa: E402

DEFAULT_RESULTS = REPO / "bench"
DEFAULT_IMAGE_MAP = REPO / "tests" / "standins" / "image-map.yml"
SCHEMA = 2  # 2: a ratio is the median of the rounds' ratios (1: the ratio of the medians)
CLI_PREFIX = "bench-cli-"  # tags of the images the docker CLI baseline builds
PROSE_PAGE = "docs/multi-stage.md"
PROSE_URL = "multi-stage/"  # below the path the server says it serves on (site_url's path)
EXAMPLE_FILE = "examples/go-app/main.go"
EXAMPLE_TEXT = 'fmt.Fprintf(w, "'  # the handler's reply; the marker goes right after it
WARM_TARGET = 1.15
COLD_TARGET = 1.0
BUILD_TIMEOUT = 3600.0
SERVE_TIMEOUT = 900.0
NO_MACROS_CONFIG = "mkdocs-nomacros.yml"
_LAYER_LINE = re.compile(r"^\s*---> ([0-9a-f]{12})\s*$", re.M)
_CONTAINER_LINE = re.compile(r"^\s*---> Running in ([0-9a-f]{12})\s*$", re.M)
# The end of a serve rebuild: the browsers are reloaded after every build that returns
# (mkdocs does not always log "Documentation built" for a rebuild), or the rebuild failed.
_REBUILT_LINE = re.compile(r"Reloading browsers|An error happened during the rebuild")
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


def run_child(command: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = BUILD_TIMEOUT) -> ChildRun:
    """Run `command` to the end; its wall-clock time and its own max RSS (from wait4).

    Interrupted, the child is stopped too: SIGTERM (a site build ends cleanly), then SIGKILL.
    """
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            stop_child(process, (signal.SIGTERM,))
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    # Linux reports ru_maxrss in kilobytes.
    return ChildRun(seconds, usage.ru_maxrss / 1024, process.returncode, output)


def stop_child(process: subprocess.Popen[bytes], signals: tuple[signal.Signals, ...], grace: float = 20.0) -> str:
    """Send each signal in turn until the process ends, then SIGKILL; how it ended."""
    if process.poll() is not None:
        return "not running"
    for sig in signals:
        process.send_signal(sig)
        try:
            process.wait(grace)
            return f"stopped by {sig.name} (exit {process.returncode})"
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()
    return "killed"


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

    def build(self, mode: str, *, macros: bool = True) -> ChildRun:
        """`mkdocs build` of the copy into the temporary site folder (--strict with macros)."""
        command = [self.mkdocs, "build", "--site-dir", str(self.site_dir)]
        command += ["--strict"] if macros else ["--config-file", NO_MACROS_CONFIG]
        run = run_child(command, cwd=self.root, env=child_env(mode, self.image_map))
        if run.code != 0:
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


# -- the docker CLI baseline ----------------------------------------------------------


@dataclass(frozen=True)
class CliBuild:
    tag: str
    ref: str
    command: list[str]
    expect_failure: bool


def cli_builds(specs: Mapping[str, ImageSpec], image_map: str, workdir: Path) -> list[CliBuild]:
    """One `docker build` per declared image, on a copy of its context (FROM lines mapped,
    `edit:` replacements made), an image built `after:` another after it."""
    mapping = load_image_map(REPO, image_map)
    builds = []
    for tag in dependency_order(specs, specs):
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


def run_cli_builds(builds: list[CliBuild], run: CliRun) -> None:
    """Build every image with the docker CLI, one after another, into `run` (filled as it
    goes, so that an interrupted baseline can still be cleaned up)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    for build in builds:
        done = run_child(build.command, cwd=REPO, env=env)
        run.seconds += done.seconds
        run.per_build[build.tag] = round(done.seconds, 2)
        run.layer_ids.update(_LAYER_LINE.findall(done.output))
        run.containers.update(_CONTAINER_LINE.findall(done.output))
        run.cached_steps += done.output.count("---> Using cache")
        if (done.code != 0) != build.expect_failure:
            run.unexpected.append(f"{build.tag}: exit {done.code}\n{done.output[-2000:]}")


def clear_images(engine: Engine, specs: Mapping[str, ImageSpec], builds: list[CliBuild]) -> dict[str, Any]:
    """Remove this site's images, their `livedocs-stage/<tag>` stages and the CLI baseline's
    images, so that their layers (the classic builder's cache) go too.

    Never forced: an image a container still uses stays, and is listed as left. The
    stand-ins are never named, so never removed.
    """
    refs = [ref for tag in specs for ref in (tag, *engine.tags_in(stage_repository(tag)))]
    present = [ref for ref in [*refs, *(build.ref for build in builds)] if engine.inspect(ref) is not None]
    for ref in present:
        engine.remove_image(ref)
    left = [ref for ref in present if engine.inspect(ref) is not None]
    return {"removed": len(present) - len(left), "left": left}


def clean_cli(engine: Engine, builds: list[CliBuild], run: CliRun) -> dict[str, Any]:
    """Remove what the CLI baseline left: its containers (none with --force-rm), its
    `bench-cli-*` images, and the untagged images its output names (build stages, a failed
    build's finished steps); one that another image is built on stays."""
    for container_id in sorted(run.containers):
        engine.remove_container(container_id)
    for build in builds:
        engine.remove_image(build.ref)
    for image_id in sorted(run.layer_ids):
        engine.remove_if_dangling(image_id)
    left = [i for i in sorted(run.layer_ids) if (info := engine.inspect(i)) is not None and not info.tags]
    return {"containers": len(run.containers), "untagged_left": left}


# -- mkdocs serve ---------------------------------------------------------------------


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

    def _building(self) -> bool:
        log = self.log()
        ended = max((match.start() for match in _REBUILT_LINE.finditer(log)), default=-1)
        return log.rfind("Building documentation") > max(ended, log.rfind("Documentation built"))

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

    def wait(
        self,
        conditions: dict[str, Callable[[str | None], bool]],
        what: str,
        optional: tuple[str, ...] = (),
        quiet: float = 3.0,
    ) -> dict[str, float]:
        """Poll until every condition but the `optional` ones has held once and the server
        has been calm (no build running or finishing) for `quiet` seconds; the seconds
        until each condition first held.

        A condition is given the page's text as served now (None if it does not answer).
        An optional condition that has not held by then is missing from the answer. The
        wait for calm lets a second, no-op rebuild end: a live rebuild that changes a
        figure rewrites examples/measurements.json, which the server watches.
        """
        assert self.process is not None
        started = time.perf_counter()
        seen: dict[str, float] = {}
        state: tuple[int, bool] | None = None
        calm_since = started
        while True:
            if self.process.poll() is not None:
                tail = "\n".join(self.log().splitlines()[-25:])
                raise BenchError(f"mkdocs serve exited ({self.process.returncode}):\n{tail}")
            markup = self.page()
            text = page_text(markup) if markup is not None else None
            now = time.perf_counter()
            for name, holds in conditions.items():
                if name not in seen and holds(text):
                    seen[name] = now - started
            current = (self.builds(), self._building())
            if current != state or current[1]:
                state, calm_since = current, now
            if set(conditions) - set(optional) <= set(seen) and now - calm_since > quiet:
                return seen
            if now - started > SERVE_TIMEOUT:
                missing = ", ".join(sorted(set(conditions) - set(seen))) or "calm"
                raise BenchError(f"mkdocs serve: {what}: no {missing} within {SERVE_TIMEOUT:g}s")
            time.sleep(0.05)

    def errors_since(self, offset: int) -> list[str]:
        """The distinct ERROR lines the server logged after `offset` characters of its log."""
        lines = [line for line in self.log()[offset:].splitlines() if line.startswith("ERROR")]
        return list(dict.fromkeys(line[:400] for line in lines))

    def stop(self) -> str:
        """Stop the server: SIGINT, then SIGTERM (the site's handler ends a build cleanly), then kill."""
        if self.process is None:
            return "not running"
        return stop_child(self.process, (signal.SIGINT, signal.SIGTERM))


def measure_serve(copy: SiteCopy, repeat: int, found: dict[str, Samples]) -> dict[str, Any]:
    """Edit-to-reload times under `mkdocs serve`, and the engine's container events during a prose edit.

    Each edit is timed from the write to the first poll of the page that shows it; the
    log's end of the rebuild is timed too. The engine's container events are read for the
    span from the prose edit until the server is calm again.
    """
    from tests.conftest import container_events  # the tests' count (that module imports pytest)

    server = Server(copy)
    page_file = copy.root / PROSE_PAGE
    example_file = copy.root / EXAMPLE_FILE
    example_source = example_file.read_text(encoding="utf-8")
    if EXAMPLE_TEXT not in example_source:
        raise BenchError(f"{EXAMPLE_FILE} has no {EXAMPLE_TEXT!r} to edit")
    details: dict[str, Any] = {"container_events": [], "example_edits_not_shown": []}
    client = docker.from_env(timeout=60)
    say(f"mkdocs serve on 127.0.0.1:{server.port}")
    server.start()
    first = 0
    try:
        server.wait({"page": lambda text: text is not None and "Multi-stage" in text}, "the first build")
        first = server.builds()
        for number in range(repeat):
            nonce = f"{os.getpid()}x{number}x{int(time.time())}"
            # (a) prose: append a sentence; poll until the page shows it.
            sentence = f"Benchmark sentence {nonce}."
            finished, since = server.builds(), time.time()
            with page_file.open("a", encoding="utf-8") as stream:
                stream.write(f"\n{sentence}\n")
            seen = server.wait(
                {
                    "page": lambda text, s=sentence: text is not None and s in text,
                    "log": lambda _, n=finished: server.builds() > n,
                },
                "the prose edit",
            )
            events = container_events(client, since, time.time())
            found["serve_prose_edit"].values.append(seen["page"])
            found["serve_prose_container_events"].values.append(float(len(events)))
            details["container_events"] += events
            say(f"serve: prose edit shown in {seen['page']:.2f}s, {len(events)} container event(s)")
            # (b) an example: change the handler's reply; poll until the page shows the new
            # response body (the source on the page has `%s` where the reply has a path).
            marker = f"Bench reply {nonce}: "
            shown = re.compile(re.escape(marker) + r"[^%\"\\\n]*\n")
            finished, offset = server.builds(), len(server.log())
            example_file.write_text(example_source.replace(EXAMPLE_TEXT, EXAMPLE_TEXT + marker, 1), encoding="utf-8")
            seen = server.wait(
                {
                    "page": lambda text, p=shown: text is not None and p.search(text) is not None,
                    "log": lambda _, n=finished: server.builds() > n,
                },
                "the example edit",
                optional=("page",),
            )
            found["serve_example_edit_log"].values.append(seen["log"])
            if "page" in seen:
                found["serve_example_edit_page"].values.append(seen["page"])
                say(f"serve: example edit shown in {seen['page']:.2f}s (rebuild logged at {seen['log']:.2f}s)")
            else:
                # The rebuild ended without the new reply on the page: a problem box instead.
                details["example_edits_not_shown"].append(server.errors_since(offset))
                say(f"serve: example edit rebuilt in {seen['log']:.2f}s, but the page never showed the new reply")
    finally:
        details["stopped"] = server.stop()
        details["rebuilds"] = server.builds() - first
        client.close()
    return details


# -- the rounds -----------------------------------------------------------------------


@dataclass
class Samples:
    """One measurement, a value a round: a ratio pairs the values of the same round."""

    key: str
    label: str
    unit: str = "s"
    values: list[float] = field(default_factory=list)
    baseline: str | None = None
    target: float | None = None  # the most the ratio (without a baseline: any one value) may be


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


def add_round(found: dict[str, Samples], **values: float) -> None:
    """One round's values, appended together, so that the rounds stay paired."""
    for key, value in values.items():
        found[key].values.append(value)


def measure_builds(copy: SiteCopy, repeat: int, found: dict[str, Samples]) -> dict[str, Any]:
    """Rounds of a replay build, a warm live build right after it, and a replay build without macros."""
    not_warm = []
    for number in range(repeat):
        replay, warm, bare = copy.build("replay"), copy.build("live"), copy.build("replay", macros=False)
        add_round(
            found,
            replay_build=replay.seconds,
            warm_live_build=warm.seconds,
            replay_build_no_macros=bare.seconds,
            peak_rss_replay=replay.max_rss_mb,
            peak_rss_replay_no_macros=bare.max_rss_mb,
        )
        if "livedocs: building" in warm.output:
            not_warm.append(build_summary(warm))
        say(
            f"builds {number + 1}/{repeat}: replay {replay.seconds:.2f}s, warm {warm.seconds:.2f}s "
            f"(ratio {warm.seconds / replay.seconds:.2f}), no macros {bare.seconds:.2f}s"
        )
    return {"warm_builds_that_built": not_warm}


def measure_cold(copy: SiteCopy, engine: Engine, repeat: int, found: dict[str, Samples]) -> dict[str, Any]:
    """Rounds of the docker CLI's builds one after another, then the site's, each from a cleared engine."""
    specs = load_examples(copy.root)
    builds = cli_builds(specs, copy.image_map, copy.workdir)
    runs: list[dict[str, Any]] = []
    for number in range(repeat):
        record: dict[str, Any] = {"cleared_before_cli": clear_images(engine, specs, builds)}
        cli = CliRun()
        try:
            run_cli_builds(builds, cli)
        finally:
            record["cli_cleanup"] = clean_cli(engine, builds, cli)
        if cli.unexpected:
            raise BenchError("the docker CLI baseline did not build as declared:\n" + "\n".join(cli.unexpected))
        record.update(cli_cached_steps=cli.cached_steps, cli_seconds_by_tag=cli.per_build)
        record["cleared_before_site"] = clear_images(engine, specs, builds)
        site = copy.build("live")
        add_round(found, cold_cli_build=cli.seconds, cold_live_build=site.seconds)
        record.update(site=build_summary(site), site_log=_SITE_LINE.findall(site.output))
        runs.append(record)
        say(
            f"cold {number + 1}/{repeat}: docker CLI {cli.seconds:.1f}s, site {site.seconds:.1f}s "
            f"(ratio {site.seconds / cli.seconds:.2f}; {record['site']})"
        )
    return {"cold_runs": runs, "cli_builds": [" ".join(build.command[:-1]) + " <context>" for build in builds]}


# Runs mkdocs in-process under cProfile; LIVEDOCS_WORKERS=0 (the workbench's public hook)
# makes it resolve every image in the main thread, the only one cProfile sees, so the
# profile shows every engine round trip, one after another.
PROFILE_DRIVER = """
import cProfile, sys
from mkdocs.__main__ import cli
profiler = cProfile.Profile()
try:
    profiler.runcall(cli, sys.argv[2:], standalone_mode=False)
finally:
    profiler.dump_stats(sys.argv[1])
"""


def profile_builds(copy: SiteCopy, results_dir: Path, stamp: str) -> dict[str, str]:
    """One replay and one warm build under cProfile, on one thread; the top of each by
    cumulative time, restricted to the macros module and the docker SDK."""
    results_dir.mkdir(parents=True, exist_ok=True)
    tops = {}
    for mode in ("replay", "live"):
        out = results_dir / f"profile-{stamp}-{mode}.prof"
        command = [sys.executable, "-c", PROFILE_DRIVER, str(out), "build", "--strict"]
        command += ["--site-dir", str(copy.site_dir)]
        run = run_child(command, cwd=copy.root, env={**child_env(mode, copy.image_map), "LIVEDOCS_WORKERS": "0"})
        if run.code != 0:
            raise BenchError(f"profiled build ({mode}) failed:\n{run.tail()}")
        text = io.StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.sort_stats("cumulative").print_stats(r"/macros/|docker/api|mkdocs_macros/plugin", 25)
        tops[mode] = text.getvalue()
        say(f"profile of the {mode} build: {out}")
    return tops


# -- results --------------------------------------------------------------------------


def summarize(found: dict[str, Samples]) -> dict[str, dict[str, Any]]:
    """Each measurement that ran: median, samples, the rounds' ratios to its baseline and
    their median, target, verdict."""
    out: dict[str, dict[str, Any]] = {}
    for key, entry in found.items():
        if not entry.values:
            continue
        item: dict[str, Any] = {
            "label": entry.label,
            "unit": entry.unit,
            "median": round(statistics.median(entry.values), 4),
            "samples": [round(value, 4) for value in entry.values],
        }
        base = found[entry.baseline].values if entry.baseline else []
        if base:
            ratios = [value / before for value, before in zip(entry.values, base, strict=True)]
            item.update(baseline=entry.baseline, ratios=[round(r, 4) for r in ratios])
            item["ratio"] = round(statistics.median(ratios), 4)
        if entry.target is not None:
            # A ratio is judged by the median of the rounds' ratios; a count (container events) by its worst run.
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
    """One line per ratio that has a target (each round's ratio, their median, the verdict),
    and the memory the macros module costs."""
    measurements = results["measurements"]
    lines = []
    for item in measurements.values():
        if "target" in item and item.get("baseline"):
            rounds = ", ".join(f"{ratio:.2f}" for ratio in item["ratios"])
            lines.append(
                f"{item['label']} / {measurements[item['baseline']]['label']}: rounds {rounds}; "
                f"median {item['ratio']:.2f} (target <= {item['target']:.2f}) {'PASS' if item['passed'] else 'FAIL'}"
            )
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
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each measurement (medians reported)")
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the results document."""
    started_at = iso_utc()
    stamp = started_at.replace("-", "").replace(":", "")
    found = new_samples()
    details: dict[str, Any] = {}
    try:
        engine = Engine.connect(os.environ.get("DOCKER_HOST") or None, timeout=120)
    except LivedocsError as error:
        raise BenchError(f"{error}; run `make engine`") from None
    try:
        with tempfile.TemporaryDirectory(prefix="livedocs-bench-") as folder:
            copy = SiteCopy(Path(folder), args.image_map)
            say(f"site copied to {copy.root}; priming with one live build (not timed)")
            details["site_copy"] = str(copy.root)
            details["prime"] = build_summary(copy.build("live"))
            details.update(measure_builds(copy, args.repeat, found))
            if args.profile:
                details["profile"] = profile_builds(copy, args.results_dir, stamp)
            if not args.quick:
                try:
                    details["serve"] = measure_serve(copy, args.repeat, found)
                finally:
                    # Put the example back, and its images as the repository's Dockerfiles make them.
                    copy.restore(EXAMPLE_FILE)
                    copy.restore(PROSE_PAGE)
                    say("restoring the images the example edit replaced (not timed)")
                    details["restore"] = build_summary(copy.build("live"))
                details.update(measure_cold(copy, engine, args.repeat, found))
        engine_facts = engine.facts().to_json()
    finally:
        engine.close()
    return {
        "schema": SCHEMA,
        "stamp": stamp,
        "started_at": started_at,
        "finished_at": iso_utc(),
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


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM ends the run as Ctrl-C does: servers stopped, CLI images removed, copy deleted."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    previous = load_previous(args.results_dir)
    try:
        results = run(args)
    except (BenchError, LivedocsError) as error:
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
        print(f"\n-- profile, {mode} build (one thread) --\n{top}")
    print(f"\nresults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
