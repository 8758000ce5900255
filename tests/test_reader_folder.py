"""Builds from a folder laid out as the reader's: what BuildKit sends, and the dates files carry."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from .conftest import TinySite, store_engines
from .helpers import by_store, docker_cli

pytestmark = pytest.mark.engine

KB = 1000
PAGE = """\
# Sent

First {{ context_size("fixture-xfer") }}, after the edit {{ context_size("fixture-xfer-edited") }}.
{{ claim("context_size(fixture-xfer) > 100kB") }}
{{ claim("context_size(fixture-xfer-edited) < 15kB") }}
"""


def text(size: int, seed: int) -> str:
    """`size` bytes of text that compress poorly (each build's transfer is raw bytes anyway)."""
    generator = random.Random(seed)
    return "".join(generator.choice("abcdefghijklmnopqrstuvwxyz0123456789\n") for _ in range(size))


def transfer_example(site: TinySite, seed: int) -> Path:
    """A 100 kB folder (ten 10 kB files) copied whole, and an edit that changes one of them."""
    folder = site.root / "examples" / "fixture-xfer"
    folder.mkdir(parents=True)
    for n in range(10):
        (folder / f"part{n}.txt").write_text(text(10 * KB, seed + n))
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY . /data/\n")
    (folder / "livedocs.yml").write_text(
        "images:\n  fixture-xfer: {}\n  fixture-xfer-edited:\n    after: fixture-xfer\n    edit: [part3.txt]\n"
    )
    edits = site.root / "examples" / "_edits" / "fixture-xfer"
    edits.mkdir(parents=True)
    (edits / "part3.txt").write_text(text(10 * KB, seed + 100))
    return folder


def sent(record: dict, tag: str, store: str) -> int:
    return int(by_store(record["images"])[tag][store]["build"]["context_bytes"])


def test_a_second_build_after_an_edit_sends_only_what_changed_on_both_stores(site: TinySite) -> None:
    """As from the reader's own folder: the first build sends the whole 100 kB; the build after
    a 10 kB file changed sends about 10 kB, on both stores. When the folder is gone (a new clone),
    the image built first is sent once more before the edit, so the figure still means the same."""
    engines = store_engines("containerd", "overlay2")
    transfer_example(site, seed=random.randrange(10**9))  # a folder no engine has seen
    site.write(PAGE)
    first = site.build(engines=engines)
    assert first.code == 0, first.output
    record = first.record()
    for store in engines:
        assert sent(record, "fixture-xfer", store) >= 100 * KB, store
        assert sent(record, "fixture-xfer-edited", store) <= 15 * KB, store

    shutil.rmtree(site.root / ".cache" / "livedocs" / "contexts")
    (site.root / "examples" / "_edits" / "fixture-xfer" / "part3.txt").write_text(text(10 * KB, seed=7))
    again = site.build(engines=engines)
    assert again.code == 0, again.output
    assert again.output.count("livedocs: sending the context of fixture-xfer before fixture-xfer-edited's edit") == 2
    assert "livedocs: building fixture-xfer from" not in again.output, "the image built first is current"
    for store in engines:
        assert sent(again.record(), "fixture-xfer-edited", store) <= 15 * KB, store
        assert sent(again.record(), "fixture-xfer", store) == sent(record, "fixture-xfer", store), "its figure is kept"


def git(root: Path, *args: str, date: str | None = None) -> None:
    env = dict(os.environ)
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        env=env,
        check=True,
        capture_output=True,
    )


def test_files_carry_their_last_commit_date_into_the_image(site: TinySite) -> None:
    """A committed file is dated by its last commit; a file edited since keeps its own date, as
    the reader's would. The dates reach the image (`COPY` keeps them), so a file server sends them."""
    folder = site.root / "examples" / "dated"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY a.txt b.txt /\n")
    (folder / "a.txt").write_text("committed as it is\n")
    (folder / "b.txt").write_text("edited after the commit\n")
    (folder / "livedocs.yml").write_text("images:\n  fixture-dated-files: {}\n")
    site.write("# d\n{{ size('fixture-dated-files') }}\n")
    git(site.root, "init", "-q")
    git(site.root, "add", "-A")
    git(site.root, "commit", "-q", "-m", "examples", date="2001-02-03T04:05:06+00:00")
    (folder / "b.txt").write_text("edited after the commit, once more\n")
    os.utime(folder / "b.txt", (1_500_000_000, 1_500_000_000))
    built = site.build()
    assert built.code == 0, built.output
    container = docker_cli("create", "fixture-dated-files", "/none")
    try:
        exported = subprocess.run(["docker", "export", container], capture_output=True, check=True).stdout
    finally:
        docker_cli("rm", container)
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        dates = {member.name: int(member.mtime) for member in archive.getmembers() if member.isfile()}
    assert dates["a.txt"] == 981173106  # 2001-02-03T04:05:06Z
    assert dates["b.txt"] == 1_500_000_000
    assert json.loads((site.root / "examples" / "measurements.json").read_text())["images"]["fixture-dated-files"]
