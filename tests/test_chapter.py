"""The real site, built on the real engine from the stand-ins: true as written."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import MKDOCS, REPO, RealSite, store_engines
from .helpers import by_store, mkdocs_env
from .helpers import docker_cli as docker

pytestmark = pytest.mark.engine

CHAPTER = "multi-stage"


def mkdocs_build(root: Path, site_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(site_dir)],
        cwd=root,
        env=mkdocs_env(**extra),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def cli_size(tag: str, host: str | None = None) -> str:
    return docker("images", "--format", "{{.Size}}", tag, host=host)


def cli_id(tag: str, host: str | None = None) -> str:
    return docker("images", "--format", "{{.ID}}", tag, host=host)


@pytest.fixture(scope="module")
def engines() -> dict[str, str]:
    """The chapter is measured on both image stores: store -> engine address."""
    return store_engines("containerd", "overlay2")


@pytest.fixture(scope="module")
def chapter(real_site: RealSite) -> str:
    return real_site.page(CHAPTER)


def test_every_docker_images_table_equals_the_engine(chapter: str, engines: dict[str, str]) -> None:
    """Each row of each `docker images` table shows one store's engine's own ID and size; both stores are shown."""
    rows = re.findall(
        r"^(\S+)\s+latest\s+([0-9a-f]{12})\s+.*?\s(\S+B)\s*$", htmllib.unescape(re.sub(r"<[^>]+>", "", chapter)), re.M
    )
    assert rows, "the chapter shows at least one docker images table"
    seen = set()
    for repository, image_id, size in rows:
        store = next((s for s, host in engines.items() if cli_id(repository, host) == image_id), None)
        assert store is not None, f"{repository} {image_id} is in no engine"
        assert size == cli_size(repository, engines[store]), (repository, store)
        seen.add(store)
    assert seen == set(engines), seen


def test_every_docker_29_listing_equals_the_engines_tree_view(chapter: str, engines: dict[str, str]) -> None:
    """Each row of each Docker 29 `docker images` listing is the top row that one store's engine
    prints for that image with `docker images --tree`: name, ID, DISK USAGE, CONTENT SIZE; both stores shown."""
    from .test_image_tree import cli_tree_row

    text = htmllib.unescape(re.sub(r"<[^>]+>", "", chapter))
    rows = re.findall(r"^(\S+:latest) +([0-9a-f]{12}) +(\S+B) +(\S+B) *$", text, re.M)
    assert rows, "the chapter shows at least one Docker 29 listing"
    seen = set()
    for name, image_id, disk_usage, content_size in rows:
        store = next((s for s, host in engines.items() if cli_id(name, host) == image_id), None)
        assert store is not None, f"{name} {image_id} is in no engine"
        assert cli_tree_row(engines[store], name) == (name, image_id, disk_usage, content_size), (name, store)
        seen.add(store)
    assert seen == set(engines), seen


def test_size_chart_values_equal_the_engine(chapter: str, engines: dict[str, str]) -> None:
    """One bar chart per store; its labels and values are that store's engine's sizes."""
    charts = re.findall(r"<svg class=\"livedocs-chart\".*?</svg>", chapter, re.S)
    assert len(charts) == len(engines)
    matched = []
    for chart in charts:
        labels = re.findall(r'class="livedocs-chart-label">([^<]+)</text>', chart)
        values = re.findall(r'class="livedocs-chart-value">([^<]+)</text>', chart)
        assert len(labels) >= 3 and len(labels) == len(values)
        shown = dict(zip(labels, values, strict=True))
        store = next(s for s, host in engines.items() if all(cli_size(t, host) == v for t, v in shown.items()))
        matched.append(store)
    assert sorted(matched) == sorted(engines)


def test_every_claim_in_the_chapter_holds(chapter: str) -> None:
    """The chapter carries claims, each checked and true (a false one fails the build)."""
    marks = re.findall(r'<span class="livedocs-claim( livedocs-false)?" title="([^"]*)"', chapter)
    assert len(marks) >= 8
    assert all(not false for false, _ in marks)
    assert all(" holds" in htmllib.unescape(title) for _, title in marks)


def test_a_heavier_final_stage_fails_the_build_naming_the_claim(
    tmp_path: Path, chapter: str, engines: dict[str, str]
) -> None:
    """Tens of MB added to go-app-multi's final stage make the build fail at the claim, on each store."""
    originals = {}
    for host in engines.values():  # held, so the heavier build cannot remove them
        originals[host] = docker("image", "inspect", "--format", "{{.Id}}", "go-app-multi", host=host)
        docker("tag", originals[host], "fixture-keep:go-app-multi", host=host)
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("docs", "examples", "mkdocs.yml", "overrides"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    (root / "macros").symlink_to(REPO / "macros")
    dockerfile = root / "examples" / "go-app" / "Dockerfile"
    text = dockerfile.read_text()
    cmd = text.rindex("\nCMD")
    dockerfile.write_text(text[:cmd] + "\nRUN head -c 40000000 /dev/zero > /ballast" + text[cmd:])
    try:
        built = mkdocs_build(root, tmp_path / "site", LIVEDOCS_ENGINES=",".join(engines.values()))
    finally:
        for host, original in originals.items():
            heavier = docker("image", "inspect", "--format", "{{.Id}}", "go-app-multi", host=host)
            docker("tag", original, "go-app-multi", host=host)
            docker("rmi", "fixture-keep:go-app-multi", host=host)
            if heavier != original:
                docker("rmi", heavier, host=host)
    output = built.stdout + built.stderr
    assert built.returncode == 1, output
    claim = r'docs/multi-stage\.md:\d+: claim "size\(go-app-multi\) < 30MB" is false on '
    assert re.search(claim + r"overlay2: size\(go-app-multi\) is 4\d\.\dMB", output), output
    assert re.search(claim + r"containerd: size\(go-app-multi\) is \d+(\.\d+)?MB", output), output


def dockerfile_stages(text: str) -> list[tuple[str, int]]:
    """(the name BuildKit gives each stage, its number of steps): `AS x` names it x, an unnamed
    one is `stage-<index>`. BuildKit numbers the instructions that make a step of the build
    (RUN, COPY, ADD, WORKDIR, and a FROM of an image: not `FROM scratch`, not `FROM <stage>`),
    not those that only set the image's settings (CMD, ENV, EXPOSE...)."""
    from macros.dockerfile import instructions

    stages: list[tuple[str, int]] = []
    for instruction in instructions(text):
        counted = instruction.keyword in ("RUN", "COPY", "ADD", "WORKDIR")
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            named = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else f"stage-{len(stages)}"
            counted = words[0] != "scratch" and words[0] not in {name for name, _ in stages}
            stages.append((named, 0))
        if stages and counted:
            stages[-1] = (stages[-1][0], stages[-1][1] + 1)
    return stages


def test_every_recorded_listing_names_only_its_own_dockerfiles_steps(real_site: RealSite) -> None:
    """Each step label of every recorded build (`[build 3/6]`) names a stage of that image's own
    Dockerfile and that stage's number of instructions: no build ran alongside another one whose
    steps it shares (builds are made one at a time, machine-wide)."""
    wrong = []
    for tag, stores in by_store(real_site.record["images"]).items():
        for store, entry in stores.items():
            stages = dockerfile_stages((REPO / entry["dockerfile"]).read_text())
            for step in (entry.get("build") or {}).get("steps", []):
                label = step.get("label", "")
                found = re.fullmatch(r"(?:(?P<stage>\S+) )?(?P<index>\d+)/(?P<count>\d+)", label)
                assert found, (tag, store, label)
                count = int(found["count"])
                if found["stage"] is None:
                    ok = len(stages) == 1 and stages[0][1] == count
                else:
                    ok = (found["stage"], count) in stages
                if not ok or int(found["index"]) > count:
                    wrong.append(f"{tag} on {store}: [{label}] {step['instruction'][:40]}")
    assert not wrong, "steps of another Dockerfile in a listing:\n" + "\n".join(wrong)


def test_the_served_page_is_dated_by_its_last_commit(real_site: RealSite) -> None:
    """`Last-Modified` of go-app-static's page, as recorded on every store, is the time of the
    last commit that changed `static/index.html` (the page says so), not a fixed date."""
    from email.utils import formatdate

    page = "examples/go-app-static/static/index.html"
    status = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", page], capture_output=True, text=True, check=True
    )
    assert status.stdout == "", f"{page} is edited: its date is its own, not its commit's"
    committed = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct", "--", page], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = formatdate(int(committed), usegmt=True)
    for store, entry in by_store(real_site.record["images"])["go-app-static"].items():
        headers = dict(entry["responses"]["/"]["headers"])
        assert headers["Last-Modified"] == expected, store
