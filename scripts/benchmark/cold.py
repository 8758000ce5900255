"""The cold pairs: the reader's `docker buildx build` of the site's Dockerfiles against a
site build, each side on fresh engines of its own (the harness's throwaway engines), the
stand-ins put in first, every engine removed afterwards."""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import docker

from macros.dockerfile import rewrite_images
from macros.examples import ImageSpec, load_examples
from macros.imagemap import load_image_map
from macros.scheduler import dependency_order
from macros.settings import RECORD, docker_environment
from scripts.benchmark.config import COLD_ROWS, REPO, BenchError, say
from scripts.benchmark.samples import Samples, add_round
from scripts.benchmark.site import SiteCopy, build_summary, listed_facts
from scripts.harness.children import run_child
from scripts.harness.engines import ThrowawayEngine, started_engines

_CACHED_STEP = re.compile(r"^#\d+ CACHED$", re.M)
_BUILT_LINE = re.compile(r"livedocs: built (\d+), cached (\d+)")
_SITE_LINE = re.compile(r"livedocs: (?:building |built |\S+ failed as expected).*")


# -- the engines ----------------------------------------------------------------------


def put_standins(engine: ThrowawayEngine) -> float:
    """The offline stand-ins, built into `engine` by scripts/standins.sh; the seconds it took.
    The machine's own platform only: the bench builds for it, not for arm64."""
    command = ["bash", str(REPO / "scripts" / "standins.sh"), sys.executable]
    env = {**docker_environment(engine.host), "LIVEDOCS_STANDIN_PLATFORMS": "native"}
    done = run_child(command, cwd=REPO, env=env, timeout=600)
    if done.code != 0:
        raise BenchError(f"scripts/standins.sh into the throwaway {engine.store} engine failed:\n{done.tail()}")
    return done.seconds


@contextlib.contextmanager
def throwaway_engines(stores: Sequence[str]) -> Iterator[list[ThrowawayEngine]]:
    """Fresh engines, one per store in `stores` (in that order), answering and holding the
    stand-ins; afterwards, whatever happened, stopped and removed (see each one's `left`)."""
    with started_engines(stores) as engines:
        for engine in engines:
            put_standins(engine)
        yield engines


@dataclass(frozen=True)
class FreshEngine:
    """A throwaway engine as it was before it was timed: what it held."""

    store: str
    version: str
    folder: str
    bridge: str
    images: list[str]
    build_cache_records: int


def fresh_engine(engine: ThrowawayEngine) -> FreshEngine:
    """What `engine` holds: its images' tags and how many build cache records it has."""
    client = docker.DockerClient(base_url=engine.host, timeout=60)
    try:
        tags = sorted(tag for image in client.images.list() for tag in image.tags)
        cache = client.df().get("BuildCache") or []
    finally:
        client.close()
    version = listed_facts(engine.host).get("version", "?")
    return FreshEngine(engine.store, version, str(engine.home), f"{engine.name} {engine.subnet}", tags, len(cache))


def check_cold(engines: Sequence[ThrowawayEngine]) -> list[FreshEngine]:
    """What each fresh engine holds before it is timed; BenchError unless that is the
    stand-ins alone, with no build cache."""
    found = []
    for engine in engines:
        fresh = fresh_engine(engine)
        others = [tag for tag in fresh.images if not tag.startswith("standin/")]
        if others or fresh.build_cache_records:
            contents = {"images": fresh.images, "build_cache_records": fresh.build_cache_records}
            raise BenchError(f"a fresh {engine.store} engine is not cold: {contents}")
        found.append(fresh)
    return found


# -- the baseline: the same Dockerfiles built by hand ---------------------------------


@dataclass(frozen=True)
class CliBuild:
    tag: str
    command: list[str]
    expect_failure: bool


@dataclass(frozen=True)
class HandBuilds:
    """The builds by hand of one cold round: seconds in all and per build, cached steps."""

    seconds: float
    seconds_by_build: dict[str, float]
    cached_steps: int


