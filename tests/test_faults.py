"""Faults, interrupts, misbehaving containers and bad input, each for real.

Whatever happens, a build ends in a clear message, leaves the engine as it found it
and never loses or corrupts the recorded figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from macros.units import short_id
from scripts.probes import processes_naming

from .conftest import MKDOCS, TinySite, store_engines
from .engines import SecondEngine
from .helpers import by_store, docker_cli, mkdocs_env

pytestmark = pytest.mark.engine


def leftovers(root: Path) -> list[str]:
    """Temporary files a build may have left behind in the examples."""
    return [
        p.name for p in (root / "examples").iterdir() if p.name.endswith(".tmp") or p.name.startswith(".measurements")
    ]


def start_build(site: TinySite, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MKDOCS, "build", "--strict"],
        cwd=site.root,
        env=mkdocs_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 120) -> str:
    """Read the build's output until a line contains `text`; everything read so far."""
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"never saw {text!r}: {''.join(seen)[-3000:]}")


def finish(process: subprocess.Popen[str], timeout: float) -> tuple[int, str, float]:
    started = time.monotonic()
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output, time.monotonic() - started


def slow_step(seconds: int) -> tuple[str, str]:
    """A PAUSE of about `seconds` for the slow fixture, and the command line of its RUN step's
    `sleep PAUSE`. The fraction is this process's ID: no other build on the machine (another
    test run's, say) sleeps that long, so /proc shows whether this build's step is running."""
    pause = f"{seconds}.{os.getpid()}"
    return pause, f"sleep\0{pause}\0"


def wait_for_step(process: subprocess.Popen[str], step: str, timeout: float = 120) -> None:
    """Wait until the build's RUN step runs: a process whose command line is `step`. BuildKit
    runs a step in a container of its own, which `docker ps` does not list."""
    deadline = time.monotonic() + timeout
    while not processes_naming(step):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the RUN step {step!r} never ran: {process.communicate()[0][-3000:]}")
        time.sleep(0.2)


@pytest.fixture
def second_engine() -> Iterator[SecondEngine]:
    engine = SecondEngine().start()
    engine.load_from_main("standin/alpine:3.19")
    try:
        yield engine
    finally:
        engine.stop()


# -- engine faults -----------------------------------------------------------------


def test_engine_dies_mid_build(site: TinySite, second_engine: SecondEngine) -> None:
    """SIGKILL the engine during a build: one clear message, the record byte for byte unchanged."""
    folder = site.example("slow")
    site.write("# t\n{{ size('fixture-slow') }}\n")
    first = site.build(docker_host=second_engine.unix_host)
    assert first.code == 0, first.output
    record = (site.root / "examples" / "measurements.json").read_bytes()

    pause, step = slow_step(60)
    (folder / "livedocs.yml").write_text(f"images:\n  fixture-slow:\n    build_args: {{PAUSE: '{pause}'}}\n")
    process = start_build(site, DOCKER_HOST=second_engine.unix_host)
    head = wait_for_line(process, "building fixture-slow")
    wait_for_step(process, step)  # the engine dies with the RUN step under way
    second_engine.kill()
    code, tail, _ = finish(process, timeout=90)
    output = head + tail
    assert code == 1, output
    assert "the engine at unix://" in output and "stopped answering during a build" in output
    assert "Traceback" not in output
    assert (site.root / "examples" / "measurements.json").read_bytes() == record
    assert leftovers(site.root) == []


def test_engine_answers_slowly(site: TinySite, second_engine: SecondEngine) -> None:
    """A frozen engine: auto mode replays after the timeout with a notice; live mode stops with one line."""
    site.example("slow")
    site.write("# t\n{{ size('fixture-slow') }}\n")
    assert site.build(docker_host=second_engine.unix_host).code == 0
    record = (site.root / "examples" / "measurements.json").read_bytes()
    second_engine.freeze()
    try:
        env = {"DOCKER_HOST": second_engine.unix_host, "LIVEDOCS_ENGINE_TIMEOUT": "3"}
        code, output, seconds = finish(start_build(site, **env), timeout=120)
        assert code == 0, output
        assert "livedocs: no Docker engine answers at" in output and "showing the figures recorded" in output
        assert seconds < 60

        code, output, _ = finish(start_build(site, **env, LIVEDOCS_ENGINE="live"), timeout=120)
        assert code == 1
        assert "LIVEDOCS_ENGINE=live, but no Docker engine answers at" in output
        assert "Traceback" not in output
    finally:
        second_engine.thaw()
    assert (site.root / "examples" / "measurements.json").read_bytes() == record


