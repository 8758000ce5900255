"""The one place the site reads the time of day.

Everything that needs "now" (a record's `measured_at`, the CREATED column's "N days
ago") asks `now()` here, or takes a `now` its caller passes; tests pass a fixed time,
so no test depends on the day it runs (`faketime '+1 year' make check` shows it).
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)
