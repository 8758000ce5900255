"""The date each example file carries into a build: the time of the last commit that changed it.

A reader's clone gives every file the time it was checked out; a file server in an image
then sends that as `Last-Modified`. The site gives each file a date that means something
and stays the same from build to build: its last commit's. A file that is not committed
as it is (new, or edited since) keeps its own modification time, as the reader's would.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def commit_times(root: Path, under: str = "examples") -> dict[str, int]:
    """Repository-relative path -> Unix time of the last commit that changed it, for the files
    under `under` that are committed as they are now; {} where `root` is no git checkout."""
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        return {}
    try:
        logged = _git(git, root, "log", "--format=%x00%ct", "--name-only", "--no-renames", "--", under)
        changed = _git(git, root, "status", "--porcelain", "-z", "--untracked-files=all", "--", under)
    except (OSError, subprocess.SubprocessError):
        return {}
    times: dict[str, int] = {}
    for commit in logged.split("\0")[1:]:  # newest first: a file's first mention is its last change
        stamp, _, names = commit.partition("\n")
        for name in names.split("\n"):
            if name.strip():
                times.setdefault(name.strip(), int(stamp))
    for entry in changed.split("\0"):
        if len(entry) > 3:
            times.pop(entry[3:], None)  # edited, added or untracked: not as committed
    return times


def _git(git: str, root: Path, *args: str) -> str:
    return subprocess.run([git, "-C", str(root), *args], capture_output=True, text=True, timeout=60, check=True).stdout


def file_time(path: Path, root: Path, times: dict[str, int]) -> int:
    """The date `path` carries: its last commit's, or its own modification time."""
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        relative = ""
    found = times.get(relative)
    return found if found is not None else int(path.lstat().st_mtime)
