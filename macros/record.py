"""examples/measurements.json: the recorded figures, for replay and for drift lines.

    {
      "schema": 1,
      "images": {
        "go-app-multi": {"size_bytes": 8702461, "image_id": "sha256:...", ...},
        "typo-stage": {"expect": "failure", "error": "invalid from flag value ...", ...}
      }
    }

Written atomically (a temporary file beside it, then a rename), under a lock, keys
sorted, and only when a figure changed. A file that does not parse is reported and
left as it is: recorded figures are never silently lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import RecordError
from .units import human_size, short_id

SCHEMA = 1
VOLATILE = ("measured_at",)  # rewritten only together with a real change


class Record:
    """The recorded measurements, by image tag."""

    def __init__(self, path: Path, shown: str | None = None, lock_path: Path | None = None) -> None:
        self.path = path
        self.shown = shown or str(path)
        self.lock_path = lock_path or path.with_name(f".{path.name}.lock")
        self.images: dict[str, dict[str, Any]] = {}
        self._loaded: dict[str, dict[str, Any]] = {}
        self.load()

    def load(self) -> None:
        if not self.path.exists():
            self.images, self._loaded = {}, {}
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            line = getattr(error, "lineno", None)
            raise RecordError(
                f"cannot read the recorded figures ({error}); fix or delete the file, it is left as it is",
                path=self.shown,
                line=line,
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("images"), dict):
            raise RecordError(
                "not a record of measurements (no 'images' mapping); left as it is",
                path=self.shown,
            )
        if data.get("schema") != SCHEMA:
            raise RecordError(
                f"schema {data.get('schema')!r} is not {SCHEMA}; left as it is",
                path=self.shown,
            )
        self.images = {str(k): dict(v) for k, v in data["images"].items() if isinstance(v, dict)}
        self._loaded = json.loads(json.dumps(self.images))

    def get(self, tag: str) -> dict[str, Any] | None:
        return self.images.get(tag)

    def put(self, tag: str, entry: dict[str, Any]) -> None:
        """Record `entry`; an unchanged figure keeps its old measured_at."""
        old = self.images.get(tag)
        if old is not None and _strip(old) == _strip(entry):
            entry = {**entry, **{k: old[k] for k in VOLATILE if k in old}}
        self.images[tag] = entry

    def drift(self) -> list[str]:
        """One line per image whose figures changed since the file was read."""
        lines = []
        width = max((len(t) for t in self.images), default=0)
        for tag in sorted(set(self.images) | set(self._loaded)):
            old, new = self._loaded.get(tag), self.images.get(tag)
            if old is not None and new is not None and _strip(old) == _strip(new):
                continue
            lines.append(drift_line(tag.ljust(width), old, new))
        return lines

    def changed(self) -> bool:
        return self.images != self._loaded

    def save(self) -> list[str]:
        """Write the file if anything changed; the drift lines of what changed."""
        if not self.changed():
            return []
        drift = self.drift()
        with locked(self.path):
            text = (
                json.dumps(
                    {"schema": SCHEMA, "images": self.images},
                    indent=2,
                    sort_keys=True,
                    ensure_ascii=False,
                )
                + "\n"
            )
            write_atomically(self.path, text)
        self._loaded = json.loads(json.dumps(self.images))
        return drift


def _strip(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in VOLATILE}


def drift_line(tag: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    """`go-app-multi  8.70MB -> 9.10MB  (+4.6%)` and the like."""
    if new is None:
        return f"{tag}  removed from the record"
    if old is None:
        figure = human_size(new["size_bytes"]) if "size_bytes" in new else "failure recorded"
        return f"{tag}  new: {figure}"
    if "size_bytes" in old and "size_bytes" in new:
        before, after = old["size_bytes"], new["size_bytes"]
        if before != after:
            change = f"{(after - before) / before * 100:+.1f}%" if before else "new"
            return f"{tag}  {human_size(before)} -> {human_size(after)}  ({change})"
    if old.get("image_id") != new.get("image_id") and "size_bytes" in new:
        return (
            f"{tag}  {human_size(new['size_bytes'])} (size unchanged), rebuilt as"
            f" {short_id(str(new.get('image_id')))} (was {short_id(str(old.get('image_id')))})"
        )
    if old.get("error") != new.get("error") and "error" in new:
        last = str(new["error"]).strip().splitlines()[-1:] or [""]
        return f"{tag}  fails differently now: {last[0][:100]}"
    changed = sorted(k for k in set(old) | set(new) if k not in VOLATILE and old.get(k) != new.get(k))
    return f"{tag}  same figures; recorded details changed: {', '.join(changed)}"


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on `lock_path`, so two builds never interleave their writes."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
