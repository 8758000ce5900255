"""The site's `.dockerignore` matching against what BuildKit itself sends, on the real engine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from macros.context import is_ignored, read_dockerignore

from .helpers import REPO

pytestmark = pytest.mark.engine

FILES = [
    "Dockerfile",
    "a.md",
    "keep.md",
    "b.txt",
    "x.tmp",
    "notes/draft.md",
    "sub/a.tmp",
    "sub/deeper/a.tmp",
    "docs/a.md",
    "docs/sub/a.md",
    "build/out.bin",
    "build/keep/this.txt",
]
IGNORE = [
    ".dockerignore",  # lists itself: the case where docker's PatternMatcher differs
    "*.md",
    "!keep.md",
    "notes",
    "**/deeper/*.tmp",
    "*.tmp",
    "docs/*.md",
    "build",
    "!build/keep",
]


def exported(folder: Path, out: Path, *options: str, timeout: float = 300) -> set[str]:
    """What `docker buildx build OPTIONS FOLDER`, exported as files (`type=local`), holds."""
    done = subprocess.run(
        ["docker", "buildx", "build", "--quiet", *options, "--output", f"type=local,dest={out}", str(folder)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_the_files_the_site_sends_are_the_ones_buildkit_sends(tmp_path: Path) -> None:
    """A folder with a `.dockerignore` of every kind of pattern, built `FROM scratch` with
    `COPY . /` and exported: the files BuildKit copied are exactly those the site's matcher keeps."""
    folder = tmp_path / "context"
    for name in FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (folder / ".dockerignore").write_text("\n".join(IGNORE) + "\n")
    sent = exported(folder, tmp_path / "out")
    rules = read_dockerignore(folder)
    kept = {name for name in [*FILES, ".dockerignore"] if not is_ignored(name, rules)}
    assert sent == kept
    assert ".dockerignore" not in sent and "keep.md" in sent and "build/keep/this.txt" in sent


def test_a_dockerfile_s_own_ignore_file_replaces_the_folder_s(tmp_path: Path) -> None:
    """`Dockerfile.x.dockerignore` next to `Dockerfile.x`: BuildKit reads it instead of the
    folder's `.dockerignore` (whose patterns then apply to nothing), and the site's matcher
    reads the same file for that Dockerfile, and the folder's for the plain `Dockerfile`."""
    from macros.context import ignore_file

    folder = tmp_path / "context"
    for name in FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (folder / "Dockerfile.x").write_text("FROM scratch\nCOPY . /\n")
    (folder / ".dockerignore").write_text("\n".join(IGNORE) + "\n")
    (folder / "Dockerfile.x.dockerignore").write_text("Dockerfile*\nb.txt\nsub\n")
    assert ignore_file(folder, "Dockerfile.x") == "Dockerfile.x.dockerignore"
    assert ignore_file(folder, "Dockerfile") == ".dockerignore"
    sent = exported(folder, tmp_path / "out", "-f", str(folder / "Dockerfile.x"))
    rules = read_dockerignore(folder, "Dockerfile.x")
    every = [*FILES, "Dockerfile.x", ".dockerignore", "Dockerfile.x.dockerignore"]
    assert sent == {name for name in every if not is_ignored(name, rules)}
    assert ".dockerignore" in sent and "a.md" in sent and "b.txt" not in sent and "sub/a.tmp" not in sent


def test_the_context_ignore_folder_as_committed_sends_what_the_page_says(tmp_path: Path) -> None:
    """A reader's own `docker buildx build` of `examples/context-ignore` as it is in the repository
    (its Dockerfile's FROM lines mapped to the stand-ins, from outside the folder): the build stage
    receives the source, the module file and the `.dockerignore` itself, as fast-builds.md says,
    and not the site's `livedocs.yml`, the Dockerfile or the log."""
    from macros.dockerfile import rewrite_images
    from macros.imagemap import load_image_map

    folder = REPO / "examples" / "context-ignore"
    image_map = load_image_map(REPO, str(REPO / "tests" / "standins" / "image-map.yml"))
    dockerfile = tmp_path / "Dockerfile"
    # one more stage holds what the build stage's `COPY . .` received: only that is exported
    sent = "\nFROM scratch AS sent\nCOPY --from=build /src /\n"
    dockerfile.write_text(rewrite_images((folder / "Dockerfile").read_text(), image_map) + sent)
    sent = exported(folder, tmp_path / "out", "--target", "sent", "-f", str(dockerfile), timeout=600)
    assert sorted(sent) == [".dockerignore", "go.mod", "main.go"]
