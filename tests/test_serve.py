"""`mkdocs serve` as a contributor uses it: live figures, false claims shown, incremental."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from macros.engine import LABEL_RUN
from scripts.harness.mkdocs import MkdocsServer, ServerExited

from .conftest import TinySite, now
from .helpers import mkdocs_env

pytestmark = [pytest.mark.engine, pytest.mark.network]


class Server(MkdocsServer):
    """`mkdocs serve` of a tiny site (the harness's), started at once."""

    def __init__(self, site: TinySite) -> None:
        super().__init__(site.root, mkdocs_env(), site.root / "serve.log")
        self.start()

    def wait_for(self, text: str, timeout: float = 120) -> str:
        try:
            return self.wait(lambda page: text in (page or ""), timeout) or ""
        except ServerExited:
            raise AssertionError(f"the server stopped: {self.log[-3000:]}") from None
        except TimeoutError:
            raise AssertionError(f"{text!r} never appeared; log: {self.log[-3000:]}") from None


@pytest.fixture
def served(site: TinySite) -> Iterator[tuple[TinySite, Server]]:
    site.example("hello")
    site.write(
        """\
        # Served

        Prose, version one.

        {{ response("fixture-hello", "/") }}

        Too small to be true. {{ claim("size(fixture-hello) < 1kB") }}
        """
    )
    server = Server(site)
    try:
        yield site, server
    finally:
        server.stop()


def run_containers(client: docker.DockerClient, since: float, until: float) -> list[str]:
    """Events of the containers the site starts between two moments: its run checks, which carry
    the label org.livedocs.run (BuildKit's build steps are no containers of the engine's). Other
    work on the engine, another test run's say, does not count."""
    events = client.events(since=since, until=until, filters={"type": "container", "label": LABEL_RUN}, decode=True)
    return [f"{e.get('Action')} {e.get('from', '')}" for e in events]


def test_serve_shows_false_claims_and_rebuilds_only_what_changed(
    served: tuple[TinySite, Server], docker_client: docker.DockerClient
) -> None:
    """A false claim is shown in the page and the log, not fatal; a prose edit does no
    engine work; an example edit rebuilds that example and the page shows its new output."""
    site, server = served
    false_claim = 'claim "size(fixture-hello) < 1kB" is false on overlay2: size(fixture-hello) is '
    page = server.wait_for("Prose, version one.")
    # the page's mark names a store only where the build measures several; the log always does
    assert "livedocs-false" in page and html.escape(false_claim.replace(" on overlay2", "")) in page
    assert f"livedocs: docs/index.md:7: {false_claim}" in server.log, "the log names the claim's page and line"
    assert "hello from a fixture" in page

    index: Path = site.root / "docs" / "index.md"
    since, mark = now(), len(server.log)
    index.write_text(index.read_text().replace("version one", "version two"))
    server.wait_for("Prose, version two.")
    until = now()
    assert run_containers(docker_client, since, until) == [], "a prose edit starts no container"
    rebuild = server.log[mark:]
    assert f"livedocs: docs/index.md:7: {false_claim}" in rebuild, "the rebuild checked the page's claim again"
    assert "livedocs: building" not in rebuild, "a prose edit builds nothing"

    builds_before = server.log.count("livedocs: building fixture-hello")
    (site.root / "examples" / "hello" / "message.txt").write_text("edited while serving\n")
    server.wait_for("edited while serving")
    assert server.log.count("livedocs: building fixture-hello") == builds_before + 1
    assert server.process.poll() is None, "the server stays up"
