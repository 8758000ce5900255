"""The cold pairs: the reader's `docker buildx build` of the site's Dockerfiles against a
site build, each side on fresh engines of its own (the harness's throwaway engines), the
stand-ins put in first, every engine removed afterwards."""

from __future__ import annotations

import contextlib
import platform
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker

from macros.context import Contexts
from macros.dockerfile import rewrite_images
from macros.examples import ImageSpec, load_examples
from macros.imagemap import load_image_map, platform_map
from macros.planner import engine_tag
from macros.scheduler import dependency_order
from macros.settings import RECORD, docker_environment
from scripts.benchmark.config import BUILD_TIMEOUT, COLD_ROWS, PLATFORMS_BUILD_TIMEOUT, REPO, BenchError, say
from scripts.benchmark.samples import Samples, add_round
from scripts.benchmark.site import SiteCopy, build_summary, listed_facts
from scripts.harness.children import run_child
from scripts.harness.engines import ENGINE_CONFIG, ThrowawayEngine, started_engines

_CACHED_STEP = re.compile(r"^#\d+ CACHED$", re.M)
_BUILT_LINE = re.compile(r"livedocs: built (\d+), cached (\d+)")
_SITE_LINE = re.compile(r"livedocs: (?:building |built |\S+ failed as expected).*")


# -- the engines ----------------------------------------------------------------------

STORES = tuple(ENGINE_CONFIG)  # the image stores an image's outcome may be declared for
_MACHINES = {"x86_64": "linux/amd64", "amd64": "linux/amd64", "aarch64": "linux/arm64", "arm64": "linux/arm64"}
NOT_EMULATED = "is not emulated"  # scripts/standins.sh's warning where no engine builds for arm64


def machine_platform() -> str:
    """This machine's platform: what its throwaway engines build for without emulation (and
    what scripts/standins.sh calls `native`)."""
    machine = platform.machine().lower()
    return _MACHINES.get(machine, f"linux/{machine}")


def put_standins(engine: ThrowawayEngine, platforms: str = "native") -> float:
    """The offline stand-ins, built into `engine` by scripts/standins.sh, and its build cache
    emptied; the seconds it took.

    `platforms` is its LIVEDOCS_STANDIN_PLATFORMS: `native` (the machine's own platform), or
    `native,linux/arm64` where a build is for arm64 (`standin_platforms`); BenchError if the
    engine cannot build for arm64 then."""
    command = ["bash", str(REPO / "scripts" / "standins.sh"), sys.executable]
    env = {**docker_environment(engine.host), "LIVEDOCS_STANDIN_PLATFORMS": platforms}
    done = run_child(command, cwd=REPO, env=env, timeout=600)
    if done.code != 0:
        raise BenchError(f"scripts/standins.sh into the throwaway {engine.store} engine failed:\n{done.tail()}")
    if "linux/arm64" in platforms.split(",") and NOT_EMULATED in done.output:
        raise BenchError(f"the throwaway {engine.store} engine cannot build for linux/arm64:\n{done.tail()}")
    # On the containerd store the arm64 stand-ins end with a build (scripts/standins.sh's
    # `combine`: one tag, both platforms) whose records stay in the build cache: gone, so
    # that the engine is as cold as one that never built (`check_cold`), images kept.
    pruned = run_child(["docker", "builder", "prune", "--all", "--force"], cwd=REPO, env=env, timeout=120)
    if pruned.code != 0:
        raise BenchError(f"docker builder prune on the throwaway {engine.store} engine failed:\n{pruned.tail()}")
    return done.seconds + pruned.seconds


@contextlib.contextmanager
def throwaway_engines(stores: Sequence[str], standins: str = "native") -> Iterator[list[ThrowawayEngine]]:
    """Fresh engines, one per store in `stores` (in that order), answering and holding the
    stand-ins of `standins` (LIVEDOCS_STANDIN_PLATFORMS); afterwards, whatever happened,
    stopped and removed (see each one's `left`)."""
    with started_engines(stores) as engines:
        for engine in engines:
            put_standins(engine, standins)
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
    """One `docker buildx build` by hand: the tag it makes, the command, how it must end."""

    tag: str
    command: list[str]
    fails: dict[str, bool]  # image store -> the build must fail there (`ImageSpec.fails_on`)
    platforms: tuple[str, ...] = ()  # its `--platform`; (): the engine's own
    machine: str | None = None  # the image's `machine:`: built only where that is the platform measured
    view: str | None = None  # the platform measured, where not the engine's own (LIVEDOCS_PLATFORMS)

    def expect_failure(self, store: str) -> bool:
        return self.fails[store]

    def runs_on(self, engine_platform: str) -> bool:
        """Whether it is built on an engine of `engine_platform`, as the site measures the
        image there (`Source.measured_here`: a `machine:` image only for that platform)."""
        return self.machine is None or self.machine == (self.view or engine_platform)


