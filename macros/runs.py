"""Run checks: start an image, ask it over HTTP what a reader's `curl -i` would, and the
engine which user its process runs as (what a reader's `docker top` shows), remove it.

The container is held on a short leash (every capability dropped but those the example
declares, no new privileges, memory, CPU and process limits, no mounts) and its port is
published on 127.0.0.1 only: nothing is sent anywhere but loopback. The engine's side
(create, inspect, top, logs, remove) is `Engine`'s; what to ask and when to give up is here.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .engine import LABEL_RUN, Engine
from .errors import RunFailed
from .measurement import Response

BODY_LIMIT = 64 * 1024
MEMORY = "256m"
CPUS = 1.0
PIDS = 256


@dataclass(frozen=True)
class Answers:
    """What one run check found: the responses by path, and the uid of the container's main process."""

    responses: Mapping[str, Response]
    uid: int


def http_check(
    engine: Engine,
    image: str,
    *,
    port: int,
    paths: Sequence[str],
    timeout: float,
    cap_add: Sequence[str] = (),
    platform: str | None = None,
) -> Answers:
    """Start `image`, wait until `paths[0]` answers on its port, GET each path, ask the engine
    which uid the server runs as (once it answers: it has started as what it runs as), remove it."""
    container = engine.start_container(
        image,
        port=port,
        cap_add=cap_add,
        memory=MEMORY,
        cpus=CPUS,
        pids=PIDS,
        labels={LABEL_RUN: "1"},
        platform=platform,
    )
    try:
        host_port = _wait_for_port(engine, container, port, paths[0], timeout)
        responses = {path: get(host_port, path) for path in paths}
        return Answers(responses, engine.process_uid(container))
    finally:
        engine.remove_container(container)


def _wait_for_port(engine: Engine, container: str, port: int, first_path: str, timeout: float) -> int:
    """The host port, once the container answers a GET of `first_path` there."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        state = engine.container_state(container, port)
        if not state.running:
            raise RunFailed(
                f"the container exited with code {state.exit_code} before answering on port {port}",
                detail=engine.container_tail(container),
            )
        if state.host_port is not None:
            try:
                get(state.host_port, first_path, timeout=1.0)
                return state.host_port
            except (OSError, http.client.HTTPException) as error:
                last_error = str(error) or type(error).__name__
        time.sleep(0.1)
    raise RunFailed(
        f"nothing answered on port {port} within {timeout:g}s ({last_error})",
        detail=engine.container_tail(container),
    )


def get(port: int, path: str, timeout: float = 5.0) -> Response:
    """GET http://127.0.0.1:port/path as `curl -i` does; the answer, its body bounded."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "curl/8.14.1", "Accept": "*/*"})
        response = connection.getresponse()
        body = response.read(BODY_LIMIT).decode("utf-8", "replace")
        return Response(response.status, body, response.reason, tuple(response.getheaders()))
    finally:
        connection.close()