# -- interrupts --------------------------------------------------------------------


def containers(client: docker.DockerClient) -> set[str]:
    # `sparse`: IDs only, no inspect of each (a container removed meanwhile would be a 404)
    return {c.id for c in client.containers.list(all=True, sparse=True)}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_a_build(site: TinySite, docker_client: docker.DockerClient, signum: int) -> None:
    """The process exits promptly; the build's running step is stopped and its container gone; nothing is written."""
    folder = site.example("slow")
    pause, step = slow_step(90 + signum)
    (folder / "livedocs.yml").write_text(f"images:\n  fixture-slow:\n    build_args: {{PAUSE: '{pause}'}}\n")
    site.write("# t\n{{ size('fixture-slow') }}\n")
    before = containers(docker_client)
    process = start_build(site)
    wait_for_line(process, "building fixture-slow")
    wait_for_step(process, step)  # the RUN step's container is running now
    process.send_signal(signum)
    code, output, seconds = finish(process, timeout=60)
    assert code != 0, output
    assert seconds < 20, f"took {seconds:.1f}s to stop"
    deadline = time.monotonic() + 20
    while (processes_naming(step) or containers(docker_client) - before) and time.monotonic() < deadline:
        time.sleep(0.5)  # the engine stops a cancelled build's step and removes its container
    assert processes_naming(step) == [], "the RUN step still runs after the build was interrupted"
    assert containers(docker_client) - before == set()
    assert not (site.root / "examples" / "measurements.json").exists()
    assert leftovers(site.root) == []


def test_interrupt_during_a_run_check(site: TinySite, docker_client: docker.DockerClient) -> None:
    """SIGINT while waiting for a container's port: the container is removed."""
    site.example("misbehave")
    site.write("# t\n{{ response('fixture-slowport', '/') }}\n")
    before = containers(docker_client)
    process = start_build(site)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = docker_client.containers.list(filters={"label": "org.livedocs.run"})
        if running:
            break
        time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the run check never started its container")
    process.send_signal(signal.SIGINT)
    code, _, seconds = finish(process, timeout=60)
    assert code != 0
    assert seconds < 15
    assert containers(docker_client) - before == set()


# -- containers that misbehave -----------------------------------------------------


def test_container_that_never_opens_its_port(site: TinySite) -> None:
    site.example("misbehave")
    site.write("# t\n{{ response('fixture-silent', '/') }}\n")
    built = site.build()
    assert built.code == 1
    assert "run check of fixture-silent failed: nothing answered on port 8080 within 3s" in built.output
    assert "starting, but listening nowhere" in built.output, "the container's last log lines are shown"


def test_container_that_exits_at_once(site: TinySite) -> None:
    site.example("misbehave")
    site.write("# t\n{{ response('fixture-quits', '/') }}\n")
    built = site.build()
    assert built.code == 1
    assert "the container exited with code 3 before answering on port 8080" in built.output
    assert "fatal: configuration file /etc/app.conf not found" in built.output


def test_container_that_floods_its_output(site: TinySite) -> None:
    """Only the last lines of a flood reach the message."""
    site.example("misbehave")
    site.write("# t\n{{ response('fixture-flood', '/') }}\n")
    built = site.build()
    assert built.code == 1
    assert "nothing answered on port 8080 within 4s" in built.output
    assert built.output.count("flooding the log") < 100
    assert len(built.output) < 100_000


def test_run_checks_are_on_a_short_leash(site: TinySite) -> None:
    """No capabilities, no new privileges, memory and process limits, no mounts: none but
    those the engine gives every container (its root, /proc, /dev, /sys, and the files
    /etc/hosts, /etc/hostname and /etc/resolv.conf), so no volume, bind or tmpfs."""
    site.example("misbehave")
    site.write("# t\n{{ response('fixture-leash', '/') }}\n")
    built = site.build()
    assert built.code == 0, built.output
    body = built.entry("fixture-leash")["responses"]["/"]["body"]
    assert "CapEff:\t0000000000000000" in body
    assert "NoNewPrivs:\t1" in body
    assert "memory 268435456" in body
    assert "pids 256" in body
    points = [line.removeprefix("mount ") for line in body.splitlines() if line.startswith("mount ")]
    assert "/" in points and "/proc" in points, f"the container lists its mount points: {body}"
    every_container = {"/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
    own = [p for p in points if p not in every_container and p.split("/")[1] not in ("proc", "dev", "sys")]
    assert own == [], f"the run check's container has mounts of its own: {own}"


# -- two builds at once ------------------------------------------------------------


def test_two_builds_at_once(site: TinySite) -> None:
    """Both end correctly; the record is valid JSON with the engine's figures."""
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }} {{ response('fixture-hello', '/') }}\n")
    first, second = start_build(site), start_build(site)
    results = [finish(first, timeout=300), finish(second, timeout=300)]
    for code, output, _ in results:
        assert code == 0, output
    record = json.loads((site.root / "examples" / "measurements.json").read_text())
    size = docker_cli("image", "inspect", "--format", "{{.Size}}", "fixture-hello")
    assert by_store(record["images"])["fixture-hello"]["overlay2"]["size_bytes"] == int(size)
    assert leftovers(site.root) == []


