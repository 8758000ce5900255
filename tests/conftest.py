"""Shared fixtures: a real engine, tiny real sites, and a leak check around the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
IMAGE_MAP = REPO / "tests" / "standins" / "image-map.yml"
MKDOCS = str(Path(sys.executable).parent / "mkdocs")
FIXTURE_PREFIX = "fixture-"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The real engine `make test` started (or the contributor's own)."""
    client = docker.from_env(timeout=60)
    client.ping()  # make test provides an engine: no engine is a failure, not a skip
    for standin in ("standin/alpine:3.19", "standin/golang:1.21-alpine3.19"):
        assert client.images.get(standin).labels.get("org.livedocs.standin"), f"{standin} is not a stand-in"
    yield client
    client.close()


def _engine_state(client: docker.DockerClient) -> dict[str, set[str]]:
    return {
        "containers": {c.id for c in client.containers.list(all=True)},
        "networks": {n.id for n in client.networks.list()},
        "volumes": {v.id for v in client.volumes.list()},
        "dangling images": {i.id for i in client.images.list(filters={"dangling": True})},
    }


@pytest.fixture(scope="session", autouse=True)
def no_leaks(docker_client: docker.DockerClient) -> Iterator[None]:
    """The session leaves the engine as it found it: any new container, network,
    volume or dangling image fails the run. Fixture images are removed at the end."""
    before = _engine_state(docker_client)
    yield
    for image in docker_client.images.list():
        if any(tag.startswith((FIXTURE_PREFIX, f"livedocs-stage/{FIXTURE_PREFIX}")) for tag in image.tags):
            for tag in image.tags:
                docker_client.images.remove(tag, noprune=False)
    after = _engine_state(docker_client)
    leaked = {kind: after[kind] - before[kind] for kind in after if after[kind] - before[kind]}
    assert not leaked, f"the tests leaked: {leaked}"


@dataclass
class Built:
    code: int
    output: str
    root: Path

    def page(self, name: str = "index") -> str:
        return (self.root / "site" / (f"{name}/index.html" if name != "index" else "index.html")).read_text()

    def record(self) -> dict:
        return json.loads((self.root / "examples" / "measurements.json").read_text())

    def entry(self, tag: str, store: str = "overlay2") -> dict:
        """One image's recorded figures on one store (the default engine's is overlay2)."""
        return self.record()["images"][tag][store]


class TinySite:
    """A whole small site in a temporary folder, built with the real mkdocs CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "docs").mkdir(parents=True)
        (root / "examples").mkdir()
        (root / "macros").symlink_to(REPO / "macros")
        (root / "mkdocs.yml").write_text(
            textwrap.dedent(
                """\
                site_name: tiny
                strict: true
                watch: [examples]
                plugins:
                  - macros:
                      module_name: macros
                      on_error_fail: true
                markdown_extensions:
                  - admonition
                  - pymdownx.details
                  - pymdownx.superfences
                """
            )
        )

    def example(self, name: str) -> Path:
        target = self.root / "examples" / name
        shutil.copytree(FIXTURES / name, target)
        return target

    def write(self, text: str, name: str = "index.md") -> None:
        (self.root / "docs" / name).write_text(textwrap.dedent(text))

    def build(
        self,
        *,
        mode: str | None = None,
        docker_host: str | None = None,
        engines: dict[str, str] | None = None,
        timeout: float = 600,
        path: str | None = None,
    ) -> Built:
        env = {**os.environ, "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP), "NO_MKDOCS_2_WARNING": "1"}
        if path is not None:
            env["PATH"] = path
        env.pop("LIVEDOCS_ENGINE", None)
        if engines:
            env["LIVEDOCS_ENGINES"] = ",".join(engines.values())
        if mode:
            env["LIVEDOCS_ENGINE"] = mode
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        done = subprocess.run(
            [MKDOCS, "build", "--strict"],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Built(done.returncode, done.stdout + done.stderr, self.root)


@pytest.fixture
def site(tmp_path: Path) -> TinySite:
    return TinySite(tmp_path / "site-src")


def container_events(client: docker.DockerClient, since: float, until: float) -> list[str]:
    """Container events the engine saw between two moments (e.g. create, start)."""
    events = client.events(since=since, until=until, filters={"type": "container"}, decode=True)
    return [f"{e.get('Action')} {e.get('from', '')}" for e in events]


def now() -> float:
    return time.time()


def store_engines(*needed: str) -> dict[str, str]:
    """store -> engine address, from the list `make engine` wrote; a missing store is a failure."""
    listed = REPO / ".cache" / "livedocs" / "engines"
    found = {}
    if listed.is_file():
        for line in listed.read_text().splitlines():
            if line.strip():
                store, address = line.split()
                found[store] = address
    for store in needed:
        if store not in found:
            pytest.fail(
                f"no engine of the {store} image store: run `make engine` (root, Debian) or list one in {listed}"
            )
    return found
