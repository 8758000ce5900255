#!/usr/bin/env python3
"""Benchmark the site: what measuring costs over replaying the record, and over building
the same Dockerfiles by hand.

One run, on a temporary copy of the site (docs/, examples/ and mkdocs.yml copied, macros/
and overrides/ symlinked), so that the repository's examples/measurements.json is never rewritten and
nothing is built into site/:

  replay build       LIVEDOCS_ENGINE=replay mkdocs build: no engine work; the baseline
  warm live build    LIVEDOCS_ENGINE=live on the listed engines (LIVEDOCS_ENGINES, else the
                     ones `make engine` started, as a site build finds them), every image
                     current; target <= 1.15 x replay
  cold, one store    a site build measuring on a fresh overlay2 engine (LIVEDOCS_ENGINE=auto,
                     as `make site`: the containerd figures come from the record); target
                     <= 1.0 x the reader's own `docker buildx build --progress=plain` of the
                     same Dockerfiles (FROM mapped as the site maps it, same tags, `after:`
                     order), one after another, on another fresh overlay2 engine
  cold, both stores  a site build measuring on a fresh overlay2 and a fresh containerd-store
                     engine at once; target <= 1.0 x the same builds by hand on a fresh
                     engine of each store, one store after the other
  serve              under `mkdocs serve` on the listed engines: prose edit -> page shows it;
                     example edit -> page shows the changed figure (and the log says the
                     rebuild ended); container events during the prose edit (target 0)
  peak memory        max RSS of a replay build, with and without the macros module

Cold is cold on both sides, and the engines a contributor uses are never pruned: each cold
pair starts dockerds of its own (one per side and store, each with an empty data root, so
no images and an empty BuildKit cache), puts the offline stand-ins into each with
scripts/standins.sh (not timed), checks that each holds nothing else, times the two sides
one after the other, each on its own engines, then stops the engines and removes all they
had (processes, mounts, folder, bridge), on Ctrl-C and SIGTERM too. That needs root and a
dockerd on PATH (`make bench` has both); without them the cold rows are skipped, and the
output says why.

Every timing is wall-clock, taken in --repeat rounds (default 3). A round times a baseline
and what is compared with it back to back (a replay build, then a warm live build; the
builds by hand, then the site's, or the other way round: the cold pairs alternate which
side goes first), so each round has a ratio of its own; a ratio is the median of the
rounds' ratios, and so is its verdict: other work on the machine during one round moves
that round's ratio, not the others'. The table gives each median, its ratio, the target
and whether it is met, and the previous bench/latest.json beside them; the results go to
bench/results-<timestamp>.json and bench/latest.json. A missed target is reported in the
table, not by the exit status: the exit status is non-zero only when the benchmark itself
could not run.

    .venv/bin/python scripts/bench.py [--repeat N] [--quick] [--cold ROWS] [--results-dir DIR] [--profile]

--quick: the replay, warm, memory and cold one-store rows only (no serve, no cold pair on
both stores). --cold one_store,both_stores (or none) chooses the cold pairs to time: a cold
round on both stores takes about 20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import http.client
import io
import itertools
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the site's macros/, and scripts/probes.py (free ports, the /proc scan, events)

from macros import clock  # noqa: E402
from macros.dockerfile import rewrite_images  # noqa: E402
from macros.engine import LOCAL_SOCKET, Engine  # noqa: E402
from macros.errors import LivedocsError  # noqa: E402
from macros.examples import ImageSpec, load_examples  # noqa: E402
from macros.files import write_atomically  # noqa: E402
from macros.imagemap import load_image_map  # noqa: E402
from macros.scheduler import dependency_order  # noqa: E402
from macros.settings import RECORD, Settings, docker_environment  # noqa: E402
from macros.units import iso_utc  # noqa: E402
from scripts.probes import container_events, free_port, processes_naming  # noqa: E402

DEFAULT_RESULTS = REPO / "bench"
DEFAULT_IMAGE_MAP = REPO / "tests" / "standins" / "image-map.yml"
# 3: the cold rows on fresh engines of the bench's own, against `docker buildx build` by hand
# (2: a ratio is the median of the rounds' ratios; 1: the ratio of the medians)
SCHEMA = 3
PROSE_PAGE = "docs/multi-stage.md"
PROSE_URL = "multi-stage/"  # below the path the server says it serves on (site_url's path)
EXAMPLE_FILE = "examples/go-app/main.go"
EXAMPLE_TEXT = 'fmt.Fprintf(w, "'  # the handler's reply; the marker goes right after it
WARM_TARGET = 1.15
COLD_TARGET = 1.0
BUILD_TIMEOUT = 3600.0
SERVE_TIMEOUT = 900.0
NO_MACROS_CONFIG = "mkdocs-nomacros.yml"
SHARED_TRIES = 3  # tries of a build (or round) on the listed engines, which others build on too
# The cold rows: which stores each compares on (a fresh engine per store and side).
COLD_ROWS = {"one_store": ("overlay2",), "both_stores": ("overlay2", "containerd")}
# Each store's daemon.json, as scripts/engine.sh writes them.
ENGINE_CONFIG: dict[str, dict[str, Any]] = {
    "overlay2": {"storage-driver": "overlay2"},
    "containerd": {"features": {"containerd-snapshotter": True}},
}
# The bridges of the throwaway engines take /24s of 10.213.0.0/16: not Docker's default
# address pools (172.17-31, 192.168), nor what scripts/engine.sh or tests/engines.py use.
BRIDGE_NET = "10.213"
ENGINE_WAIT = 120.0  # seconds a fresh dockerd may take to answer
# Registry traffic of the throwaway engines goes to a dead loopback proxy, as the main engines'.
DEAD_PROXY = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "localhost,127.0.0.1",
}
_CACHED_STEP = re.compile(r"^#\d+ CACHED$", re.M)
_BUILT_LINE = re.compile(r"livedocs: built (\d+), cached (\d+)")
# The end of a serve rebuild: the browsers are reloaded after every build that returns
# (mkdocs does not always log "Documentation built" for a rebuild), or the rebuild failed.
_REBUILT_LINE = re.compile(r"Reloading browsers|An error happened during the rebuild")
_SERVING_LINE = re.compile(r"Serving on http://[^/\s]+(/\S*)")
_SITE_LINE = re.compile(r"livedocs: (?:building |built |\S+ failed as expected).*")
_SUMMARY_LINE = re.compile(r"livedocs: built \d+, cached \d+.*")


class BenchError(Exception):
    """The benchmark itself cannot go on (as opposed to a target that is missed)."""


T = TypeVar("T")


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


def child_env(mode: str | None, image_map: str, engines: Sequence[str | None] = ()) -> dict[str, str]:
    """The environment of a site build: LIVEDOCS_ENGINE as given, the image map, no serve
    flag, and LIVEDOCS_ENGINES naming `engines` (if any: else the build finds its own)."""
    unset = ("LIVEDOCS_ENGINE", "LIVEDOCS_ENGINES", "LIVEDOCS_SERVE")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update({"NO_MKDOCS_2_WARNING": "1", "LIVEDOCS_IMAGE_MAP": image_map, "PYTHONUNBUFFERED": "1"})
    if mode is not None:
        env["LIVEDOCS_ENGINE"] = mode
    if engines:
        env["LIVEDOCS_ENGINES"] = ",".join(host or LOCAL_SOCKET for host in engines)
    return env


def listed_engines() -> tuple[str | None, ...]:
    """The engines a site build of this repository measures on (None: the local socket)."""
    return Settings.load(REPO).engines


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
    """docs/, examples/ and mkdocs.yml of `source` (the repository, or the site `--site` names)
    copied into a temporary folder, this repository's macros/ and overrides/ (the theme's
    templates mkdocs.yml names) symlinked."""

    def __init__(self, workdir: Path, source: Path, image_map: str, engines: Sequence[str | None]) -> None:
        self.workdir = workdir
        self.source = source
        self.root = workdir / "src"
        self.site_dir = workdir / "site"
        self.image_map = image_map
        self.engines = tuple(engines)  # what its live builds measure on, unless told otherwise
        self.mkdocs = mkdocs_command()
        self.root.mkdir()
        shutil.copytree(source / "docs", self.root / "docs", symlinks=True)
        shutil.copytree(source / "examples", self.root / "examples", symlinks=True)
        shutil.copy2(source / "mkdocs.yml", self.root / "mkdocs.yml")
        (self.root / "macros").symlink_to(REPO / "macros", target_is_directory=True)
        (self.root / "overrides").symlink_to(REPO / "overrides", target_is_directory=True)
        # The same site without the macros plugin: pages keep their {{ ... }} as text.
        (self.root / NO_MACROS_CONFIG).write_text(
            "# The site without the macros module, for the memory comparison.\n"
            "INHERIT: mkdocs.yml\nstrict: false\nplugins:\n  - search\n",
            encoding="utf-8",
        )

    def env(self, mode: str, engines: Sequence[str | None] = ()) -> dict[str, str]:
        return child_env(mode, self.image_map, engines or self.engines)

    def build(self, mode: str, *, macros: bool = True, engines: Sequence[str] = ()) -> ChildRun:
        """`mkdocs build` of the copy into the temporary site folder (--strict with macros),
        measuring on `engines` if given, else on the listed ones."""
        command = [self.mkdocs, "build", "--site-dir", str(self.site_dir)]
        command += ["--strict"] if macros else ["--config-file", NO_MACROS_CONFIG]
        run = run_child(command, cwd=self.root, env=self.env(mode, engines))
        if run.code != 0:
            what = "mkdocs build" + ("" if macros else " (without macros)")
            raise BenchError(f"{what} with LIVEDOCS_ENGINE={mode} failed ({run.code}):\n{run.tail()}")
        return run

    def restore(self, relative: str) -> None:
        """Put one file of the copy back as it is in the source (gone, where the source has none)."""
        if (self.source / relative).exists():
            shutil.copy2(self.source / relative, self.root / relative)
        else:
            (self.root / relative).unlink(missing_ok=True)


def build_summary(run: ChildRun) -> str:
    """The workbench's 'built N, cached M' lines (one per store), or what the log says instead."""
    found = _SUMMARY_LINE.findall(run.output)
    if found:
        return "; ".join(found)
    return "built nothing" if "livedocs: building" not in run.output else "built (no summary line)"


