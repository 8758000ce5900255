"""The rounds' values of each measurement, and what they come to: medians, the rounds'
ratios to a baseline, their median, and the verdict against a target."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from scripts.benchmark.config import COLD_TARGET, WARM_TARGET


@dataclass
class Samples:
    """One measurement, a value a round: a ratio pairs the values of the same round."""

    key: str
    label: str
    unit: str = "s"
    values: list[float] = field(default_factory=list)
    baseline: str | None = None
    target: float | None = None  # the most the ratio (without a baseline: any one value) may be


@dataclass(frozen=True)
class Measurement:
    """What one measurement's rounds come to (the results' `measurements` entries)."""

    label: str
    unit: str
    median: float
    samples: list[float]
    baseline: str | None = None  # with `ratios` and `ratio`, where the baseline has values
    ratios: list[float] | None = None
    ratio: float | None = None
    target: float | None = None  # with `passed`, where the measurement has a target
    passed: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object: the keys that apply, no nulls."""
        return {key: value for key, value in self.__dict__.items() if value is not None}


def new_samples() -> dict[str, Samples]:
    entries = [
        Samples("replay_build", "replay build (baseline)"),
        Samples("warm_live_build", "warm live build", baseline="replay_build", target=WARM_TARGET),
        Samples("cold_cli_one_store", "cold: docker buildx build by hand, overlay2"),
        Samples("cold_live_one_store", "cold live build, overlay2", baseline="cold_cli_one_store", target=COLD_TARGET),
        Samples("cold_cli_both_stores", "cold: docker buildx build by hand, both stores in turn"),
        Samples(
            "cold_live_both_stores", "cold live build, both stores", baseline="cold_cli_both_stores", target=COLD_TARGET
        ),
        Samples("cold_cli_both_platforms", "cold: docker buildx build by hand, containerd, amd64 then arm64"),
        Samples(
            "cold_live_both_platforms",
            "cold live build, containerd, both platforms",
            baseline="cold_cli_both_platforms",
            target=COLD_TARGET,
        ),
        Samples("serve_prose_edit", "serve: prose edit -> page"),
        Samples("serve_prose_container_events", "serve: container events per prose edit", "events", target=0),
        Samples("serve_example_edit_log", "serve: example edit -> rebuild logged"),
        Samples("serve_example_edit_page", "serve: example edit -> page"),
        Samples("replay_build_no_macros", "replay build without macros"),
        Samples("peak_rss_replay", "peak RSS, replay build", "MB"),
        Samples("peak_rss_replay_no_macros", "peak RSS, replay without macros", "MB", baseline="peak_rss_replay"),
    ]
    return {entry.key: entry for entry in entries}


def add_round(found: dict[str, Samples], **values: float) -> None:
    """One round's values, appended together, so that the rounds stay paired."""
    for key, value in values.items():
        found[key].values.append(value)


def measurement(entry: Samples, base: list[float]) -> Measurement:
    """What `entry`'s values come to, `base` being its baseline's values (if any)."""
    ratios = [value / before for value, before in zip(entry.values, base, strict=True)] if base else None
    ratio = round(statistics.median(ratios), 4) if ratios else None
    passed = None
    if entry.target is not None:
        # A ratio is judged by the median of the rounds' ratios; a count (container events) by its worst run.
        value = ratio if entry.baseline else max(entry.values)
        passed = value is not None and value <= entry.target
    return Measurement(
        label=entry.label,
        unit=entry.unit,
        median=round(statistics.median(entry.values), 4),
        samples=[round(value, 4) for value in entry.values],
        baseline=entry.baseline if ratios else None,
        ratios=[round(r, 4) for r in ratios] if ratios else None,
        ratio=ratio,
        target=entry.target,
        passed=passed,
    )


def summarize(found: dict[str, Samples]) -> dict[str, dict[str, Any]]:
    """Each measurement that ran: median, samples, the rounds' ratios to its baseline and
    their median, target, verdict."""
    return {
        key: measurement(entry, found[entry.baseline].values if entry.baseline else []).to_json()
        for key, entry in found.items()
        if entry.values
    }
