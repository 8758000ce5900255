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
    assert all(
        build.startswith("docker buildx build --progress=plain -t ") for build in latest["details"]["cli_builds"]
    )

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