# -- throwaway engines, for the cold rounds ---------------------------------------------


def cold_unavailable() -> str | None:
    """Why the cold rounds cannot start engines of their own here, or None if they can."""
    if os.geteuid() != 0:
        return "starting throwaway engines needs root"
    missing = [tool for tool in ("dockerd", "containerd", "docker", "ip", "umount") if shutil.which(tool) is None]
    if missing:
        return f"not on PATH: {', '.join(missing)} (`make bench` puts /opt/livedocs/docker first)"
    return None


def free_subnets(count: int) -> list[str]:
    """Addresses for `count` bridges, each in a /24 of 10.213.0.0/16 that no address or route here is in."""
    used = "".join(
        subprocess.run(["ip", "-4", *args], capture_output=True, text=True, check=False).stdout
        for args in (["-o", "addr"], ["route"])
    )
    taken = {int(number) for number in re.findall(rf"(?<![\d.]){re.escape(BRIDGE_NET)}\.(\d+)\.", used)}
    start = os.getpid() % 250
    free = [number for step in range(250) if (number := (start + step) % 250 + 1) not in taken]
    if len(free) < count:
        raise BenchError(f"no free /24 in {BRIDGE_NET}.0.0/16 for a throwaway engine's bridge")
    return [f"{BRIDGE_NET}.{number}.1/24" for number in free[:count]]


