"""Shared fixtures: a real engine, tiny real sites, and a leak check around the run."""

from __future__ import annotations

import json
import select
import shutil
import socket
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from scripts.harness.mkdocs import mkdocs_build, mkdocs_command

from .helpers import by_store, mkdocs_env

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
MKDOCS = mkdocs_command()
FIXTURE_PREFIX = "fixture-"


# The tiers (markers registered in pyproject.toml): `make check` runs what needs none of them.
NEEDS = ("engine", "browser", "network")
# Fixtures that reach an engine: a test that asks for one must be marked `engine`.
ENGINE_FIXTURES = frozenset({"docker_client", "engine_unchanged", "site", "real_site", "engines"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """An engine fixture in a test not marked `engine` is a collection error, whatever `-m` selects."""
    unmarked = [
        f"{item.nodeid} uses {', '.join(sorted(ENGINE_FIXTURES & set(getattr(item, 'fixturenames', ()))))}"
        for item in items
        if not item.get_closest_marker("engine") and ENGINE_FIXTURES & set(getattr(item, "fixturenames", ()))
    ]
    if unmarked:
        raise pytest.UsageError("tests that need an engine but are not marked engine:\n  " + "\n  ".join(unmarked))


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


@pytest.fixture(scope="session")
def engine_unchanged(docker_client: docker.DockerClient) -> Iterator[None]:
    """The engine tests leave the engine as they found it: any new container, network,
    volume or dangling image fails the run. Fixture images are removed at the end."""
    before = _engine_state(docker_client)
    yield
    _remove_fixture_images(docker_client)
    for address in set(_listed_engines().values()):  # the other store's engine, where tests build too
        other = docker.DockerClient(base_url=address, timeout=60)
        try:
            _remove_fixture_images(other)
        finally:
            other.close()
    after = _engine_state(docker_client)
    leaked = {kind: after[kind] - before[kind] for kind in after if after[kind] - before[kind]}
    assert not leaked, f"the tests leaked: {leaked}"


def _remove_fixture_images(client: docker.DockerClient) -> None:
    for image in client.images.list():
        if any(tag.startswith((FIXTURE_PREFIX, f"livedocs-stage/{FIXTURE_PREFIX}")) for tag in image.tags):
            for tag in image.tags:
                client.images.remove(tag, noprune=False)


class _SocketGuard:
    """Refuses and records every socket a test opens (in this process: `connect`; in its child
    processes: DOCKER_HOST and LIVEDOCS_ENGINES point at a socket of the guard's own)."""

    def __init__(self, folder: Path, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self.opened: list[str] = []
        self.path = folder / "engine.sock"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(8)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="socket-guard", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        """Accept (and hang up on) every connection until stopped, the last queued ones included."""
        while True:
            ready, _, _ = select.select([self.listener], [], [], 0.05)
            if ready:
                connection, _ = self.listener.accept()
                self.opened.append(f"a child process connected to DOCKER_HOST / LIVEDOCS_ENGINES ({self.path})")
                connection.close()
            elif self.stopping.is_set():
                return

    def refuse(self, sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and self.allow_loopback and address[0] in LOOPBACK:
            return
        self.opened.append(f"connect({address!r})")
        raise ConnectionRefusedError(f"this test is not marked engine or network; it opened {address!r}")

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()


LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _tier(request: pytest.FixtureRequest) -> Iterator[None]:
    """An engine test checks the engine is left unchanged; any other test may open no engine
    socket (nor any socket at all, unless marked network or browser): one that does fails."""
    if request.node.get_closest_marker("engine"):
        request.getfixturevalue("engine_unchanged")
        yield
        return
    allow_loopback = any(request.node.get_closest_marker(need) for need in NEEDS)
    guard = _SocketGuard(Path(tempfile.mkdtemp(prefix="ld-guard-")), allow_loopback)
    original = socket.socket.connect, socket.socket.connect_ex

    def connect(sock: socket.socket, address: Any) -> None:
        guard.refuse(sock, address)
        original[0](sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        guard.refuse(sock, address)
        return original[1](sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setenv("DOCKER_HOST", f"unix://{guard.path}")
        patch.setenv("LIVEDOCS_ENGINES", f"unix://{guard.path}")
        try:
            yield
        finally:
            guard.close()
            shutil.rmtree(guard.path.parent, ignore_errors=True)
    if guard.opened:
        pytest.fail(
            f"{request.node.nodeid} is not marked engine but opened a socket: {'; '.join(dict.fromkeys(guard.opened))}."
            " Mark it @pytest.mark.engine (pyproject.toml), or keep it off the engine."
        )


@dataclass(frozen=True)
class RealSite:
    """The repository's own site, built live once per test session, as `make site` builds it."""

    root: Path  # the built site (`--site-dir`)
    output: str  # what mkdocs printed
    record: dict[str, Any]  # examples/measurements.json as this build left it

    def page(self, name: str) -> str:
        return (self.root / name / "index.html").read_text()


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> RealSite:
    """One live build of the real site on the engines `make engine` started, for every test that
    reads it (the chapter, the browser, the links): the site is measured once per run, not per module."""
    from .test_chapter import mkdocs_build

    store_engines("containerd", "overlay2")
    site_dir = tmp_path_factory.mktemp("real-site")
    built = mkdocs_build(REPO, site_dir)
    assert built.returncode == 0, built.stdout + built.stderr
    record = json.loads((REPO / "examples" / "measurements.json").read_text())
    return RealSite(site_dir, built.stdout + built.stderr, record)


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
        return by_store(self.record()["images"])[tag][store]


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
        wrapper: Sequence[str] = (),
    ) -> Built:
        env = mkdocs_env()
        if path is not None:
            env["PATH"] = path
        if engines:
            env["LIVEDOCS_ENGINES"] = ",".join(engines.values())
        if mode:
            env["LIVEDOCS_ENGINE"] = mode
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        done = mkdocs_build(self.root, env, ["--strict"], timeout=timeout, wrapper=wrapper)  # wrapper: e.g. faketime
        return Built(done.code, done.output, self.root)


@pytest.fixture
def site(tmp_path: Path) -> TinySite:
    return TinySite(tmp_path / "site-src")


def now() -> float:
    return time.time()


def _listed_engines() -> dict[str, str]:
    """store -> engine address, as `make engine` listed them (none listed: empty)."""
    listed = REPO / ".cache" / "livedocs" / "engines"
    found = {}
    if listed.is_file():
        for line in listed.read_text().splitlines():
            if line.strip():
                store, address = line.split()
                found[store] = address
    return found


def store_engines(*needed: str) -> dict[str, str]:
    """store -> engine address, from the list `make engine` wrote; a missing store is a failure."""
    listed = REPO / ".cache" / "livedocs" / "engines"
    found = _listed_engines()
    for store in needed:
        if store not in found:
            pytest.fail(
                f"no engine of the {store} image store: run `make engine` (root, Debian) or list one in {listed}"
            )
    return found
