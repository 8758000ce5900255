"""linux/arm64 on an amd64 machine, under emulation (`make engine` registers QEMU, `make standins`
builds the arm64 stand-ins): on both stores, BuildKit runs an arm64 RUN step, the image it makes
is an arm64 image, and the arm64 Go stand-in's toolchain runs. Small fixtures only: no Go
compile under emulation here (the chapters' arm64 figures come from the record)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from macros.imagemap import load_image_map

from .conftest import store_engines
from .helpers import REPO
from .helpers import docker_cli as cli

pytestmark = pytest.mark.engine

ARM64_MAP = REPO / "tests" / "standins" / "image-map.linux-arm64.yml"
STORES = ["containerd", "overlay2"]


def arm64_map() -> dict[str, str]:
    return load_image_map(REPO, str(ARM64_MAP))


def emulated(address: str) -> None:
    """The engine's BuildKit builds for linux/arm64: natively on an arm64 machine, else under
    emulation, which `make engine` registers (QEMU); a failure where it does not."""
    inspect = cli("-H", address, "buildx", "inspect")
    listed = next((line for line in inspect.splitlines() if line.startswith("Platforms:")), "")
    if "linux/arm64" not in listed:
        pytest.fail(
            f"the engine at {address} does not build for linux/arm64 ({listed or 'no Platforms line'}):"
            " `make engine` registers QEMU (as root)"
        )


@pytest.mark.parametrize("store", STORES)
def test_an_arm64_run_step_runs_under_emulation_and_makes_an_arm64_image(store: str, tmp_path: Path) -> None:
    """`FROM` the arm64 alpine stand-in, `--platform linux/arm64`, `RUN uname -m > /arch`: the
    step ran as aarch64 and the image is an arm64 one."""
    address = store_engines(store)[store]
    emulated(address)
    base = arm64_map()["alpine:3.19"]
    assert cli("-H", address, "image", "inspect", "--format", "{{.Architecture}}", base) == "arm64"
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nRUN uname -m > /arch\n")
    tag = f"fixture-arm64-uname-{os.getpid()}"
    try:
        command = ["docker", "-H", address, "buildx", "build", "--progress=plain", "--platform", "linux/arm64"]
        done = subprocess.run(
            [*command, "-t", tag, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "RUN uname -m > /arch" in done.stderr
        assert cli("-H", address, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", tag) == "linux/arm64"
        arch = cli("-H", address, "run", "--rm", "--platform", "linux/arm64", "--network", "none", tag, "cat", "/arch")
        assert arch == "aarch64"
    finally:
        subprocess.run(["docker", "-H", address, "image", "rm", "-f", tag], capture_output=True, check=False)


@pytest.mark.parametrize("store", STORES)
def test_the_arm64_go_standin_runs_its_arm64_toolchain(store: str) -> None:
    """`go version` in the arm64 Go stand-in, under emulation, names linux/arm64 (and the stand-in
    is labelled as one, never an official name)."""
    address = store_engines(store)[store]
    emulated(address)
    golang = arm64_map()["golang:1.21-alpine3.19"]
    assert not golang.startswith(("golang:", "docker.io/library/"))
    label = '{{ index .Config.Labels "org.livedocs.standin" }}'
    assert cli("-H", address, "image", "inspect", "--format", label, golang) == "golang:1.21-alpine3.19"
    said = cli("-H", address, "run", "--rm", "--platform", "linux/arm64", "--network", "none", golang, "go", "version")
    assert said == "go version go1.21.13 linux/arm64"


def test_the_containerd_store_holds_both_platforms_under_one_standin_tag() -> None:
    """On the containerd store the usual stand-in tags hold linux/amd64 and linux/arm64 (overlay2
    holds one platform per tag: the -arm64 tags of image-map.linux-arm64.yml)."""
    address = store_engines("containerd")["containerd"]
    emulated(address)
    for standin in load_image_map(REPO, str(REPO / "tests" / "standins" / "image-map.yml")).values():
        for arch in ("amd64", "arm64"):
            inspect = ["image", "inspect", "--platform", f"linux/{arch}", "--format", "{{.Architecture}}"]
            shown = cli("-H", address, *inspect, standin)
            assert shown == arch, standin
