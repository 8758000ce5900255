"""Reading and writing the project's files.

YAML (the manifests, the image map) is parsed safely, its errors located. What a build
writes while others may read or write it (the record, the kept image listings, the
per-image build locks; the benchmark's results too) is written under a lock and
replaced whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import LivedocsError


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


def load_yaml(text: str, path: str, prefix: str = "") -> object:
    """YAML parsed safely; a LivedocsError at the offending line when it is not valid."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise LivedocsError(
            f"{prefix}not valid YAML ({getattr(error, 'problem', None) or error})",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
