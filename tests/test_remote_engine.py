"""Any engine: DOCKER_HOST on tcp://127.0.0.1 points the whole build at a second engine."""

from __future__ import annotations

import re

import docker
import pytest

from scripts.probes import container_events

from .conftest import TinySite, now
from .engines import SecondEngine

pytestmark = pytest.mark.engine


def test_figures_come_from_the_engine_docker_host_names(site: TinySite, docker_client: docker.DockerClient) -> None:
    """Sizes, IDs and provenance are the second engine's (the record names its address, the page does
    not); the default engine does nothing."""
    engine = SecondEngine().start()
    try:
        engine.load_from_main("standin/alpine:3.19")
        site.example("slow")
        site.write("# t\n\n{{ size('fixture-slow') }}\n\n{{ provenance() }}\n")
        since = now()
        built = site.build(docker_host=engine.tcp_host)
        until = now()
        assert built.code == 0, built.output
        entry = built.entry("fixture-slow")
        remote_id = engine.docker("image", "inspect", "--format", "{{.Id}}", "fixture-slow").stdout.strip()
        remote_size = engine.docker("image", "inspect", "--format", "{{.Size}}", "fixture-slow").stdout.strip()
        assert entry["image_id"] == remote_id
        assert entry["size_bytes"] == int(remote_size)
        assert entry["engine"]["host"] == engine.tcp_host, "the record keeps where the engine answered"
        page = built.page()
        assert engine.tcp_host.removeprefix("tcp://") not in page and "tcp://" not in page, "no address in the page"
        # The provenance names the engine as the reader's `docker version` does, and nothing else:
        # not the host name, not Debian's BuildKit placeholder version.
        facts = entry["engine"]
        buildkit = "BuildKit" + (
            "" if facts["buildkit_version"] in ("", "v0.0.0+unknown") else f" {facts['buildkit_version']}"
        )
        expected = (
            f"Docker Engine {facts['version']}, overlay2, {facts['platform']},"
            f" {buildkit} through buildx {facts['builder_version']}"
        )
        assert re.findall(r"<strong>Engine:</strong>\s*([^<]*?)\s*</li>", page) == [expected]
        main_events = docker_client.events(since=since, until=until, filters={"type": "image"}, decode=True)
        assert list(main_events) == [], "nothing is built on the default engine"
        assert container_events(docker_client, since, until) == []
    finally:
        engine.stop()
