"""scripts/bench.py --quick: a real replay and warm build of a copy of the site, results as JSON.

Speed is judged by the benchmark's own table, not here: this checks that the benchmark
runs, writes what it says it writes, shows the previous run's figures, and leaves the
repository's record alone (it builds a copy of the site elsewhere: comparing the record's
bytes would race with anyone building the site in this tree at the same time).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from .conftest import REPO

BENCH = REPO / "scripts" / "bench.py"
QUICK = {"replay_build", "warm_live_build", "replay_build_no_macros", "peak_rss_replay", "peak_rss_replay_no_macros"}
PREVIOUS = {
    "schema": 1,
    "started_at": "2000-01-01T00:00:00Z",
    "measurements": {
        "replay_build": {"label": "replay build (baseline)", "unit": "s", "median": 4.321, "samples": [4.321]},
    },
}


def test_quick_bench_writes_positive_figures_and_leaves_the_record_alone(tmp_path: Path) -> None:
    (tmp_path / "latest.json").write_text(json.dumps(PREVIOUS))

    done = subprocess.run(
        [sys.executable, str(BENCH), "--repeat", "1", "--quick", "--results-dir", str(tmp_path)],
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
    assert set(measurements) == QUICK, "--quick skips the cold build and the serve measurements"
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

    # The table names every measurement and shows the previous run beside the new one.
    for item in measurements.values():
        assert item["label"] in done.stdout
    assert "previous (2000-01-01T00:00:00Z)" in done.stdout
    assert "4.321 s" in done.stdout


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
