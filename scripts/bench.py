#!/usr/bin/env python3
"""Benchmark the site: what measuring costs over replaying the record, and over building
the same Dockerfiles by hand (`make bench`).

    .venv/bin/python scripts/bench.py [--repeat N] [--quick] [--cold ROWS] [--results-dir DIR] [--profile]

What it times, how, and what it writes: scripts/benchmark/__init__.py. This file is the
entry point only; the measurements are the modules of scripts/benchmark/, the throwaway
engines and mkdocs runs scripts/harness/ (which the tests use too).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the site's macros/, scripts/benchmark/ and scripts/harness/

# What the tests (tests/test_bench.py) and a reader reach through this file.
from scripts.benchmark.cli import _terminated, main  # noqa: E402
from scripts.benchmark.cold import throwaway_engines  # noqa: E402
from scripts.benchmark.report import ratio_lines, table  # noqa: E402
from scripts.benchmark.samples import add_round, new_samples, summarize  # noqa: E402

__all__ = ["_terminated", "add_round", "main", "new_samples", "ratio_lines", "summarize", "table", "throwaway_engines"]

if __name__ == "__main__":
    sys.exit(main())
