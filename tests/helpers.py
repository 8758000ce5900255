"""What several test modules do alike, written once: the environment of an mkdocs child and
the docker CLI. Fixtures are in conftest.py; a throwaway engine in engines.py (the harness's,
scripts/harness/, which the benchmark uses too); free ports, the scan of /proc for what is
left of an engine and its container events in scripts/probes.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE_MAP = REPO / "tests" / "standins" / "image-map.yml"


def run_tool(command: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A tool a test runs from the repository's root with `env`: its exit code and text output."""
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def mkdocs_env(**extra: str) -> dict[str, str]:
    """The environment of an mkdocs child of a test: this process's, with the stand-ins' image
    map and no mkdocs 2 notice, then `extra`. LIVEDOCS_ENGINE only if `extra` sets it: the
    caller's own would change the mode of every build in the run."""
    env = {**os.environ, "LIVEDOCS_IMAGE_MAP": str(IMAGE_MAP), "NO_MKDOCS_2_WARNING": "1"}
    env.pop("LIVEDOCS_ENGINE", None)
    env.update(extra)
    return env


def docker_cli(*args: str, host: str | None = None, timeout: float = 300) -> str:
    """What `docker [-H host] ARGS` prints, stripped; its failure fails the test with docker's own message."""
    command = ["docker", *(["-H", host] if host else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr.strip()}"
    return done.stdout.strip()


AMD64 = "linux/amd64"  # the platform the tests build on: this machine's, and the pages' first


def by_store(images: dict, platform: str = AMD64) -> dict[str, dict[str, dict]]:
    """A record's `images` as {tag: {store: entry}}, the figures of one platform: by default
    linux/amd64, the one the tests build on (the record may hold others, replayed, beside it).
    Every store an image has figures on has this platform's (asserted)."""
    flat: dict[str, dict[str, dict]] = {}
    for tag, stores in images.items():
        flat[tag] = {}
        for store, platforms in stores.items():
            assert platform in platforms, f"{tag} on {store}: no {platform} figures, only {sorted(platforms)}"
            flat[tag][store] = platforms[platform]
    return flat
