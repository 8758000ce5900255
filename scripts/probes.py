"""Small looks at this machine and its engines, shared by the tests and scripts/bench.py.

Outside tests/, so that the benchmark imports neither the tests nor pytest.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import docker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def processes_naming(text: str) -> list[int]:
    """The IDs of the processes whose command line contains `text` (arguments are separated
    by NUL characters there), this process aside: e.g. what still runs from an engine's folder."""
    wanted = text.encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):  # a process that ended meanwhile
            if wanted in (entry / "cmdline").read_bytes() and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def container_events(client: docker.DockerClient, since: float, until: float) -> list[str]:
    """Container events the engine saw between two moments (e.g. create, start)."""
    events = client.events(since=since, until=until, filters={"type": "container"}, decode=True)
    return [f"{e.get('Action')} {e.get('from', '')}" for e in events]
