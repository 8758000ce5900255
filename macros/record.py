"""examples/measurements.json: the recorded figures, for replay and for drift lines.

    {
      "schema": 3,
      "images": {
        "go-app-multi": {
          "containerd": {
            "linux/amd64": {"size_bytes": 15338686, "content_size_bytes": 6302910, "image_id": "sha256:...", ...},
            "linux/arm64": {...}
          },
          "overlay2": {"linux/amd64": {"size_bytes": 8924856, "image_id": "sha256:...", ...}}
        },
        "typo-stage": {"overlay2": {"linux/amd64": {"expect": "failure", "error": "...", ...}}}
      }
    }

Figures are kept per image, per image store (`containerd`, or a graph driver such as
`overlay2`) and per platform (`linux/amd64`, `linux/arm64`), because the reader's
`docker images` prints different sizes on each: a build on one platform never replaces
another platform's figures. An entry's platform is the one it was built for
(`Measurement.platform`). Older files are read and written as schema 3 on the next
save: a schema-2 entry (by image and store) and a schema-1 entry (one per image, the
store its engine had) are filed under the platform their engine reported.

Written atomically (a temporary file beside it, then a rename), keys sorted, and only
when a figure changed; under a lock of its own (a file that is never replaced, outside
examples/), re-read and merged, so that two builds at once both keep their figures.
A file that does not parse is reported and left as it is: recorded figures are never
silently lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from .errors import RecordError
from .files import locked, write_atomically
from .measurement import Measurement
from .units import human_size, short_id

SCHEMA = 3
Key = tuple[str, str, str]  # (image tag, image store, platform)
Place = tuple[str, str]  # (image store, platform): where a figure was measured


class Record:
    """The recorded measurements, by image tag, image store and platform.

    `put` changes this build's copy; `save` takes the lock, reads the file again and
    merges: what this build measured takes this build's figures, everything else keeps
    what the file holds (another build may have written it meanwhile), and images no
    manifest declares any more are dropped.
    """

    def __init__(self, path: Path, lock_path: Path, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown or str(path)
        self.lock_path = lock_path  # never `path` itself: write_atomically replaces that file
        self.images: dict[Key, Measurement] = {}
        self._loaded: dict[Key, Measurement] = {}
        self._measured: set[Key] = set()  # what this build put
        self.load()

    def load(self) -> None:
        self.images = self._read()
        self._loaded = dict(self.images)
        self._measured = set()

    def _read(self) -> dict[Key, Measurement]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RecordError(
                f"cannot read the recorded figures ({error}); fix or delete the file, it is left as it is",
                path=self.shown,
                line=getattr(error, "lineno", None),
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("images"), dict):
            raise RecordError("not a record of measurements (no 'images' mapping); left as it is", path=self.shown)
        schema = data.get("schema")
        if schema not in (1, 2, SCHEMA):
            raise RecordError(f"schema {schema!r} is not {SCHEMA}; left as it is", path=self.shown)
        images: dict[Key, Measurement] = {}
        for tag, stored in data["images"].items():
            by_store = {"": stored} if schema == 1 else stored
            for store, by_platform in (by_store or {}).items():
                for platform, entry in ({"": by_platform} if schema != SCHEMA else by_platform or {}).items():
                    try:
                        measurement = Measurement.from_json(entry)
                    except (ValueError, AttributeError) as error:
                        raise RecordError(f"{tag}: {error}; left as it is", path=self.shown) from None
                    key = (str(tag), store or _store_of(measurement), platform or measurement.platform)
                    images[key] = measurement
        return images

    def places(self) -> list[Place]:
        """The (image store, platform) pairs the record holds figures of."""
        return sorted({(store, platform) for _, store, platform in self.images})

    def stores(self) -> list[str]:
        """The image stores the record holds figures of."""
        return sorted({store for store, _ in self.places()})

    def get(self, tag: str, store: str, platform: str) -> Measurement | None:
        return self.images.get((tag, store, platform))

    def put(self, tag: str, store: str, entry: Measurement) -> None:
        """Record `entry` as this build's measurement, under the platform it was built for; an
        unchanged one keeps its old measured_at."""
        key = (tag, store, entry.platform)
        self.images[key] = _keep_date(self.images.get(key), entry)
        self._measured.add(key)

    def save(self, declared: Iterable[str] | None = None, merge: bool = True) -> list[str]:
        """Merge this build's measurements into the file, under the lock; the drift lines.

        `declared`: the tags the manifests declare (the others are dropped from the file);
        None keeps every tag. `merge=False` writes this build's copy as it is, the last
        writer winning: only for the test that shows why the merge is there.
        """
        keep = None if declared is None else set(declared)
        with locked(self.lock_path):
            if merge:
                current = self._read()
                merged = {**current, **{k: _keep_date(current.get(k), self.images[k]) for k in self._measured}}
            else:
                current, merged = dict(self._loaded), dict(self.images)
            if keep is not None:
                merged = {key: entry for key, entry in merged.items() if key[0] in keep}
            drift = _drift(current, merged)
            if merged != current or not self._is_current_schema():
                write_atomically(self.path, _document(merged))
        self.images, self._loaded, self._measured = dict(merged), dict(merged), set()
        return drift

    def _is_current_schema(self) -> bool:
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("schema") == SCHEMA
        except (OSError, ValueError):
            return False


def _store_of(measurement: Measurement) -> str:
    """The store a schema-1 entry was measured on: the engine's graph driver."""
    engine = measurement.engine
    return (engine.store or engine.storage_driver) if engine is not None else "overlay2"


