"""What a run says: the table with the previous run beside it, the ratio lines, the notes,
and the JSON files it leaves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from macros.files import write_atomically
from scripts.benchmark.config import DEFAULT_COLD_ROWS, REPO, say


def figure(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:g} {unit}"


def table(results: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """The measurements as a plain-text table, the previous run's figures beside them."""
    old = (previous or {}).get("measurements", {})
    header = ["measurement", "median", "ratio", "target", "result"]
    if previous:
        header += [f"previous ({previous.get('started_at', '?')})", "prev ratio", "prev result"]
    rows = [header]
    for key, item in results["measurements"].items():
        row = [item["label"], figure(item["median"], item["unit"]), *_judged(item)]
        if previous:
            before = old.get(key)
            if isinstance(before, dict) and "median" in before:
                ratio, _, verdict = _judged(before)
                row += [figure(before["median"], before.get("unit", "s")), ratio.split(" x ")[0], verdict]
            else:
                row += ["-", "", ""]
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _judged(item: dict[str, Any]) -> tuple[str, str, str]:
    """(ratio, target, verdict) cells of one measurement."""
    ratio = f"{item['ratio']:.2f} x {item['baseline']}" if item.get("ratio") is not None else ""
    if "target" not in item:
        return ratio, "", ""
    target = f"<= {item['target']:.2f}" if item.get("baseline") else f"<= {item['target']:g} (every run)"
    return ratio, target, "PASS" if item.get("passed") else "FAIL"


def ratio_lines(results: dict[str, Any]) -> list[str]:
    """One line per ratio that has a target (each round's ratio, their median, the verdict),
    and the memory the macros module costs."""
    measurements = results["measurements"]
    lines = []
    for item in measurements.values():
        if "target" in item and item.get("baseline"):
            rounds = ", ".join(f"{ratio:.2f}" for ratio in item["ratios"])
            lines.append(
                f"{item['label']} / {measurements[item['baseline']]['label']}: rounds {rounds}; "
                f"median {item['ratio']:.2f} (target <= {item['target']:.2f}) {'PASS' if item['passed'] else 'FAIL'}"
            )
    if "peak_rss_replay" in measurements and "peak_rss_replay_no_macros" in measurements:
        extra = measurements["peak_rss_replay"]["median"] - measurements["peak_rss_replay_no_macros"]["median"]
        lines.append(f"the macros module adds {extra:.1f} MB of peak memory to a replay build")
    return lines


def notes(results: dict[str, Any]) -> list[str]:
    """What else the reader of the table should know: edits the page never showed, warm
    builds that built, retried builds, cold rows not timed."""
    details = results["details"]
    lines = []
    misses = details.get("serve", {}).get("example_edits_not_shown") or []
    if misses:
        lines.append(f"note: {len(misses)} example edit(s) under serve never showed the new reply; the serve log said:")
        lines += [f"  {line}" for line in dict.fromkeys(line for errors in misses for line in errors[:3])]
    if not_warm := details.get("warm_builds_that_built"):
        lines.append(f"note: {len(not_warm)} warm build(s) built something: {not_warm}")
    if retried := details.get("retried"):
        lines.append(f"note: {len(retried)} build(s) on the listed engines failed and were done again: {retried}")
    if "cold_skipped" in details:
        lines.append(f"note: no cold rows: {details['cold_skipped']}")
    elif set(results.get("cold_rows", DEFAULT_COLD_ROWS)) != set(DEFAULT_COLD_ROWS):
        lines.append(f"note: cold pairs timed in this run: {', '.join(results['cold_rows']) or 'none'}")
    return lines


def macros_digest() -> str:
    """A hash of macros/*.py, so that runs of different code can be told apart."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "macros").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def save(results: dict[str, Any], results_dir: Path, stamp: str) -> Path:
    """results-<stamp>.json and latest.json, each replaced whole: a reader never sees half of one."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    path = results_dir / f"results-{stamp}.json"
    write_atomically(path, text)
    write_atomically(results_dir / "latest.json", text)
    return path


def load_previous(results_dir: Path) -> dict[str, Any] | None:
    path = results_dir / "latest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        say(f"ignoring {path}: {error}")
        return None
    return data if isinstance(data, dict) and isinstance(data.get("measurements"), dict) else None