def mounts_under(folder: Path) -> list[str]:
    """The mount points at or below `folder`, deepest first."""
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) > 4:
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                if Path(point).is_relative_to(folder):
                    points.append(point)
    return sorted(points, key=len, reverse=True)


_engine_numbers = itertools.count(1)


class ThrowawayEngine:
    """A dockerd of the bench's own, started with an empty data root: no images, no build cache.

    Socket, data root, exec root, pidfile, daemon.json and log all lie in one temporary
    folder; its containerd namespaces and its bridge (on a private /24, iptables left
    alone) are its own. `stop` removes every trace of it.
    """

    def __init__(self, store: str, subnet: str) -> None:
        self.store = store
        self.subnet = subnet
        self.name = f"ldb{os.getpid() % 100000}n{next(_engine_numbers)}"  # bridge and namespaces; <= 15 characters
        self.home = Path(tempfile.mkdtemp(prefix=f"livedocs-bench-{store}-")).resolve()
        self.host = f"unix://{self.home / 'docker.sock'}"
        self.process: subprocess.Popen[bytes] | None = None
        self.bridge = False  # whether the bridge was made (and so must go)
        self.left: list[str] = []  # what stopping it could not remove
        self.facts: dict[str, str] = {}  # the engine's, once it answers

    def start(self) -> None:
        """Make the bridge and start the dockerd (`wait` waits for it to answer)."""
        for args in (
            ["link", "add", "name", self.name, "type", "bridge"],
            ["addr", "add", self.subnet, "dev", self.name],
            ["link", "set", self.name, "up"],
        ):
            done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BenchError(f"ip {' '.join(args)}: {done.stderr.strip()}")
            self.bridge = True
        config = self.home / "daemon.json"
        config.write_text(json.dumps(ENGINE_CONFIG[self.store]) + "\n", encoding="utf-8")
        dockerd = shutil.which("dockerd") or "dockerd"
        command = [
            dockerd,
            f"--config-file={config}",
            f"--host={self.host}",
            f"--data-root={self.home / 'data'}",
            f"--exec-root={self.home / 'exec'}",
            f"--pidfile={self.home / 'dockerd.pid'}",
            f"--bridge={self.name}",
            f"--containerd-namespace={self.name}",
            f"--containerd-plugins-namespace={self.name}-plugins",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ]
        proxy = Path(dockerd).with_name("docker-proxy")
        if proxy.is_file():
            command.append(f"--userland-proxy-path={proxy}")
        env = {**os.environ, **DEAD_PROXY, **{key.lower(): value for key, value in DEAD_PROXY.items()}}
        with open(self.home / "dockerd.log", "wb") as log:
            # A session of its own: a Ctrl-C in the terminal reaches the bench, which stops it.
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )

    def wait(self) -> None:
        """Wait until the engine answers. BenchError if it exits, stalls, or has another store."""
        assert self.process is not None
        deadline = time.monotonic() + ENGINE_WAIT
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"a throwaway {self.store} dockerd exited ({self.process.returncode}):\n{self.log()}")
            try:
                engine = Engine.connect(self.host, timeout=5)
            except LivedocsError:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"a throwaway {self.store} dockerd did not answer in {ENGINE_WAIT:g}s:\n{self.log()}"
                    ) from None
                time.sleep(0.25)
                continue
            try:
                facts = engine.facts()
            finally:
                engine.close()
            if facts.store != self.store:
                raise BenchError(f"the throwaway engine at {self.host} has the {facts.store} store, not {self.store}")
            self.facts = facts.to_json()
            return

    def log(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.home / "dockerd.log").read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def put_standins(self) -> float:
        """The offline stand-ins, built into this engine by scripts/standins.sh; the seconds it took."""
        command = ["bash", str(REPO / "scripts" / "standins.sh"), sys.executable]
        done = run_child(command, cwd=REPO, env=docker_environment(self.host), timeout=600)
        if done.code != 0:
            raise BenchError(f"scripts/standins.sh into the throwaway {self.store} engine failed:\n{done.tail()}")
        return done.seconds

    def contents(self) -> dict[str, Any]:
        """What the engine holds: its images' tags and how many build cache records it has."""
        client = docker.DockerClient(base_url=self.host, timeout=60)
        try:
            tags = sorted(tag for image in client.images.list() for tag in image.tags)
            cache = client.df().get("BuildCache") or []
        finally:
            client.close()
        return {"images": tags, "build_cache_records": len(cache)}

    def stop(self) -> None:
        """Stop the dockerd, then remove what it leaves: processes, mounts, folder, bridge.

        What cannot be removed is listed in `left`. The folder is removed only once nothing
        is mounted below it any more, so that no mount can lead the removal outside it.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # dockerd stops its containers, its containerd and its mounts
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Its containerd and shims, had the dockerd no time to stop them: they name its folder.
        for pid in processes_naming(str(self.home)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for point in mounts_under(self.home):
            if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        self.left = mounts_under(self.home)
        if not self.left:
            shutil.rmtree(self.home, ignore_errors=True)
        if self.home.exists():
            self.left.append(str(self.home))
        if self.bridge:
            subprocess.run(["ip", "link", "delete", self.name], capture_output=True, check=False)
            if subprocess.run(["ip", "link", "show", self.name], capture_output=True, check=False).returncode == 0:
                self.left.append(f"bridge {self.name}")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (then end the run as Ctrl-C does)."""
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _: caught.append(signum)) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt(f"signal {caught[0]}")


