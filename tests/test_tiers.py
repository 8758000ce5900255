"""The quick tier cannot hold an engine test: the guard in conftest.py is run on tests made to break it.

An inner pytest, with this project's conftest.py as a plugin and its pyproject.toml, runs tests
that are not marked `engine` but open the engine's socket (in the process, and from a child
through DOCKER_HOST), and one that asks for an engine fixture: each fails, saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import REPO
from .helpers import run_tool

PROBES = """\
import socket
import subprocess
import sys

import docker
import pytest


def test_sdk_opens_the_engine_socket():
    docker.DockerClient(base_url="unix:///var/run/docker.sock").ping()


def test_a_child_opens_docker_host():
    code = "import os, socket; s = socket.socket(socket.AF_UNIX); s.connect(os.environ['DOCKER_HOST'][7:])"
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)


def test_loopback_http_needs_the_network_marker():
    with socket.socket() as s:
        s.connect_ex(("127.0.0.1", 9))


def test_pure():
    assert sum([1, 1]) == 2
"""


def inner_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    inner = ["-p", "tests.conftest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(folder)]
    return run_tool([sys.executable, "-m", "pytest", *inner, "-p", "no:cacheprovider", "-q", "-rA", *args], env, 300)


def test_a_quick_test_that_opens_a_socket_fails(tmp_path: Path) -> None:
    (tmp_path / "test_probes.py").write_text(PROBES)
    done = inner_pytest(tmp_path, str(tmp_path / "test_probes.py"))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    opened = "is not marked engine but opened a socket"
    assert f"test_sdk_opens_the_engine_socket {opened}: connect('/var/run/docker.sock')" in output
    assert f"test_a_child_opens_docker_host {opened}: a child process connected to DOCKER_HOST" in output
    assert f"test_loopback_http_needs_the_network_marker {opened}: connect(('127.0.0.1', 9))" in output
    assert re.search(r"^PASSED \S*test_probes\.py::test_pure$", output, re.M), output


def test_an_engine_fixture_in_an_unmarked_test_stops_the_collection(tmp_path: Path) -> None:
    (tmp_path / "test_fixture.py").write_text(
        textwrap.dedent(
            """\
            def test_asks_for_the_engine(docker_client):
                pass
            """
        )
    )
    done = inner_pytest(tmp_path, "-m", "not engine", str(tmp_path / "test_fixture.py"))
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "tests that need an engine but are not marked engine:" in output
    assert "test_fixture.py::test_asks_for_the_engine uses docker_client" in output