@pytest.mark.parametrize("layout", ["one checkout", "two clones"])
def test_two_cold_builds_at_once_on_both_stores_both_come_out_true(site: TinySite, tmp_path: Path, layout: str) -> None:
    """Two processes build the same examples at once, cold (a nonce no cache has seen), on both
    stores, from one checkout or from two clones: both end 0 and their pages show the same figures,
    the engine's own. (Before the per-engine lock, the second build replaced the first's image,
    whose run check then failed: "no longer in the engine".)"""
    engines = store_engines("containerd", "overlay2")
    example = site.example("hello")
    nonce = f"hello from a fixture, {uuid.uuid4()}"
    (example / "message.txt").write_text(nonce + "\n")
    site.write(
        "# t\n{{ size('fixture-hello') }} {{ image_id('fixture-hello') }}\n\n{{ response('fixture-hello', '/') }}\n"
    )
    roots = [site.root, site.root]
    if layout == "two clones":
        roots[1] = tmp_path / "clone"
        shutil.copytree(site.root, roots[1], symlinks=True)
    env = mkdocs_env(LIVEDOCS_ENGINES=",".join(engines.values()), SOURCE_DATE_EPOCH="1700000000")  # MkDocs' stamp
    builds = [
        subprocess.Popen(
            [MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / f"site-{n}")],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for n, root in enumerate(roots)
    ]  # fmt: skip
    results = [finish(build, timeout=600) for build in builds]
    for code, output, _ in results:
        assert code == 0, output
    built = sum(output.count("livedocs: built fixture-hello in") for _, output, _ in results)
    assert built == 2, "the image was built once per store, not once per build"
    pages = [(tmp_path / f"site-{n}" / "index.html").read_text() for n in range(2)]
    # the sizes and image IDs (each build asked the container itself: its HTTP dates are its own)
    figures = [re.search(r"</h1>\s*<p>(.*?)</p>", page, re.S) for page in pages]
    assert all(figures) and figures[0].group(1) == figures[1].group(1), "both builds show the same figures"  # type: ignore[union-attr]
    assert all(nonce in page for page in pages), "both pages show the container's answer"
    for store, host in engines.items():
        image_id = docker_cli("image", "inspect", "--format", "{{.Id}}", "fixture-hello", host=host)
        for root in dict.fromkeys(roots):
            record = json.loads((root / "examples" / "measurements.json").read_text())
            assert by_store(record["images"])["fixture-hello"][store]["image_id"] == image_id, (layout, store)
        assert short_id(image_id) in pages[0]


# -- bad input ---------------------------------------------------------------------


def test_corrupted_record_is_reported_and_left_alone(site: TinySite) -> None:
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }}\n")
    broken = '{"schema": 2, "images": {"fixture-hello": {"overlay2": {"size_bytes": 12'
    (site.root / "examples" / "measurements.json").write_text(broken)
    built = site.build()
    assert built.code == 1
    assert "examples/measurements.json:1: cannot read the recorded figures" in built.output
    assert "Traceback" not in built.output
    assert (site.root / "examples" / "measurements.json").read_text() == broken


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("golang: [1, 2\n", "not valid YAML"),
        ("- alpine:3.19\n", "expected lines of the form"),
    ],
)
def test_bad_image_map(site: TinySite, tmp_path: Path, content: str | None, message: str) -> None:
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }}\n")
    image_map = tmp_path / "map.yml"
    if content is not None:
        image_map.write_text(content)
    code, output, _ = finish(start_build(site, LIVEDOCS_IMAGE_MAP=str(image_map)), timeout=120)
    assert code == 1
    assert f"LIVEDOCS_IMAGE_MAP={image_map}: {message}" in output
    assert "Traceback" not in output