@contextlib.contextmanager
def throwaway_engines(stores: Sequence[str]) -> Iterator[list[ThrowawayEngine]]:
    """Fresh engines, one per store in `stores` (in that order), answering and holding the
    stand-ins; afterwards, whatever happened, stopped and removed (see each one's `left`)."""
    engines: list[ThrowawayEngine] = []
    try:
        for store, subnet in zip(stores, free_subnets(len(stores)), strict=True):
            engines.append(ThrowawayEngine(store, subnet))
            engines[-1].start()
        for engine in engines:
            engine.wait()
        for engine in engines:
            engine.put_standins()
        yield engines
    finally:
        with signals_held():  # a second Ctrl-C does not leave an engine behind
            for engine in reversed(engines):
                engine.stop()
        left = [item for engine in engines for item in engine.left]
        if left:
            say(f"could not remove all of the throwaway engines; left: {', '.join(left)}")


def check_cold(engines: Sequence[ThrowawayEngine]) -> list[dict[str, Any]]:
    """What each fresh engine holds before it is timed; BenchError unless that is the
    stand-ins alone, with no build cache."""
    found = []
    for engine in engines:
        contents = engine.contents()
        others = [tag for tag in contents["images"] if not tag.startswith("standin/")]
        if others or contents["build_cache_records"]:
            raise BenchError(f"a fresh {engine.store} engine is not cold: {contents}")
        identity = {"store": engine.store, "version": engine.facts.get("version", "?"), "folder": str(engine.home)}
        found.append({**identity, "bridge": f"{engine.name} {engine.subnet}", **contents})
    return found