@dataclass(frozen=True)
class HandBuilds:
    """The builds by hand of one cold round: seconds in all and per build, cached steps, and
    the builds not made on an engine whose platform is not their image's `machine:`."""

    seconds: float
    seconds_by_build: dict[str, float]
    cached_steps: int
    skipped: list[str] = field(default_factory=list)


def cli_builds(
    specs: Mapping[str, ImageSpec], image_map: str, workdir: Path, platforms: Sequence[str] = ()
) -> list[CliBuild]:
    """The reader's `docker buildx build --progress=plain -t TAG -f DOCKERFILE FOLDER` (with the
    image's `--platform`, `--no-cache-filter` and `--secret` options), one per declared image,
    on a copy of its context (FROM lines mapped to the stand-ins as the site maps them, `edit:`
    replacements made), an image built `after:` another after it.

    `platforms`: other platforms than the engine's own that the site measures too (its
    LIVEDOCS_PLATFORMS but the machine's): each image is built again right after its own
    build, for each of them, as the site's view of that platform builds it: `--platform` (the
    image's `platforms:`, else that platform), FROM lines from that platform's map, the
    site's tag for it (`planner.engine_tag`: `app:latest-linux-arm64`), and not at all where the
    image's `machine:` is another platform.
    """
    mapping = load_image_map(REPO, image_map)
    # The site's own maps (workbench.py): an image built for one platform (`platforms:
    # [linux/arm64]`) takes its FROM images from that platform's map and its `FROM
    # --platform=$BUILDPLATFORM` stages from the machine's; a view of another platform maps
    # every other FROM line with that platform's map.
    targets = sorted({spec.platforms[0] for spec in specs.values() if len(spec.platforms) == 1})
    own = Contexts(REPO, mapping, {target: _platform_map(image_map, target) for target in targets})
    views = {view: Contexts(REPO, _platform_map(image_map, view), build_map=mapping) for view in platforms}
    builds = []
    for tag in dependency_order(specs, specs):
        spec = specs[tag]
        builds.append(_cli_build(spec, tag, own.maps_of(spec), workdir, None))
        for view, contexts in views.items():
            if spec.machine in (None, view):
                builds.append(_cli_build(spec, engine_tag(tag, view), contexts.maps_of(spec), workdir, view))
    return builds


def _platform_map(image_map: str, platform: str) -> dict[str, str]:
    """The image map of builds for `platform` (`imagemap.platform_map`, as the site loads it)."""
    return load_image_map(REPO, platform_map(image_map, platform, REPO))


def _cli_build(
    spec: ImageSpec,
    tag: str,
    maps: tuple[dict[str, str], dict[str, str] | None],
    workdir: Path,
    view: str | None,
) -> CliBuild:
    """One image's build by hand, tagged `tag`, its FROM lines mapped with `maps` (the map,
    and that of its build-platform stages), measured for `view` (None: the engine's own)."""
    context = workdir / "by-hand" / re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    shutil.copytree(spec.context_path, context, symlinks=True)
    site_root = spec.folder.parent.parent  # examples/<app> of the site copy
    for original, replacement in spec.edit.items():  # replacement: the site's examples/_edits/<app>/<file>
        shutil.copyfile(site_root / replacement, context / original)
    dockerfile = context / spec.dockerfile
    dockerfile.write_text(rewrite_images(dockerfile.read_text(encoding="utf-8"), *maps), encoding="utf-8")
    platforms = spec.platforms or ((view,) if view else ())  # as `Plan.build_platforms`
    command = ["docker", "buildx", "build", "--progress=plain", "-t", tag, "-f", str(dockerfile)]
    if platforms:
        command += ["--platform", ",".join(platforms)]
    if spec.target:
        command += ["--target", spec.target]
    for key, value in sorted(spec.build_args.items()):
        command += ["--build-arg", f"{key}={value}"]
    for stage in spec.no_cache_filter:
        command += ["--no-cache-filter", stage]
    for secret, path in spec.secret_paths.items():
        command += ["--secret", f"id={secret},src={path}"]
    fails = {store: spec.fails_on(store) for store in STORES}
    return CliBuild(tag, [*command, str(context)], fails, platforms, spec.machine, view)


def standin_platforms(builds: Sequence[CliBuild]) -> str:
    """LIVEDOCS_STANDIN_PLATFORMS for the engines `builds` (and the site's same builds) run on:
    the machine's own stand-ins, and the arm64 ones where a build is for linux/arm64 on
    another machine (scripts/standins.sh makes no others)."""
    foreign = {name for build in builds for name in build.platforms} - {machine_platform()}
    return "native,linux/arm64" if "linux/arm64" in foreign else "native"


def engine_platform(engine: ThrowawayEngine) -> str:
    """The platform of `engine`, as the site reads it (`Engine.facts`)."""
    return listed_facts(engine.host).get("platform", "?")


