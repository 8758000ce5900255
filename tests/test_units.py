"""Sizes, durations and tables formatted exactly as the docker CLI formats them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from macros.units import human_duration, human_size, short_id, tabwriter, unix_nanos


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (7_380_000, "7.38MB"),
        (7_400_000, "7.4MB"),
        (8_702_461, "8.7MB"),
        (221_700_000, "222MB"),
        (269_123_456, "269MB"),
        (999_500, "1e+03kB"),  # Go's %.3g, which docker uses, switches to an exponent here too
        (1_500_000_000, "1.5GB"),
    ],
)
def test_human_size_matches_go_units(size: int, shown: str) -> None:
    """HumanSizeWithPrecision(size, 3): decimal units, three significant digits."""
    assert human_size(size) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (42, "42 seconds"),
        (60, "About a minute"),
        (600, "10 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (21 * 86400, "3 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration_matches_go_units(seconds: float, shown: str) -> None:
    """HumanDuration, as in the CREATED column."""
    assert human_duration(timedelta(seconds=seconds)) == shown


def test_tabwriter_pads_like_the_cli() -> None:
    """Minimum width 10, padding 3, last column unpadded."""
    table = tabwriter([["REPOSITORY", "TAG", "SIZE"], ["go-app-multi", "latest", "8.7MB"]])
    assert table.splitlines() == [
        "REPOSITORY     TAG       SIZE",
        "go-app-multi   latest    8.7MB",
    ]


def test_short_id() -> None:
    """IMAGE ID is the 12 hex characters after sha256:."""
    assert short_id("sha256:0123456789abcdef0123") == "0123456789ab"


def test_drift_lines() -> None:
    """One line per change, readable at a glance."""
    from dataclasses import replace

    from macros.record import drift_line
    from tests.fakes import image

    old = replace(image(8_700_000), image_id="sha256:aaaaaaaaaaaa1")
    grown = replace(old, size_bytes=9_100_000)
    assert drift_line("go-app-multi", old, grown) == "go-app-multi  8.7MB -> 9.1MB  (+4.6%)"
    assert drift_line("go-app-multi", None, old) == "go-app-multi  new: 8.7MB"
    assert drift_line("go-app-multi", old, None) == "go-app-multi  removed from the record"
    rebuilt = replace(old, image_id="sha256:bbbbbbbbbbbb2")
    assert drift_line("go-app-multi", old, rebuilt) == (
        "go-app-multi  8.7MB (size unchanged), rebuilt as bbbbbbbbbbbb (was aaaaaaaaaaaa)"
    )


@pytest.mark.parametrize(("text", "size"), [("0B", 0), ("2.05kB", 2050), ("15.3MB", 15_300_000), ("1GB", 10**9)])
def test_parse_size_reads_what_human_size_writes(text: str, size: int) -> None:
    from macros.units import human_size, parse_size

    assert parse_size(text) == size
    assert human_size(parse_size(text)) == text


@pytest.mark.parametrize(
    ("stamp", "nanos"),
    [
        ("2026-11-27T16:32:09.543593183Z", 1_795_797_129_543_593_183),
        ("2026-11-27T17:32:09.5+01:00", 1_795_797_129_500_000_000),
        ("2026-11-27T16:32:09Z", 1_795_797_129_000_000_000),
        ("yesterday", None),
        ("", None),
    ],
)
def test_an_engines_clock_is_read_to_the_nanosecond(stamp: str, nanos: int | None) -> None:
    """/info's SystemTime (RFC 3339, up to nanoseconds, any zone) as the events endpoint's ns."""
    assert unix_nanos(stamp) == nanos
