"""The command line: the flags, one run of every measurement, the table and the files."""

from __future__ import annotations

import argparse
import os
import platform
import signal
import tempfile
from pathlib import Path
from typing import Any

from macros import clock
from macros.errors import LivedocsError
from macros.units import iso_utc
from scripts import benchmark
from scripts.benchmark.builds import measure_builds, on_shared_engines, profile_builds
from scripts.benchmark.cold import measure_cold
from scripts.benchmark.config import (
    COLD_ROWS,
    DEFAULT_COLD_ROWS,
    DEFAULT_IMAGE_MAP,
    DEFAULT_RESULTS,
    EXAMPLE_FILE,
    PROSE_PAGE,
    REPO,
    SCHEMA,
    BenchError,
    say,
)
from scripts.benchmark.report import load_previous, macros_digest, notes, ratio_lines, save, table
from scripts.benchmark.samples import new_samples, summarize
from scripts.benchmark.serve import measure_serve
from scripts.benchmark.site import SiteCopy, build_summary, listed_engines, listed_facts
from scripts.harness import HarnessError
from scripts.harness.engines import unavailable


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(benchmark.__doc__ or "").split("\n\n")[0] or None)
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
        help=(
            f"the cold pairs to time, comma-separated, of {', '.join(COLD_ROWS)} (or none); "
            f"default {', '.join(DEFAULT_COLD_ROWS)} (--quick: one_store)"
        ),
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


def measure(
    args: argparse.Namespace, engines: tuple[str | None, ...], cold_rows: list[str], stamp: str
) -> dict[str, Any]:
    """Every measurement on a copy of the site; the details, `found` holding the samples."""
    found = new_samples()
    retries: list[str] = []
    details: dict[str, Any] = {"retried": retries}
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
    return {"measurements": summarize(found), "details": details}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the results document."""
    started_at = iso_utc(clock.now())
    stamp = started_at.replace("-", "").replace(":", "")
    engines = listed_engines()
    engine_facts = [listed_facts(host) for host in engines]
    cold_rows = args.cold if args.cold is not None else ["one_store"] if args.quick else list(DEFAULT_COLD_ROWS)
    skipped = unavailable() if cold_rows else None
    if skipped:
        say(f"skipping the cold rows: {skipped}")
        cold_rows = []
    measured = measure(args, engines, cold_rows, stamp)
    if skipped:
        measured["details"]["cold_skipped"] = skipped
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
        **measured,
    }


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM ends the run as Ctrl-C does: servers and throwaway engines stopped, copy deleted."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    previous = load_previous(args.results_dir)
    try:
        results = run(args)
    except (BenchError, HarnessError, LivedocsError) as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    path = save(results, args.results_dir, results["stamp"])
    print(table(results, previous))
    print()
    for line in [*ratio_lines(results), *notes(results)]:
        print(line)
    for mode, top in results["details"].get("profile", {}).items():
        print(f"\n-- profile, {mode} build (one thread) --\n{top}")
    print(f"\nresults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0
