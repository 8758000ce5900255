"""What the benchmark measures against: its paths, targets, limits and cold rows."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
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


class BenchError(Exception):
    """The benchmark itself cannot go on (as opposed to a target that is missed)."""


def say(message: str) -> None:
    """Progress, on stderr, so that stdout carries the table only."""
    print(f"bench: {message}", file=sys.stderr, flush=True)
