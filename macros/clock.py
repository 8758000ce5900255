"""The one place the site reads the time of day.

Everything that needs "now" (a record's `measured_at`, a bench run's start) asks `now()`
here. Pages never do: CREATED is shown relative to the measurement's own time, as the CLI
printed it then, so the same record gives the same pages on any day, and no test depends
on the day it runs (`faketime '+1 year' make check` shows it).
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)
