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


NO_CACHE_MANIFEST = """\
images:
  fixture-timed-slow: {no_cache_filter: [work]}
  fixture-timed-fast:
    dockerfile: Dockerfile.fast
    no_cache_filter: [work]
    together: fixture-timed-slow
"""
STAGED = (
    "FROM alpine:3.19 AS work\nRUN sleep {pause} && echo {nonce} > /done\n"
    "FROM alpine:3.19\nCOPY --from=work /done /done\n"
)


def test_timing_rounds_of_images_built_as_they_are_run_their_no_cache_stages_again(site: TinySite) -> None:
    """Timed images with no `after:` (no edit), whose `no_cache_filter` stage runs on every
    build (as chapter 3's emulated build): both get their rounds, each built again as it is,
    and that stage ran (DONE, not CACHED) in the round each keeps."""
    folder = site.root / "examples" / "staged"
    folder.mkdir(parents=True)
    nonce = uuid.uuid4()
    (folder / "Dockerfile").write_text(STAGED.format(pause="0.6", nonce=nonce))
    (folder / "Dockerfile.fast").write_text(STAGED.format(pause="0.1", nonce=nonce))
    (folder / "livedocs.yml").write_text(NO_CACHE_MANIFEST)
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text() + "extra:\n  livedocs:\n    timing_rounds: 2\n")
    compared = "step_seconds(fixture-timed-slow, 'sleep') > 2 * step_seconds(fixture-timed-fast, 'sleep')"
    site.write(f'# t\n{{{{ claim("{compared}") }}}}\n')
    built = site.build()
    assert built.code == 0, built.output
    rounds = re.findall(r"livedocs: timing round (\d) of 2: (\S+)", built.output)
    assert sorted(rounds) == [("2", "fixture-timed-fast"), ("2", "fixture-timed-slow")], built.output
    record = by_store(built.record()["images"])
    for tag in ("fixture-timed-slow", "fixture-timed-fast"):
        steps = record[tag]["overlay2"]["build"]["steps"]
        (work,) = [step for step in steps if "sleep" in step["instruction"]]
        assert not work["cached"] and work["seconds"] is not None, steps
