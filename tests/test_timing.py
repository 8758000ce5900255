"""Durations a claim compares: each side built `timing_rounds` times, in turn, the median shown."""

from __future__ import annotations

import re
import statistics
import uuid

import pytest

from .conftest import TinySite
from .helpers import by_store, docker_cli

pytestmark = pytest.mark.engine

DOCKERFILE = "FROM alpine:3.19\nCOPY note.txt /note.txt\nRUN cat /note.txt > /copy.txt && sleep {pause}\n"
MANIFEST = """\
images:
  fixture-timed-a: {}
  fixture-timed-b:
    dockerfile: Dockerfile.b
  fixture-timed-a-edited:
    after: fixture-timed-a
    edit: [note.txt]
  fixture-timed-b-edited:
    dockerfile: Dockerfile.b
    after: fixture-timed-b
    edit: [note.txt]
    together: fixture-timed-a-edited
"""
EDITED = ("fixture-timed-a-edited", "fixture-timed-b-edited")


def dangling() -> set[str]:
    return set(docker_cli("images", "--filter", "dangling=true", "--quiet", "--no-trunc").split())


def test_timing_rounds_build_each_side_in_turn_and_keep_the_median(site: TinySite) -> None:
    """With `timing_rounds: 3` the two images whose durations are compared are built three times
    each, a, b, a, b, a, b; each keeps the round whose steps took the median time: that image is
    the one tagged and recorded, the other rounds' images are gone, and the next build is warm."""
    folder = site.root / "examples" / "timed"
    folder.mkdir(parents=True)
    (folder / "note.txt").write_text(f"{uuid.uuid4()}\n")  # new to every cache
    (folder / "Dockerfile").write_text(DOCKERFILE.format(pause="0.2"))
    (folder / "Dockerfile.b").write_text(DOCKERFILE.format(pause="0.4"))
    (folder / "livedocs.yml").write_text(MANIFEST)
    edits = site.root / "examples" / "_edits" / "timed"
    edits.mkdir(parents=True)
    (edits / "note.txt").write_text("edited\n")
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text() + "extra:\n  livedocs:\n    timing_rounds: 3\n")
    shown = " ".join(f"{{{{ step_seconds('{tag}', 'RUN cat') }}}}" for tag in EDITED)
    site.write(f"# t\n{shown}\n")
    before = dangling()
    built = site.build()
    assert built.code == 0, built.output
    rounds = re.findall(r"livedocs: timing round (\d) of 3: (\S+)", built.output)
    assert rounds == [(n, tag) for n in "23" for tag in EDITED], built.output
    record = by_store(built.record()["images"])
    for tag in EDITED:
        found = re.search(rf"livedocs: {tag}: steps took (\S+)s, (\S+)s, (\S+)s in 3 rounds", built.output)
        assert found, built.output
        entry = record[tag]["overlay2"]
        total = sum(step.get("seconds") or 0.0 for step in entry["build"]["steps"])
        assert f"{total:.1f}" == f"{statistics.median(float(x) for x in found.groups()):.1f}"
        assert docker_cli("image", "inspect", "--format", "{{.Id}}", tag) == entry["image_id"]
    assert dangling() <= before, "the other rounds' images are removed"
    again = site.build()
    assert again.code == 0, again.output
    assert "livedocs: building" not in again.output and "timing round" not in again.output
