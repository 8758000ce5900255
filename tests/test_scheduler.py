"""The order images are resolved in (macros/scheduler.py), with no engine: independent images
first, `after:` images in dependency order, a `together` group handed over at once."""

from __future__ import annotations

from pathlib import Path

from macros import scheduler
from macros.examples import load_example

from .test_context import make_example

MANIFEST = """images:
  a: {}
  b: {after: a}
  slow: {}
  fast: {after: slow, together: slow}
  left: {}
  right: {together: left}
"""


def test_a_together_group_gets_its_independent_members_too(tmp_path: Path) -> None:
    """Chapter 3's pair (one side built `after:` the other) and a pair with no `after:` at all:
    each group goes to `resolve_together` once, whole and in dependency order, after its
    independent members were resolved; nothing else goes there."""
    folder = make_example(tmp_path, {"Dockerfile": "FROM scratch\n"}, MANIFEST)
    specs = {spec.tag: spec for spec in load_example(folder, tmp_path)}
    resolved: list[str] = []
    groups: list[list[str]] = []

    def together(group: list[str]) -> None:
        assert all(tag in resolved for tag in group if specs[tag].after is None), (group, resolved)
        groups.append(group)

    scheduler.run(specs, specs, resolved.append, 0, together)
    assert sorted(groups) == [["left", "right"], ["slow", "fast"]]
    assert resolved == ["a", "left", "right", "slow", "b"]  # `fast` is its group's: resolve_together's to build
