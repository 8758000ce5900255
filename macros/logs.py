"""The project's loggers, all three set up here.

`log` is `mkdocs.livedocs`: INFO lines (progress, drift) in MkDocs' own log. Under
`mkdocs build --strict` a warning on a `mkdocs.*` logger fails the build, so the
replay notice (a warning a reader of the log must see) and the problems found while
rendering (which `mkdocs serve` must show without stopping) go to loggers of their
own, `livedocs.notice` and `livedocs.problems`, printed in MkDocs' layout.
"""

from __future__ import annotations

import logging
import sys


def _own_logger(name: str, level_label: str) -> logging.Logger:
    """`livedocs.<name>`, printing `LEVEL   -  message` to stderr, not passed on to MkDocs."""
    logger = logging.getLogger(f"livedocs.{name}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{level_label:<8}-  %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return logger


log = logging.getLogger("mkdocs.livedocs")
notice = _own_logger("notice", "WARNING")  # a replay build under --strict must not fail on it
# Printed as found: under `mkdocs serve` a false claim must show, not stop the server;
# under `mkdocs build` the adapter ends the build with the full list.
problems = _own_logger("problems", "ERROR")
