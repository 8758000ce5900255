"""The real site, built on the real engine from the stand-ins: true as written."""

from __future__ import annotations

import html as htmllib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import IMAGE_MAP, MKDOCS, REPO

CHAPTER = "multi-stage"


def mkdocs_build(root: Path, site_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP), "NO_MKDOCS_2_WARNING": "1", **extra}
    if "LIVEDOCS_ENGINE" not in extra:
        env.pop("LIVEDOCS_ENGINE", None)
    return subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(site_dir)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def cli_size(tag: str) -> str:
    return docker("images", "--format", "{{.Size}}", tag)


@pytest.fixture(scope="module")
def chapter(tmp_path_factory: pytest.TempPathFactory) -> str:
    site_dir = tmp_path_factory.mktemp("site")
    built = mkdocs_build(REPO, site_dir)
    assert built.returncode == 0, built.stdout + built.stderr
    return (site_dir / CHAPTER / "index.html").read_text()


def test_every_docker_images_table_equals_the_engine(chapter: str) -> None:
    """Each row of each `docker images` table in the page shows the engine's own size and ID."""
    rows = re.findall(
        r"^(\S+)\s+latest\s+([0-9a-f]{12})\s+.*?\s(\S+B)\s*$", htmllib.unescape(re.sub(r"<[^>]+>", "", chapter)), re.M
    )
    assert rows, "the chapter shows at least one docker images table"
    for repository, image_id, size in rows:
        assert size == cli_size(repository), repository
        assert image_id == docker("images", "--format", "{{.ID}}", repository), repository


def test_size_chart_values_equal_the_engine(chapter: str) -> None:
    """The bar chart's labels and values are the engine's sizes."""
    labels = re.findall(r'class="livedocs-chart-label">([^<]+)</text>', chapter)
    values = re.findall(r'class="livedocs-chart-value">([^<]+)</text>', chapter)
    assert len(labels) >= 3 and len(labels) == len(values)
    for tag, value in zip(labels, values, strict=True):
        assert value == cli_size(tag), tag


def test_every_claim_in_the_chapter_holds(chapter: str) -> None:
    """The chapter carries claims, each checked and true (a false one fails the build)."""
    marks = re.findall(r'<span class="livedocs-claim( livedocs-false)?" title="([^"]*)"', chapter)
    assert len(marks) >= 8
    assert all(not false for false, _ in marks)
    assert all(" holds" in htmllib.unescape(title) for _, title in marks)


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout.strip()


def test_a_heavier_final_stage_fails_the_build_naming_the_claim(tmp_path: Path, chapter: str) -> None:
    """Tens of MB added to go-app-multi's final stage make the build fail at the claim."""
    original = docker("image", "inspect", "--format", "{{.Id}}", "go-app-multi")
    docker("tag", original, "fixture-keep:go-app-multi")  # held, so the heavier build cannot remove it
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("docs", "examples", "mkdocs.yml"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    (root / "macros").symlink_to(REPO / "macros")
    dockerfile = root / "examples" / "go-app" / "Dockerfile"
    text = dockerfile.read_text()
    cmd = text.rindex("\nCMD")
    dockerfile.write_text(text[:cmd] + "\nRUN head -c 40000000 /dev/zero > /ballast" + text[cmd:])
    try:
        built = mkdocs_build(root, tmp_path / "site")
    finally:
        heavier = docker("image", "inspect", "--format", "{{.Id}}", "go-app-multi")
        docker("tag", original, "go-app-multi")
        docker("rmi", "fixture-keep:go-app-multi")
        if heavier != original:
            docker("rmi", heavier)
    output = built.stdout + built.stderr
    assert built.returncode == 1, output
    assert re.search(
        r'docs/multi-stage\.md:\d+: claim "size\(go-app-multi\) < 30MB" is false: size\(go-app-multi\) is 4\d\.\dMB',
        output,
    ), output
