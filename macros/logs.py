"""Loggers of this project's own, outside `mkdocs.*`.

Under `mkdocs build --strict` a warning on a `mkdocs.*` logger fails the build. The
replay notice (a warning a reader of the log must see) and the problems found while
rendering (which `mkdocs serve` must show without stopping) therefore go to loggers of
their own, printed in MkDocs' layout.
"""

from __future__ import annotations

import logging
import sys


def own_logger(name: str, level_label: str) -> logging.Logger:
    """`livedocs.<name>`, printing `LEVEL   -  message` to stderr, not passed on to MkDocs."""
    logger = logging.getLogger(f"livedocs.{name}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{level_label:<8}-  %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return logger
