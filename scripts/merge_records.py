"""Merge the records of several live builds, one per image store, into examples/measurements.json.

    python scripts/merge_records.py examples/measurements.json containerd=a.json overlay2=b.json

Each argument after the target names a store and the record a build on that store wrote;
only that store's figures are taken from it. Prints the drift lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from macros.errors import LivedocsError
from macros.record import merge_records


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in arg for arg in argv[1:]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    target = Path(argv[0])
    measured = [(Path(path), store) for store, _, path in (arg.partition("=") for arg in argv[1:])]
    try:
        for line in merge_records(target, target.parent / ".merge.lock", measured):
            print(f"livedocs drift: {line}")
    except LivedocsError as error:
        print(f"merge_records: {error}", file=sys.stderr)
        return 1
    (target.parent / ".merge.lock").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
