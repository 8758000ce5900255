"""Merge the records of several live builds, one per image store and platform, into examples/measurements.json.

    python scripts/merge_records.py examples/measurements.json containerd=a.json overlay2=b.json \
        containerd@linux/arm64=c.json

Each argument after the target names a store (and a platform after `@`; linux/amd64 if none)
and the record a build on that store and platform wrote; only those figures are taken from
it. Prints the drift lines. The target is a site's record (`<site>/examples/measurements.json`),
merged under the lock site builds take (`Settings.record_lock`), so that a merge and a build
never write it at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from macros.errors import LivedocsError
from macros.measurement import DEFAULT_PLATFORM
from macros.record import merge_records
from macros.settings import RECORD, Settings


def _place(where: str) -> tuple[str, str]:
    """`containerd@linux/arm64` -> (store, platform); no platform: the default one."""
    store, _, platform = where.partition("@")
    return store, platform or DEFAULT_PLATFORM


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in arg for arg in argv[1:]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    target = Path(argv[0]).resolve()
    settings = Settings(root=target.parent.parent)
    if target != settings.record_path:
        print(f"merge_records: {argv[0]}: expected a site's {RECORD}", file=sys.stderr)
        return 2
    measured = [(Path(path), _place(where)) for where, _, path in (arg.partition("=") for arg in argv[1:])]
    try:
        for line in merge_records(target, settings.record_lock, measured):
            print(f"livedocs drift: {line}")
    except LivedocsError as error:
        print(f"merge_records: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
