"""The folders build contexts are laid out in, as a reader's folder is: one per experiment.

BuildKit keeps what it last received from a folder (by the folder's name) and then sends
only the files that changed. A reader's first build sends everything, and a second build
from the same folder after an edit sends what the edit changed. So each image built first
(no `after:`) gets a folder of a new name (`fresh`), kept under
`.cache/livedocs/contexts/<engine>/`; an image built `after:` it, the same experiment
after an edit, is built from that same folder (`of`).
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from .files import write_atomically


class ContextFolders:
    def __init__(self, base: Path) -> None:
        self.base = base  # .cache/livedocs/contexts/<engine>

    def fresh(self, example: str) -> Path:
        """A folder BuildKit has never received from: its first build sends everything."""
        return self.base / f"{example}-{uuid.uuid4().hex[:8]}"

    def of(self, tag: str) -> Path | None:
        """The folder `tag` was last built from, if it is still there."""
        try:
            folder = self.base / self._pointer(tag).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return folder if folder.is_dir() else None

    def record(self, tag: str, folder: Path) -> None:
        """`tag` was built from `folder`: the folder it was built from before goes, unless
        another image's last build used it too."""
        old = self.of(tag)
        pointer = self._pointer(tag)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(pointer, folder.name + "\n")
        if old is not None and old != folder:
            others = {p.read_text(encoding="utf-8").strip() for p in pointer.parent.glob("*.folder")}
            if old.name not in others:
                shutil.rmtree(old, ignore_errors=True)

    def lock(self, folder: Path) -> Path:
        """The lock file of `folder`: one layout and build at a time from it."""
        return folder.with_name(folder.name + ".lock")

    def _pointer(self, tag: str) -> Path:
        return self.base / "tags" / (re.sub(r"[^A-Za-z0-9_.-]", "_", tag) + ".folder")
