"""The warm rounds: a replay build, a warm live build right after it, a replay build
without macros; and, on request, a profile of one replay and one warm build."""

from __future__ import annotations

import io
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from scripts.benchmark.config import SHARED_TRIES, BenchError, say
from scripts.benchmark.samples import Samples, add_round
from scripts.benchmark.site import SiteCopy, build_summary
from scripts.harness.children import run_child

T = TypeVar("T")

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
