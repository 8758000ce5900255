"""scripts/bench.py --quick: real replay, warm and cold builds of a copy of the site, results as JSON.

Speed is judged by the benchmark's own table, not here: this checks that the benchmark
runs, writes what it says it writes, shows the previous run's figures, and leaves the
repository's record alone (it builds a copy of the site elsewhere: comparing the record's
bytes would race with anyone building the site in this tree at the same time); that its
cold rows run on fresh engines of its own, which hold nothing but the stand-ins when timed
and are gone afterwards; and that a SIGTERM leaves no such engine behind.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from macros.examples import load_examples
from scripts.benchmark import cli, cold
from scripts.benchmark.config import (
    BUILD_TIMEOUT,
    COLD_ROWS,
    COLD_TARGET,
    DEFAULT_COLD_ROWS,
    DEFAULT_IMAGE_MAP,
    PLATFORMS_BUILD_TIMEOUT,
    BenchError,
)
from scripts.benchmark.samples import new_samples
from scripts.benchmark.site import child_env
from scripts.harness.children import ChildRun
from scripts.probes import processes_naming

from .conftest import REPO, TinySite

BENCH = REPO / "scripts" / "bench.py"
QUICK = {
    "replay_build",
    "warm_live_build",
    "replay_build_no_macros",
    "peak_rss_replay",
    "peak_rss_replay_no_macros",
    "cold_cli_one_store",
    "cold_live_one_store",
}
PREVIOUS = {
    "schema": 1,
    "started_at": "2000-01-01T00:00:00Z",
    "measurements": {
        "replay_build": {"label": "replay build (baseline)", "unit": "s", "median": 4.321, "samples": [4.321]},
    },
}


@pytest.mark.engine
def test_quick_bench_writes_positive_figures_and_leaves_the_record_alone(tmp_path: Path) -> None:
    """The whole quick bench, on a small site (one example, three images: one built, one built
    again after an edit, one failing as declared) so that its two cold builds take seconds; the
    paths it takes are the real site's."""
    (tmp_path / "latest.json").write_text(json.dumps(PREVIOUS))
    small = TinySite(tmp_path / "small-site")
    example = small.example("hello")
    with (example / "livedocs.yml").open("a") as manifest:
        manifest.write("  fixture-hello-edited:\n    after: fixture-hello\n    edit: [message.txt]\n")
    edits = small.root / "examples" / "_edits" / "hello"
    edits.mkdir(parents=True)
    (edits / "message.txt").write_text("hello again, after an edit\n")
    small.write(
        "# Small\n\nThe fixture weighs {{ size('fixture-hello') }}. {{ claim('size(fixture-hello) < 30MB') }}\n"
    )

    done = subprocess.run(
        [sys.executable, str(BENCH), "--repeat", "1", "--quick", "--site", str(small.root), "--results-dir", tmp_path],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    latest = json.loads((tmp_path / "latest.json").read_text())
    [results] = tmp_path.glob("results-*.json")
    assert json.loads(results.read_text()) == latest
    assert {"schema", "started_at", "finished_at", "repeat", "quick", "environment", "measurements"} <= set(latest)
    assert latest["quick"] is True and latest["repeat"] == 1
    copy = Path(latest["details"]["site_copy"])
    assert not copy.is_relative_to(REPO), "the benchmark builds a copy, never the repository's site"
    assert not copy.exists(), "and removes the copy afterwards"

    measurements = latest["measurements"]
    assert set(measurements) == QUICK, "--quick skips serve and the cold pair on both stores"
    for key, item in measurements.items():
        assert item["unit"] in ("s", "MB"), key
        assert item["median"] > 0, key
        assert len(item["samples"]) == 1 and item["samples"][0] > 0, key
    warm = measurements["warm_live_build"]
    assert warm["baseline"] == "replay_build" and warm["ratio"] > 0
    assert warm["target"] == 1.15 and isinstance(warm["passed"], bool)
    # One round: its ratio is the warm build over the replay build timed just before it.
    [ratio] = warm["ratios"]
    assert ratio == warm["ratio"]
    assert abs(ratio - warm["samples"][0] / measurements["replay_build"]["samples"][0]) < 0.01
    assert f"rounds {ratio:.2f}; median {ratio:.2f}" in done.stdout

    # Cold: the site's build against `docker buildx build` by hand, each on a fresh engine.
    cold = measurements["cold_live_one_store"]
    assert cold["baseline"] == "cold_cli_one_store" and cold["target"] == 1.0 and isinstance(cold["passed"], bool)
    [ratio] = cold["ratios"]
    assert abs(ratio - cold["samples"][0] / measurements["cold_cli_one_store"]["samples"][0]) < 0.01
    [pair] = latest["details"]["cold_rounds"]
    assert pair["row"] == "one_store" and pair["left"] == []
    fresh = [*pair["fresh_engines"]["by_hand"], *pair["fresh_engines"]["site"]]
    assert [engine["store"] for engine in fresh] == ["overlay2", "overlay2"]
    for engine in fresh:
        assert engine["images"] == ["standin/alpine:3.19", "standin/golang:1.21-alpine3.19"], engine
        assert engine["build_cache_records"] == 0, engine
        assert_gone(engine["folder"], engine["bridge"].split()[0])
    assert latest["details"]["site_source"] == str(small.root)
    images = len(load_examples(small.root))
    assert images == 3
    assert pair["site"]["summary"].startswith(f"livedocs: built {images}, cached 0"), pair["site"]["summary"]
    assert len(pair["by_hand"]["seconds_by_build"]) == images
    [listed] = latest["details"]["cli_builds"].values()  # the one_store row's
    assert len(listed) == images
    assert all(build.startswith("docker buildx build --progress=plain -t ") for build in listed)

    # The table names every measurement and shows the previous run beside the new one.
    for item in measurements.values():
        assert item["label"] in done.stdout
    assert "previous (2000-01-01T00:00:00Z)" in done.stdout
    assert "4.321 s" in done.stdout


def assert_gone(folder: str, bridge: str) -> None:
    """No trace of a throwaway engine: its folder, its bridge, a process naming its folder."""
    assert not Path(folder).exists(), folder
    shown = subprocess.run(["ip", "link", "show", bridge], capture_output=True, check=False)
    assert shown.returncode != 0, f"bridge {bridge} is still there"
    assert processes_naming(folder) == [], f"these processes still run from {folder}"


ENGINES_THEN_WAIT = f"""
import signal, sys, time
sys.path.insert(0, {str(BENCH.parent)!r})
import bench
signal.signal(signal.SIGTERM, bench._terminated)
try:
    with bench.throwaway_engines(["overlay2", "containerd"]) as engines:
        for engine in engines:
            print("engine", engine.home, engine.name, engine.host, flush=True)
        print("up", flush=True)
        time.sleep(600)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.engine
def test_a_sigterm_leaves_no_throwaway_engine_behind() -> None:
    """The cold rounds' engines are stopped and removed when the bench is told to stop:
    their folders, bridges and processes are gone, and they answered while they ran."""
    command = [sys.executable, "-c", ENGINES_THEN_WAIT]
    engines = []
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            for line in process.stdout:
                if line.startswith("engine "):
                    engines.append(line.split()[1:])
                if line.strip() == "up":
                    break
            assert len(engines) == 2, process.stderr.read()
            for _, _, host in engines:
                info = ["docker", "-H", host, "info", "--format", "{{.Driver}}"]
                answered = subprocess.run(info, capture_output=True, text=True, check=False)
                assert answered.returncode == 0, answered.stderr
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=180) == 130, process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
    for folder, bridge, _ in engines:
        assert_gone(folder, bridge)


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_verdict_is_the_median_of_the_rounds_ratios_not_a_ratio_of_medians() -> None:
    """Other work on the machine slowed the warm build in round 2 and the replay build in
    round 3: the median of one column over the median of the other would say 1.23, FAIL."""
    bench = load_bench()
    found = bench.new_samples()
    for replay, warm in ((1.0, 0.94), (1.0, 1.99), (1.78, 1.2282)):
        bench.add_round(found, replay_build=replay, warm_live_build=warm)

    summary = bench.summarize(found)

    item = summary["warm_live_build"]
    assert item["ratios"] == [0.94, 1.99, 0.69]
    assert item["ratio"] == 0.94 and item["passed"] is True
    of_medians = item["median"] / summary["replay_build"]["median"]
    assert round(of_medians, 2) == 1.23, "what dividing one column's median by the other's says"
    [line] = [line for line in bench.ratio_lines({"measurements": summary}) if "rounds" in line]
    assert "rounds 0.94, 1.99, 0.69; median 0.94 (target <= 1.15) PASS" in line


# -- the builds by hand of images with platforms, outcomes per store, a machine (no engine) --

CHAPTER = {
    "livedocs.yml": """\
images:
  app:                           # the machine's own platform
    dockerfile: Dockerfile
  app-arm64:                     # emulated: every FROM from the arm64 stand-ins
    dockerfile: Dockerfile
    platforms: [linux/arm64]
    machine: linux/amd64
    after: app
  app-cross:                     # cross-compiled: the build stage from the machine's stand-ins
    dockerfile: Dockerfile.cross
    platforms: [linux/arm64]
    machine: linux/amd64
    no_cache_filter: [build]
    after: app-arm64
  app-multi:                     # an image index: the containerd store only
    dockerfile: Dockerfile.cross
    platforms: [linux/amd64, linux/arm64]
    machine: linux/amd64
    expect: {overlay2: failure, containerd: success}
    after: app-cross
  app-broken:                    # fails everywhere
    dockerfile: Dockerfile
    expect: failure
""",
    "Dockerfile": (
        "FROM golang:1.21-alpine3.19 AS build\nRUN true\nFROM alpine:3.19\nCOPY --from=build /etc/passwd /p\n"
    ),
    "Dockerfile.cross": (
        "FROM --platform=$BUILDPLATFORM golang:1.21-alpine3.19 AS build\nRUN true\n"
        "FROM alpine:3.19\nCOPY --from=build /etc/passwd /p\n"
    ),
}


def chapter(root: Path) -> Path:
    folder = root / "examples" / "chapter"
    folder.mkdir(parents=True)
    for name, text in CHAPTER.items():
        (folder / name).write_text(text)
    return root


def froms(build: cold.CliBuild) -> list[str]:
    """The FROM lines of the Dockerfile a build by hand sends."""
    dockerfile = Path(build.command[build.command.index("-f") + 1])
    return [line for line in dockerfile.read_text().splitlines() if line.startswith("FROM")]


def option(build: cold.CliBuild, name: str) -> str | None:
    return build.command[build.command.index(name) + 1] if name in build.command else None


def test_builds_by_hand_take_each_images_platforms_maps_outcome_per_store_and_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the reader types for each image: `--platform` from `platforms:`, FROM lines from
    the stand-ins the site maps them to (the arm64 map for an image built for arm64, the
    machine's for its `FROM --platform=$BUILDPLATFORM` stage), the outcome its store
    declares, and no build where its `machine:` is not the engine's platform."""
    monkeypatch.setattr(cold, "machine_platform", lambda: "linux/amd64")
    specs = load_examples(chapter(tmp_path / "site"))

    builds = cold.cli_builds(specs, str(DEFAULT_IMAGE_MAP), tmp_path / "work")

    assert [build.tag for build in builds] == ["app", "app-arm64", "app-broken", "app-cross", "app-multi"]
    app, arm64, broken, cross, multi = builds
    assert option(app, "--platform") is None and app.platforms == ()
    assert froms(app) == ["FROM standin/golang:1.21-alpine3.19 AS build", "FROM standin/alpine:3.19"]
    assert option(arm64, "--platform") == "linux/arm64"
    assert froms(arm64) == ["FROM standin/golang:1.21-alpine3.19-arm64 AS build", "FROM standin/alpine:3.19-arm64"]
    assert option(cross, "--platform") == "linux/arm64" and option(cross, "--no-cache-filter") == "build"
    assert froms(cross) == [
        "FROM --platform=$BUILDPLATFORM standin/golang:1.21-alpine3.19 AS build",
        "FROM standin/alpine:3.19-arm64",
    ]
    # Two platforms: one map for both (on the containerd store the stand-ins hold both).
    assert option(multi, "--platform") == "linux/amd64,linux/arm64"
    assert froms(multi) == [
        "FROM --platform=$BUILDPLATFORM standin/golang:1.21-alpine3.19 AS build",
        "FROM standin/alpine:3.19",
    ]
    for build in builds:
        assert build.command[:5] == ["docker", "buildx", "build", "--progress=plain", "-t"]
        assert option(build, "-t") == build.tag and Path(build.command[-1]).is_dir()

    assert multi.expect_failure("overlay2") and not multi.expect_failure("containerd")
    assert broken.expect_failure("overlay2") and broken.expect_failure("containerd")
    assert not any(b.expect_failure(store) for b in (app, arm64, cross) for store in ("overlay2", "containerd"))
    assert all(build.runs_on("linux/amd64") for build in builds)
    assert [build.tag for build in builds if build.runs_on("linux/arm64")] == ["app", "app-broken"]
    # The arm64 stand-ins go into the throwaway engines only where a build needs them.
    assert cold.standin_platforms(builds) == "native,linux/arm64"
    assert cold.standin_platforms([app, broken]) == "native"


def test_the_both_platforms_row_builds_each_image_again_as_the_sites_arm64_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """both_platforms by hand: each image, then (right after it, so in `after:` order) the same
    Dockerfile for arm64 under the site's tag for it, FROM lines from the arm64 map, but not
    an image measured on amd64 machines only; the other rows build no image twice."""
    monkeypatch.setattr(cold, "machine_platform", lambda: "linux/amd64")
    specs = load_examples(chapter(tmp_path / "site"))

    one_store = cold.row_builds(specs, str(DEFAULT_IMAGE_MAP), tmp_path / "work", "one_store")
    both = cold.row_builds(specs, str(DEFAULT_IMAGE_MAP), tmp_path / "work", "both_platforms")

    assert [build.tag for build in one_store] == ["app", "app-arm64", "app-broken", "app-cross", "app-multi"]
    assert [(build.tag, build.view) for build in both] == [
        ("app", None),
        ("app:latest-linux-arm64", "linux/arm64"),
        ("app-arm64", None),
        ("app-broken", None),
        ("app-broken:latest-linux-arm64", "linux/arm64"),
        ("app-cross", None),
        ("app-multi", None),
    ]
    again = both[1]
    assert option(again, "--platform") == "linux/arm64" and option(again, "-t") == "app:latest-linux-arm64"
    assert froms(again) == ["FROM standin/golang:1.21-alpine3.19-arm64 AS build", "FROM standin/alpine:3.19-arm64"]
    assert Path(again.command[-1]) != Path(both[0].command[-1]), "a folder of its own: another Dockerfile"
    assert froms(both[0]) == froms(one_store[0])
    assert both[4].expect_failure("containerd") and not again.expect_failure("containerd")
    assert all(build.runs_on("linux/amd64") for build in both)
    assert cold.standin_platforms(both) == "native,linux/arm64"


class FakeEngine:
    def __init__(self, store: str) -> None:
        self.store = store
        self.host = f"unix:///fake/{store}.sock"


def test_builds_by_hand_are_judged_by_the_engines_store_and_skipped_off_their_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multi-platform build that fails on overlay2 and succeeds on containerd is as declared;
    the other way round is a BenchError naming it; an amd64-only image is not built on an
    arm64 engine (and that is said), the others are."""
    specs = load_examples(chapter(tmp_path / "site"))
    builds = cold.cli_builds(specs, str(DEFAULT_IMAGE_MAP), tmp_path / "work")
    platforms = {"overlay2": "linux/amd64", "containerd": "linux/amd64"}
    monkeypatch.setattr(cold, "engine_platform", lambda engine: platforms[engine.store])
    ran: list[tuple[str, str]] = []

    def run_child(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 0) -> ChildRun:
        store = "overlay2" if env["DOCKER_HOST"].endswith("overlay2.sock") else "containerd"
        tag = command[command.index("-t") + 1]
        ran.append((tag, store))
        multi_fails = "--platform" in command and "," in command[command.index("--platform") + 1]
        failed = tag == "app-broken" or (multi_fails and store == outcome["multi fails on"])
        return ChildRun(1.0, 1.0, 1 if failed else 0, "#5 CACHED\n" if tag == "app-cross" else "")

    monkeypatch.setattr(cold, "run_child", run_child)
    outcome = {"multi fails on": "overlay2"}
    engines = [FakeEngine("overlay2"), FakeEngine("containerd")]

    done = cold.build_by_hand(builds, engines)

    assert len(ran) == 10 and done.seconds == 10.0 and done.cached_steps == 2
    assert set(done.seconds_by_build) == {f"{b.tag} on {e.store}" for e in engines for b in builds}
    assert done.skipped == []

    outcome["multi fails on"] = "containerd"
    with pytest.raises(BenchError) as raised:
        cold.build_by_hand(builds, engines)
    assert "app-multi on overlay2: exit 0" in str(raised.value)
    assert "app-multi on containerd: exit 1" in str(raised.value)

    outcome["multi fails on"] = "overlay2"
    platforms["containerd"] = "linux/arm64"
    ran.clear()
    done = cold.build_by_hand(builds, engines)
    assert [tag for tag, store in ran if store == "containerd"] == ["app", "app-broken"]
    assert [line.split(" (")[0] for line in done.skipped] == [
        "app-arm64 on containerd",
        "app-cross on containerd",
        "app-multi on containerd",
    ]


def test_a_cold_site_build_for_two_platforms_must_build_on_both() -> None:
    """The site's side of both_platforms: a summary line per platform measured, none cached."""

    class Copy:
        def __init__(self, output: str) -> None:
            self.output = output
            self.asked: dict[str, object] = {}

        def restore(self, relative: str) -> None:
            pass

        def build(self, mode: str, **options: object) -> ChildRun:
            self.asked = {"mode": mode, **options}
            return ChildRun(12.0, 1.0, 0, self.output)

    both = "livedocs: built 26, cached 0 on containerd\nlivedocs: built 29, cached 0 on containerd\n"
    copy = Copy(both)
    built = cold.build_site_cold(copy, [FakeEngine("containerd")], ("linux/amd64", "linux/arm64"))
    assert built.seconds == 12.0
    assert copy.asked["mode"] == "auto" and copy.asked["platforms"] == ("linux/amd64", "linux/arm64")
    assert copy.asked["timeout"] == PLATFORMS_BUILD_TIMEOUT > BUILD_TIMEOUT, "arm64's Go builds are emulated"
    for output in (both.splitlines()[0], both.replace("cached 0", "cached 3")):
        with pytest.raises(BenchError, match="each engine and platform"):
            cold.build_site_cold(Copy(output), [FakeEngine("containerd")], ("linux/amd64", "linux/arm64"))


def test_the_cold_rows_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """both_platforms: one containerd engine per side, both platforms, target 1.0, timed only
    when asked for; LIVEDOCS_PLATFORMS reaches a site build only from the row."""
    row = COLD_ROWS["both_platforms"]
    assert row.stores == ("containerd",) and row.platforms == ("linux/amd64", "linux/arm64")
    assert COLD_ROWS["one_store"].platforms == COLD_ROWS["both_stores"].platforms == ()
    assert DEFAULT_COLD_ROWS == ("one_store", "both_stores")
    samples = new_samples()
    judged = samples["cold_live_both_platforms"]
    assert judged.baseline == "cold_cli_both_platforms" and judged.target == COLD_TARGET == 1.0
    assert cli.parse_args(["--cold", "both_platforms"]).cold == ["both_platforms"]
    assert cli.parse_args([]).cold is None
    with pytest.raises(SystemExit):
        cli.parse_args(["--cold", "both_platform"])

    monkeypatch.setenv("LIVEDOCS_PLATFORMS", "linux/arm64")
    assert "LIVEDOCS_PLATFORMS" not in child_env("auto", "")
    assert child_env("auto", "", platforms=row.platforms)["LIVEDOCS_PLATFORMS"] == "linux/amd64,linux/arm64"
