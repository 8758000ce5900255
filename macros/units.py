"""Figures formatted exactly as the docker CLI formats them (go-units, tabwriter)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

# The decimal size units go-units and BuildKit print, the n-th worth 1000**n bytes.
_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def size_factor(unit: str) -> int:
    """How many bytes one `unit` is (`kB` -> 1000); `KB`, as people write it, is `kB`.

    KeyError for a unit that is not a decimal size unit.
    """
    unit = "kB" if unit == "KB" else unit
    if unit not in _DECIMAL_UNITS:
        raise KeyError(unit)
    return 1000 ** _DECIMAL_UNITS.index(unit)


def human_size(size_bytes: float, precision: int = 3) -> str:
    """go-units `HumanSizeWithPrecision(size, 3)`: what `docker images` shows as SIZE.

    >>> human_size(7_380_000), human_size(221_700_000), human_size(0)
    ('7.38MB', '222MB', '0B')
    """
    size = float(size_bytes)
    unit = 0
    while size >= 1000.0 and unit < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        unit += 1
    # Python's %g follows C, as Go's does for these magnitudes (trailing zeros dropped).
    return f"{size:.{precision}g}{_DECIMAL_UNITS[unit]}"


def human_duration(delta: timedelta) -> str:
    """go-units `HumanDuration`: what `docker images` shows as CREATED, before " ago"."""
    seconds = int(delta.total_seconds())
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(delta.total_seconds() / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(delta.total_seconds() / 3600) // 24 // 365} years"


def tabwriter(rows: Sequence[Sequence[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter as the docker CLI configures it (minwidth 10, padding 3).

    Every column but the last is padded to its widest cell plus `padding`, and never
    narrower than `minwidth`; the last cell of a row is written as it is.
    """
    if not rows:
        return ""
    columns = max(len(row) for row in rows)
    widths = [0] * columns
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            widths[index] = max(widths[index], len(cell) + padding, minwidth)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "\n".join(lines)


def short_id(image_id: str) -> str:
    """The 12 hex characters `docker images` shows as IMAGE ID."""
    return image_id.removeprefix("sha256:")[:12]


def percent(value: float) -> str:
    """A percentage as the chapter prints it: one decimal, no trailing `.0` games."""
    return f"{value:.1f}%"


def reduction(before: float, after: float) -> float:
    """How much smaller `after` is than `before`, in percent (0 when `before` is 0)."""
    return 100.0 * (before - after) / before if before else 0.0


def iso_utc(when: datetime | float) -> str:
    """A UTC time to the second, as the record writes it: `2026-11-27T12:50:19Z`."""
    if not isinstance(when, datetime):
        when = datetime.fromtimestamp(when, UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def unix_nanos(stamp: str) -> int | None:
    """An RFC 3339 time with up to nanoseconds, in ns since 1970; None if not one.

    How an engine writes its times: /info's SystemTime, an image's Created (UTC, `Z`).
    """
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", stamp.strip())
    if found is None:
        return None
    zone = "+00:00" if found[3] == "Z" else found[3]
    seconds = int(datetime.fromisoformat(found[1] + zone).timestamp())
    return seconds * 10**9 + int((found[2] or "").ljust(9, "0"))


def parse_size(text: str) -> int:
    """`2.05kB` -> 2050: a size as the docker CLI and BuildKit print it (decimal units), in bytes."""
    number = text.rstrip("BkMGTP")
    unit = text[len(number) :]
    if unit not in _DECIMAL_UNITS[:5]:  # B to TB
        raise ValueError(f"not a size: {text!r}")
    return round(float(number) * size_factor(unit))


def human_seconds(seconds: float) -> str:
    """A step's duration as BuildKit prints it: `17.2s`."""
    return f"{seconds:.1f}s"