# -- the baseline: the same Dockerfiles built by hand ---------------------------------


@dataclass(frozen=True)
class CliBuild:
    tag: str
    command: list[str]
    expect_failure: bool


def cli_builds(specs: Mapping[str, ImageSpec], image_map: str, workdir: Path) -> list[CliBuild]:
    """The reader's `docker buildx build --progress=plain -t TAG -f DOCKERFILE FOLDER`, one per
    declared image, on a copy of its context (FROM lines mapped to the stand-ins as the
    site maps them, `edit:` replacements made), an image built `after:` another after it."""
    mapping = load_image_map(REPO, image_map)
    builds = []
    for tag in dependency_order(specs, specs):
        spec = specs[tag]
        context = workdir / "by-hand" / re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
        shutil.copytree(spec.context_path, context, symlinks=True)
        for original, replacement in spec.edit.items():
            shutil.copyfile(spec.context_path / replacement, context / original)
        dockerfile = context / spec.dockerfile
        dockerfile.write_text(rewrite_images(dockerfile.read_text(encoding="utf-8"), mapping), encoding="utf-8")
        command = ["docker", "buildx", "build", "--progress=plain", "-t", tag, "-f", str(dockerfile)]
        if spec.target:
            command += ["--target", spec.target]
        for key, value in sorted(spec.build_args.items()):
            command += ["--build-arg", f"{key}={value}"]
        builds.append(CliBuild(tag, [*command, str(context)], spec.expect_failure))
    return builds


