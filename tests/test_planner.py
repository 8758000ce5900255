"""The planner's keys: what decides that a recorded measurement still stands (no engine)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from macros.context import Contexts
from macros.examples import load_examples
from macros.planner import Planner

MANIFEST = """\
images:
  first: {}
  first-edited:
    after: first
    edit: [note.txt]
  first-edited-again:
    after: first-edited
    edit: [other.txt]
"""


class NoBases:
    """An index for Dockerfiles `FROM scratch`: there is no base image to look up."""

    def bases(self, spec: object, dockerfile_text: str, *image_maps: Mapping[str, str]) -> dict[str, object]:
        return {}


def keys(root: Path) -> dict[str, str]:
    specs = load_examples(root)
    planner = Planner(root, Contexts(root, {}), NoBases(), "buildkit")  # type: ignore[arg-type]
    return {tag: planner.plan(spec, specs, {}).key for tag, spec in specs.items()}


def test_an_image_built_after_another_is_keyed_by_what_came_before_it(tmp_path: Path) -> None:
    """An image built `after:` another in the reader's folder sends only what differs from it: a
    change to the first image's files, even one the edit replaces, is a change to every image
    after it, so none keeps a measurement made after another first build."""
    folder = tmp_path / "examples" / "app"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY note.txt other.txt /\n")
    (folder / "note.txt").write_text("one\n")
    (folder / "other.txt").write_text("other\n")
    (folder / "livedocs.yml").write_text(MANIFEST)
    edits = tmp_path / "examples" / "_edits" / "app"
    edits.mkdir(parents=True)
    (edits / "note.txt").write_text("edited\n")
    (edits / "other.txt").write_text("edited too\n")
    before = keys(tmp_path)
    (folder / "note.txt").write_text("two\n")  # the edit replaces this file: its own context is unchanged
    after = keys(tmp_path)
    assert all(before[tag] != after[tag] for tag in before), (before, after)
    (edits / "other.txt").write_text("edited again\n")  # only the last image's own edit
    last = keys(tmp_path)
    assert last["first"] == after["first"] and last["first-edited"] == after["first-edited"]
    assert last["first-edited-again"] != after["first-edited-again"]