def _document(images: Mapping[Key, Measurement]) -> str:
    nested: dict[str, dict[str, dict[str, object]]] = {}
    for (tag, store, platform), entry in images.items():
        nested.setdefault(tag, {}).setdefault(store, {})[platform] = entry.to_json()
    return json.dumps({"schema": SCHEMA, "images": nested}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _keep_date(old: Measurement | None, new: Measurement) -> Measurement:
    """`new`, with `old`'s measured_at when no figure changed (the date moves only with a figure)."""
    if old is not None and replace(old, measured_at="") == replace(new, measured_at=""):
        return replace(new, measured_at=old.measured_at)
    return new


def _drift(old: Mapping[Key, Measurement], new: Mapping[Key, Measurement]) -> list[str]:
    keys = [*old, *new]
    several, platforms = len({key[1:] for key in keys}) > 1, len({key[2] for key in keys}) > 1
    names = {key: f"{key[0]} on {', '.join(key[1:] if platforms else key[1:2])}" if several else key[0] for key in keys}
    width = max((len(name) for name in names.values()), default=0)
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before is not None and after is not None and _keep_date(before, after) == before:
            continue
        lines.append(drift_line(names[key].ljust(width), before, after))
    return lines


def drift_line(tag: str, old: Measurement | None, new: Measurement | None) -> str:
    """`go-app-multi  8.70MB -> 9.10MB  (+4.6%)` and the like."""
    if new is None:
        return f"{tag}  removed from the record"
    if old is None:
        figure = human_size(new.size_bytes) if new.size_bytes is not None else "failure recorded"
        return f"{tag}  new: {figure}"
    if old.size_bytes is not None and new.size_bytes is not None and old.size_bytes != new.size_bytes:
        before, after = old.size_bytes, new.size_bytes
        change = f"{(after - before) / before * 100:+.1f}%" if before else "new"
        return f"{tag}  {human_size(before)} -> {human_size(after)}  ({change})"
    if old.image_id != new.image_id and new.size_bytes is not None:
        return (
            f"{tag}  {human_size(new.size_bytes)} (size unchanged), rebuilt as"
            f" {short_id(new.image_id)} (was {short_id(old.image_id)})"
        )
    if old.error != new.error and new.error is not None:
        last = new.error.strip().splitlines()[-1:] or [""]
        return f"{tag}  fails differently now: {last[0][:100]}"
    old_json, new_json = old.to_json(), new.to_json()
    changed = sorted(
        k for k in set(old_json) | set(new_json) if k != "measured_at" and old_json.get(k) != new_json.get(k)
    )
    return f"{tag}  same figures; recorded details changed: {', '.join(changed)}"


def merge_records(target: Path, lock_path: Path, measured: Iterable[tuple[Path, Place]]) -> list[str]:
    """Merge the figures of one (store, platform) from each record file into `target`; the drift lines.

    How the scheduled rebuild joins the records its runners made, one per image store and
    platform: each runner's file holds fresh figures for its own store and platform only.
    """
    record = Record(target, lock_path)
    for path, place in measured:
        for (tag, *found), entry in Record(path, lock_path).images.items():
            if tuple(found) == place:
                record.put(tag, place[0], entry)
    return record.save()