def build_by_hand(builds: list[CliBuild], engines: Sequence[ThrowawayEngine]) -> dict[str, Any]:
    """Every build, one after another, on each engine in turn; the seconds they took, summed.

    BenchError if a build does not end as declared (a failure expected, or not)."""
    seconds, by_build, cached, unexpected = 0.0, {}, 0, []
    for engine in engines:
        for build in builds:
            done = run_child(build.command, cwd=REPO, env=docker_environment(engine.host))
            seconds += done.seconds
            by_build[f"{build.tag} on {engine.store}"] = round(done.seconds, 2)
            cached += len(_CACHED_STEP.findall(done.output))
            if (done.code != 0) != build.expect_failure:
                unexpected.append(f"{build.tag} on {engine.store}: exit {done.code}\n{done.tail()}")
    if unexpected:
        raise BenchError("the builds by hand did not end as declared:\n" + "\n".join(unexpected))
    return {"seconds": seconds, "seconds_by_build": by_build, "cached_steps": cached}


def build_site_cold(copy: SiteCopy, engines: Sequence[ThrowawayEngine]) -> dict[str, Any]:
    """A site build of the copy measuring on `engines`, from the repository's record as a
    clone has it; BenchError unless it built every image on every engine (none cached).

    LIVEDOCS_ENGINE=auto, as `make site` has it: live on each engine given, and a store none
    of them has is shown from the record. (In live mode a build on overlay2 alone fails: the
    pages claim quantities only the containerd store has.)
    """
    copy.restore(RECORD)  # not the record an earlier cold round wrote
    run = copy.build("auto", engines=[engine.host for engine in engines])
    counts = [(int(built), int(cached)) for built, cached in _BUILT_LINE.findall(run.output)]
    if len(counts) != len(engines) or any(cached for _, cached in counts):
        raise BenchError(f"the cold site build did not build everything on each engine: {build_summary(run)}")
    return {"seconds": run.seconds, "summary": build_summary(run), "log": _SITE_LINE.findall(run.output)}


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
                env=self.copy.env("live"),
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
    """Edit-to-reload times under `mkdocs serve`, and the engines' container events during a prose edit.

    Each edit is timed from the write to the first poll of the page that shows it; the
    log's end of the rebuild is timed too. The engines' container events are read for the
    span from the prose edit until the server is calm again.
    """
    server = Server(copy)
    page_file = copy.root / PROSE_PAGE
    example_file = copy.root / EXAMPLE_FILE
    example_source = example_file.read_text(encoding="utf-8")
    if EXAMPLE_TEXT not in example_source:
        raise BenchError(f"{EXAMPLE_FILE} has no {EXAMPLE_TEXT!r} to edit")
    details: dict[str, Any] = {"container_events": [], "example_edits_not_shown": []}
    # the engines the server measures on, for their container events
    clients = [
        docker.from_env(timeout=60, environment=docker_environment(host or LOCAL_SOCKET)) for host in copy.engines
    ]
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
            until = time.time()
            events = [event for client in clients for event in container_events(client, since, until)]
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
        for client in clients:
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
        Samples("cold_cli_one_store", "cold: docker buildx build by hand, overlay2"),
        Samples("cold_live_one_store", "cold live build, overlay2", baseline="cold_cli_one_store", target=COLD_TARGET),
        Samples("cold_cli_both_stores", "cold: docker buildx build by hand, both stores in turn"),
        Samples(
            "cold_live_both_stores", "cold live build, both stores", baseline="cold_cli_both_stores", target=COLD_TARGET
        ),
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