def build_by_hand(builds: list[CliBuild], engines: Sequence[ThrowawayEngine]) -> HandBuilds:
    """Every build, one after another, on each engine in turn, but those whose image's
    `machine:` is not the platform measured there; the seconds they took, summed.

    BenchError if a build does not end as declared for the engine's image store (a failure
    expected, or not)."""
    seconds, by_build, cached, unexpected, skipped = 0.0, {}, 0, [], []
    for engine in engines:
        own = engine_platform(engine)  # asked before the builds: not timed
        for build in builds:
            if not build.runs_on(own):
                skipped.append(f"{build.tag} on {engine.store} ({own}; machine: {build.machine})")
                continue
            done = run_child(build.command, cwd=REPO, env=docker_environment(engine.host))
            seconds += done.seconds
            by_build[f"{build.tag} on {engine.store}"] = round(done.seconds, 2)
            cached += len(_CACHED_STEP.findall(done.output))
            if (done.code != 0) != build.expect_failure(engine.store):
                unexpected.append(f"{build.tag} on {engine.store}: exit {done.code}\n{done.tail()}")
    if unexpected:
        raise BenchError("the builds by hand did not end as declared:\n" + "\n".join(unexpected))
    return HandBuilds(seconds, by_build, cached, skipped)


# -- the site's side ------------------------------------------------------------------


@dataclass(frozen=True)
class SiteBuild:
    """The site build of one cold round: its seconds, its summary lines, its build lines."""

    seconds: float
    summary: str
    log: list[str]


def build_site_cold(copy: SiteCopy, engines: Sequence[ThrowawayEngine], platforms: Sequence[str] = ()) -> SiteBuild:
    """A site build of the copy measuring on `engines`, for `platforms` (LIVEDOCS_PLATFORMS;
    none: each engine's own), from the repository's record as a clone has it; BenchError
    unless it built on every engine for every platform (none cached).

    LIVEDOCS_ENGINE=auto, as `make site` has it: live on each engine given, and a store none
    of them has is shown from the record. (In live mode a build on overlay2 alone fails: the
    pages claim quantities only the containerd store has.)
    """
    copy.restore(RECORD)  # not the record an earlier cold round wrote
    timeout = PLATFORMS_BUILD_TIMEOUT if platforms else BUILD_TIMEOUT
    run = copy.build("auto", engines=[engine.host for engine in engines], platforms=platforms, timeout=timeout)
    counts = [(int(built), int(cached)) for built, cached in _BUILT_LINE.findall(run.output)]
    views = len(engines) * (len(platforms) or 1)  # a summary line per engine and platform that built
    if len(counts) != views or any(cached for _, cached in counts):
        what = f"each engine and platform ({', '.join(platforms)})" if platforms else "each engine"
        raise BenchError(f"the cold site build did not build everything on {what}: {build_summary(run)}")
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
    """One round of a cold row: fresh engines of its stores for each side, holding the
    stand-ins its builds need; the builds by hand on one set (each engine in turn), the site
    on the other (all in one build, for the row's platforms), timed one after the other,
    alternating which goes first; then every engine stopped and removed."""
    stores = COLD_ROWS[row].stores
    by_hand_first = number % 2 == 1  # alternate, so that neither side always goes first
    started = time.perf_counter()
    with throwaway_engines([*stores, *stores], standin_platforms(builds)) as engines:
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
                record.site = build_site_cold(copy, site_engines, COLD_ROWS[row].platforms)
    record.left = [item for engine in engines for item in engine.left]
    return record


def row_builds(specs: Mapping[str, ImageSpec], image_map: str, workdir: Path, row: str) -> list[CliBuild]:
    """The builds by hand of one cold row (`cli_builds`), in a folder of its own under
    `workdir`: for each of the row's platforms that is not the machine's own, each image again."""
    others = [name for name in COLD_ROWS[row].platforms if name != machine_platform()]
    return cli_builds(specs, image_map, workdir / row, others)


def measure_cold(copy: SiteCopy, repeat: int, found: dict[str, Samples], rows: Sequence[str]) -> dict[str, Any]:
    """Rounds of the cold pairs of `rows`: the builds by hand and the site's, each on fresh engines."""
    specs = load_examples(copy.root)
    builds = {row: row_builds(specs, copy.image_map, copy.workdir, row) for row in rows}
    rounds = []
    for number in range(1, repeat + 1):
        for row in rows:
            record = cold_pair(copy, builds[row], number, row)
            assert record.by_hand is not None and record.site is not None
            by_hand, site = record.by_hand.seconds, record.site.seconds
            add_round(found, **{f"cold_cli_{row}": by_hand, f"cold_live_{row}": site})
            rounds.append(record.to_json())
            say(
                f"cold {number}/{repeat} on {COLD_ROWS[row]}: by hand {by_hand:.1f}s, site {site:.1f}s "
                f"(ratio {site / by_hand:.2f}; {record.first} first; site {record.site.summary})"
            )
    return {"cold_rounds": rounds, "cli_builds": {row: [shown(build) for build in builds[row]] for row in rows}}


def shown(build: CliBuild) -> str:
    """A build by hand as the results list it: the command, its folder (a temporary one) left out."""
    return " ".join(build.command[:-1]) + " <folder>"
