"""What every build on this machine shares of one engine, whatever its checkout.

Two builds at once (a `mkdocs serve` and a `make site`, or two clones) on one engine take
turns per tag (`lock`), and the second takes what the first measured (`get`) rather than
build and replace its image. Kept in the system's temp folder, keyed by the engine's ID
(`Settings.engine_dir`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .files import locked, write_atomically
from .measurement import Measurement

# Raised whenever what a measurement holds, or how a figure is read, changes: a measurement an
# older build left is then not taken (2: CONTENT SIZE adds every manifest's content).
FIGURES = 2


class Shelf:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def lock(self, tag: str) -> Iterator[None]:
        """One build of `tag` at a time on this engine, machine-wide."""
        with locked(self.folder / "builds" / f"{tag.replace('/', '_')}.lock"):
            yield

    def put(self, entry: Measurement) -> None:
        """Leave this measurement where another build on this engine finds it."""
        path = self.folder / f"measured-{FIGURES}" / f"{entry.key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(entry.to_json(), sort_keys=True))

    def get(self, key: str) -> Measurement | None:
        """The measurement a build on this engine left under `key`, if any."""
        try:
            found = Measurement.from_json(json.loads((self.folder / f"measured-{FIGURES}" / f"{key}.json").read_text()))
        except (OSError, ValueError):
            return None
        return found if found.key == key else None