def on_shared_engines(what: str, attempt: Callable[[], T], retries: list[str]) -> T:
    """`attempt()`, tried again when a site build in it fails, SHARED_TRIES times in all.

    The listed engines are shared: another checkout's tests or site build may build the
    same tags meanwhile and replace an image under this build ("no longer in the engine").
    Each retry is said, and listed in `retries` (the results keep them).
    """
    for number in range(1, SHARED_TRIES):
        try:
            return attempt()
        except BenchError as error:
            last = [line for line in str(error).splitlines() if line.strip()][-1:] or ["?"]
            retries.append(f"{what}, try {number}: {last[0][:400]}")
            say(f"{what} failed on try {number} of {SHARED_TRIES}, trying again: {last[0][:200]}")
    return attempt()


def measure_builds(copy: SiteCopy, repeat: int, found: dict[str, Samples], retries: list[str]) -> dict[str, Any]:
    """Rounds of a replay build, a warm live build right after it, and a replay build without
    macros (a round whose build fails is done again whole: see `on_shared_engines`)."""
    not_warm = []
    for number in range(repeat):
        replay, warm, bare = on_shared_engines(
            f"builds {number + 1}/{repeat}",
            lambda: (copy.build("replay"), copy.build("live"), copy.build("replay", macros=False)),
            retries,
        )
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


def measure_cold(copy: SiteCopy, repeat: int, found: dict[str, Samples], rows: Sequence[str]) -> dict[str, Any]:
    """Rounds of the cold pairs of `rows`: the builds by hand and the site's, each on fresh engines."""
    specs = load_examples(copy.root)
    builds = cli_builds(specs, copy.image_map, copy.workdir)
    rounds = []
    for number in range(repeat):
        for row in rows:
            by_hand_first = number % 2 == 0  # alternate, so that neither side always goes first
            record = cold_pair(copy, builds, COLD_ROWS[row], by_hand_first)
            add_round(
                found,
                **{f"cold_cli_{row}": record["by_hand"]["seconds"], f"cold_live_{row}": record["site"]["seconds"]},
            )
            rounds.append({"round": number + 1, "row": row, **record})
            by_hand, site = record["by_hand"]["seconds"], record["site"]["seconds"]
            say(
                f"cold {number + 1}/{repeat} on {' + '.join(COLD_ROWS[row])}: by hand {by_hand:.1f}s, site {site:.1f}s "
                f"(ratio {site / by_hand:.2f}; {record['first']} first; site {record['site']['summary']})"
            )
    return {"cold_rounds": rounds, "cli_builds": [" ".join(build.command[:-1]) + " <folder>" for build in builds]}