def cli_builds(specs: Mapping[str, ImageSpec], image_map: str, workdir: Path) -> list[CliBuild]:
    """The reader's `docker buildx build --progress=plain -t TAG -f DOCKERFILE FOLDER` (with the
    image's `--no-cache-filter` and `--secret` options), one per declared image, on a copy of
    its context (FROM lines mapped to the stand-ins as the site maps them, `edit:` replacements
    made), an image built `after:` another after it."""
    mapping = load_image_map(REPO, image_map)
    builds = []
    for tag in dependency_order(specs, specs):
        spec = specs[tag]
        context = workdir / "by-hand" / re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
        shutil.copytree(spec.context_path, context, symlinks=True)
        site_root = spec.folder.parent.parent  # examples/<app> of the site copy
        for original, replacement in spec.edit.items():  # replacement: the site's examples/_edits/<app>/<file>
            shutil.copyfile(site_root / replacement, context / original)
        dockerfile = context / spec.dockerfile
        dockerfile.write_text(rewrite_images(dockerfile.read_text(encoding="utf-8"), mapping), encoding="utf-8")
        command = ["docker", "buildx", "build", "--progress=plain", "-t", tag, "-f", str(dockerfile)]
        if spec.target:
            command += ["--target", spec.target]
        for key, value in sorted(spec.build_args.items()):
            command += ["--build-arg", f"{key}={value}"]
        for stage in spec.no_cache_filter:
            command += ["--no-cache-filter", stage]
        for secret, path in spec.secret_paths.items():
            command += ["--secret", f"id={secret},src={path}"]
        builds.append(CliBuild(tag, [*command, str(context)], spec.expect_failure))
    return builds


def build_by_hand(builds: list[CliBuild], engines: Sequence[ThrowawayEngine]) -> HandBuilds:
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
    return HandBuilds(seconds, by_build, cached)


# -- the site's side ------------------------------------------------------------------


@dataclass(frozen=True)
class SiteBuild:
    """The site build of one cold round: its seconds, its summary lines, its build lines."""

    seconds: float
    summary: str
    log: list[str]


def build_site_cold(copy: SiteCopy, engines: Sequence[ThrowawayEngine]) -> SiteBuild:
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
    return SiteBuild(run.seconds, build_summary(run), _SITE_LINE.findall(run.output))


# -- the rounds -----------------------------------------------------------------------


@dataclass
class ColdRound:
    """One round of a cold row (the results' `cold_rounds` entries)."""

    round: int
    row: str
    first: str  # "by hand" or "site": which side was timed first
    setup_seconds: float  # engines up, stand-ins in: not timed
    fresh_engines: dict[str, list[FreshEngine]]  # "by_hand", "site"
    by_hand: HandBuilds | None = None
    site: SiteBuild | None = None
    left: list[str] | None = None  # what stopping the engines could not remove

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cold_pair(copy: SiteCopy, builds: list[CliBuild], number: int, row: str) -> ColdRound:
    """One round of a cold row: fresh engines of its stores for each side; the builds by hand
    on one set (each engine in turn), the site on the other (all in one build), timed one
    after the other, alternating which goes first; then every engine stopped and removed."""
    stores = COLD_ROWS[row]
    by_hand_first = number % 2 == 1  # alternate, so that neither side always goes first
    started = time.perf_counter()
    with throwaway_engines([*stores, *stores]) as engines:
        by_hand_engines, site_engines = engines[: len(stores)], engines[len(stores) :]
        record = ColdRound(
            round=number,
            row=row,
            first="by hand" if by_hand_first else "site",
            setup_seconds=round(time.perf_counter() - started, 1),
            fresh_engines={"by_hand": check_cold(by_hand_engines), "site": check_cold(site_engines)},
        )
        for side in ("by_hand", "site") if by_hand_first else ("site", "by_hand"):
            if side == "by_hand":
                record.by_hand = build_by_hand(builds, by_hand_engines)
            else:
                record.site = build_site_cold(copy, site_engines)
    record.left = [item for engine in engines for item in engine.left]
    return record


def measure_cold(copy: SiteCopy, repeat: int, found: dict[str, Samples], rows: Sequence[str]) -> dict[str, Any]:
    """Rounds of the cold pairs of `rows`: the builds by hand and the site's, each on fresh engines."""
    specs = load_examples(copy.root)
    builds = cli_builds(specs, copy.image_map, copy.workdir)
    rounds = []
    for number in range(1, repeat + 1):
        for row in rows:
            record = cold_pair(copy, builds, number, row)
            assert record.by_hand is not None and record.site is not None
            by_hand, site = record.by_hand.seconds, record.site.seconds
            add_round(found, **{f"cold_cli_{row}": by_hand, f"cold_live_{row}": site})
            rounds.append(record.to_json())
            say(
                f"cold {number}/{repeat} on {' + '.join(COLD_ROWS[row])}: by hand {by_hand:.1f}s, site {site:.1f}s "
                f"(ratio {site / by_hand:.2f}; {record.first} first; site {record.site.summary})"
            )
    return {"cold_rounds": rounds, "cli_builds": [" ".join(build.command[:-1]) + " <folder>" for build in builds]}
