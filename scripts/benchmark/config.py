"""What the benchmark measures against: its paths, targets, limits and cold rows."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_RESULTS = REPO / "bench"
DEFAULT_IMAGE_MAP = REPO / "tests" / "standins" / "image-map.yml"
# 4: `cli_builds` per cold row, the cold row both_platforms (3: the cold rows on fresh engines of
# the bench's own, against `docker buildx build` by hand; 2: a ratio is the median of the rounds'
# ratios; 1: the ratio of the medians)
SCHEMA = 4
PROSE_PAGE = "docs/multi-stage.md"
PROSE_URL = "multi-stage/"  # below the path the server says it serves on (site_url's path)
EXAMPLE_FILE = "examples/go-app/main.go"
EXAMPLE_TEXT = 'fmt.Fprintf(w, "'  # the handler's reply; the marker goes right after it
WARM_TARGET = 1.15
COLD_TARGET = 1.0
BUILD_TIMEOUT = 3600.0
PLATFORMS_BUILD_TIMEOUT = 4 * 3600.0  # a cold site build for arm64 too: every Go build emulated
SERVE_TIMEOUT = 900.0
NO_MACROS_CONFIG = "mkdocs-nomacros.yml"
SHARED_TRIES = 3  # tries of a build (or round) on the listed engines, which others build on too


@dataclass(frozen=True)
class ColdRow:
    """A cold row: the image stores it compares on (a fresh engine per store and side), and
    the platforms measured on each (LIVEDOCS_PLATFORMS for the site; empty: the engine's own)."""

    stores: tuple[str, ...]
    platforms: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " + ".join(self.stores) + (f" ({', '.join(self.platforms)})" if self.platforms else "")


COLD_ROWS = {
    "one_store": ColdRow(("overlay2",)),
    "both_stores": ColdRow(("overlay2", "containerd")),
    "both_platforms": ColdRow(("containerd",), ("linux/amd64", "linux/arm64")),
}
# What `make bench` times when not told (--cold): not both_platforms, whose every Go build for
# arm64 runs emulated (about 150 s each on 2 cores: by estimate, a round takes over an hour).
DEFAULT_COLD_ROWS = ("one_store", "both_stores")


class BenchError(Exception):
    """The benchmark itself cannot go on (as opposed to a target that is missed)."""


def say(message: str) -> None:
    """Progress, on stderr, so that stdout carries the table only."""
    print(f"bench: {message}", file=sys.stderr, flush=True)