def cold_pair(copy: SiteCopy, builds: list[CliBuild], stores: Sequence[str], by_hand_first: bool) -> dict[str, Any]:
    """One round of a cold row: fresh engines of `stores` for each side; the builds by hand on
    one set (each engine in turn), the site on the other (all in one build), timed one after
    the other; then every engine stopped and removed."""
    started = time.perf_counter()
    with throwaway_engines([*stores, *stores]) as engines:
        by_hand_engines, site_engines = engines[: len(stores)], engines[len(stores) :]
        record: dict[str, Any] = {
            "first": "by hand" if by_hand_first else "site",
            "setup_seconds": round(time.perf_counter() - started, 1),  # engines up, stand-ins in: not timed
            "fresh_engines": {"by_hand": check_cold(by_hand_engines), "site": check_cold(site_engines)},
        }
        sides = [
            ("by_hand", lambda: build_by_hand(builds, by_hand_engines)),
            ("site", lambda: build_site_cold(copy, site_engines)),
        ]
        for side, measure in sides if by_hand_first else reversed(sides):
            record[side] = measure()
    record["left"] = [item for engine in engines for item in engine.left]
    return record


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
        run = run_child(command, cwd=copy.root, env={**copy.env(mode), "LIVEDOCS_WORKERS": "0"})
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
    """results-<stamp>.json and latest.json (replaced whole: a reader never sees half of it)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    path = results_dir / f"results-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    write_atomically(results_dir / "latest.json", text)
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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="replay, warm, memory and the cold pair on one store only: no serve, no cold pair on both stores",
    )
    parser.add_argument(
        "--cold",
        type=lambda text: [row for row in text.split(",") if row and row != "none"],
        default=None,
        help=f"the cold pairs to time, comma-separated, of {', '.join(COLD_ROWS)} (or none); default all",
    )
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS, help="where the JSON results go")
    parser.add_argument(
        "--site",
        type=Path,
        default=REPO,
        help="the site to time: a folder with docs/, examples/ and mkdocs.yml (default: this repository's)",
    )
    parser.add_argument("--profile", action="store_true", help="also profile one replay and one warm build")
    parser.add_argument(
        "--image-map",
        default=os.environ.get("LIVEDOCS_IMAGE_MAP", str(DEFAULT_IMAGE_MAP)),
        help="LIVEDOCS_IMAGE_MAP for the builds ('' for none; default tests/standins/image-map.yml)",
    )
    args = parser.parse_args(argv)
    if not all((args.site / part).exists() for part in ("docs", "examples", "mkdocs.yml")):
        parser.error(f"--site: {args.site} has no docs/, examples/ and mkdocs.yml")
    if args.quick is False and args.site.resolve() != REPO:
        parser.error("--site: the serve rounds edit this repository's chapter; use it with --quick")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.cold is not None and (unknown := [row for row in args.cold if row not in COLD_ROWS]):
        parser.error(f"--cold: no cold pair called {', '.join(unknown)} (there are {', '.join(COLD_ROWS)})")
    if args.image_map:
        path = Path(args.image_map)
        args.image_map = str(path if path.is_absolute() else (REPO / path))
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the results document."""
    started_at = iso_utc(clock.now())
    stamp = started_at.replace("-", "").replace(":", "")
    found = new_samples()
    retries: list[str] = []
    details: dict[str, Any] = {"retried": retries}
    engines = listed_engines()
    engine_facts = [listed_facts(host) for host in engines]
    cold_rows = args.cold if args.cold is not None else ["one_store"] if args.quick else list(COLD_ROWS)
    if cold_rows and (reason := cold_unavailable()):
        say(f"skipping the cold rows: {reason}")
        details["cold_skipped"], cold_rows = reason, []
    with tempfile.TemporaryDirectory(prefix="livedocs-bench-") as folder:
        copy = SiteCopy(Path(folder), args.site.resolve(), args.image_map, engines)
        say(f"site copied to {copy.root}; priming with one live build (not timed)")
        details["site_copy"], details["site_source"] = str(copy.root), str(copy.source)
        details["prime"] = build_summary(on_shared_engines("the priming build", lambda: copy.build("live"), retries))
        details.update(measure_builds(copy, args.repeat, found, retries))
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
                restore = on_shared_engines("the restoring build", lambda: copy.build("live"), retries)
                details["restore"] = build_summary(restore)
        if cold_rows:
            details.update(measure_cold(copy, args.repeat, found, cold_rows))
    return {
        "schema": SCHEMA,
        "stamp": stamp,
        "started_at": started_at,
        "finished_at": iso_utc(clock.now()),
        "repeat": args.repeat,
        "quick": args.quick,
        "cold_rows": cold_rows,
        "environment": {
            "engines": engine_facts,
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


def listed_facts(host: str | None) -> dict[str, str]:
    """The facts of one listed engine; BenchError if it does not answer."""
    try:
        engine = Engine.connect(host, timeout=120)
    except LivedocsError as error:
        raise BenchError(f"{error}; run `make engine`") from None
    try:
        return engine.facts().to_json()
    finally:
        engine.close()


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM ends the run as Ctrl-C does: servers and throwaway engines stopped, copy deleted."""
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
    retried = results["details"].get("retried")
    if retried:
        print(f"note: {len(retried)} build(s) on the listed engines failed and were done again: {retried}")
    if "cold_skipped" in results["details"]:
        print(f"note: no cold rows: {results['details']['cold_skipped']}")
    elif set(results.get("cold_rows", COLD_ROWS)) != set(COLD_ROWS):
        print(f"note: cold pairs timed in this run: {', '.join(results['cold_rows']) or 'none'}")
    for mode, top in results["details"].get("profile", {}).items():
        print(f"\n-- profile, {mode} build (one thread) --\n{top}")
    print(f"\nresults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
