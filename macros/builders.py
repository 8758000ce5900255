"""The builder seam: BuildKit (what readers run) or the classic builder (a fallback).

Both take the build context as sent and give a `Built` (the image, its steps, what the
builder printed) or raise `BuildFailed` with the builder's own error text and the line of
the Dockerfile it points at. Stand-ins are named in that text as the reader's Dockerfile
names them. Nothing above this module knows which builder ran; another one (Podman, a
remote BuildKit) is one more class here.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .buildkit import BuildKitBuilder, PlainLog, buildkit_version
from .buildlog import BuildLog
from .context import BuildRequest
from .dockerfile import step_line
from .engine import Engine, stopped
from .errors import BuildFailed, EngineUnavailable, LivedocsError
from .imagemap import official_names
from .measurement import Step
from .units import parse_size

STAGE_REPOSITORY = "livedocs-stage"


def stage_repository(tag: str) -> str:
    """Where the classic builder's earlier stages of `tag` are kept, and BuildKit's unexpected successes."""
    return f"{STAGE_REPOSITORY}/{tag}"


@dataclass(frozen=True)
class Built:
    image_id: str
    steps: tuple[Step, ...]
    listing: str
    context_bytes: int | None = None  # what BuildKit says it transferred of the build context


class Builder(Protocol):
    name: str
    version: str  # buildx's
    buildkit_version: str
    # The classic builder picks the newest matching layer: an edited variant must find its
    # base image's layers newest, so that image is built again (from the cache) first.
    rewarms_before_edits: bool

    def build(self, request: BuildRequest) -> Built: ...
    def forget_stages(self, tag: str) -> None: ...
    def cancel(self) -> None: ...


class BuildKit:
    """`docker buildx build --progress=plain` on the docker driver."""

    name = "buildkit"
    rewarms_before_edits = False

    def __init__(self, host: str | None, version: str, image_map: Mapping[str, str], engine: Callable[[], Engine]):
        self.version = version
        self._host = host
        self._buildx = BuildKitBuilder(host)
        self._image_map = image_map
        self._engine = engine

    def build(self, request: BuildRequest) -> Built:
        log = PlainLog()
        try:
            self._buildx.build(request, log)
        except BuildFailed as failure:
            try:
                alive = self._engine().answers()
            except EngineUnavailable:  # this thread had not connected yet, and now cannot
                alive = False
            if not alive:  # not the example's fault: the engine went away
                last = (failure.detail or "").strip().splitlines()[-1:] or ["no output"]
                raise stopped(self._host, last[0], " during a build") from None
            place = log.failed_place()
            raise BuildFailed(
                "the build failed",
                detail=official_names(failure.detail or "", self._image_map),
                line=place[1] if place else None,
            ) from None
        found = self._engine().inspect(request.tag)
        if found is None:
            raise LivedocsError(f"{request.tag} was built but the engine cannot find it")
        steps = tuple(
            Step(
                vertex.number,
                official_names(match["instruction"], self._image_map),
                vertex.cached,
                f"{match['stage']} {match['index']}/{match['count']}".strip(),
                vertex.seconds,
            )
            for vertex, match in log.steps()
        )
        sent = log.context_size()
        listing = official_names(log.listing(), self._image_map)
        return Built(found.id, steps, listing, parse_size(sent) if sent else None)

    @functools.cached_property
    def buildkit_version(self) -> str:
        """The engine's BuildKit, asked only when a build needs recording (not on a warm build)."""
        return buildkit_version(self._host)

    def forget_stages(self, tag: str) -> None:
        """BuildKit keeps no stage images; its cache is its own."""

    def cancel(self) -> None:
        self._buildx.cancel()


class Classic:
    """The classic builder through the docker SDK: deprecated, kept for engines without buildx."""

    name = "classic"
    version = ""
    buildkit_version = ""
    rewarms_before_edits = True

    def __init__(self, host: str | None, engine: Callable[[], Engine], image_map: Mapping[str, str]) -> None:
        self._host = host
        self._engine = engine
        self._image_map = image_map
        self._in_flight: list[BuildLog] = []
        self._lock = threading.Lock()

    def build(self, request: BuildRequest) -> Built:
        log = BuildLog()
        with self._lock:
            self._in_flight.append(log)
        try:
            image_id, log = self._engine().build(request, log)
        except BuildFailed as failure:
            step = failure.build_log.last_step if failure.build_log else None
            raise BuildFailed(
                "the build failed" + (f" at step {step}" if step else ""),
                detail=official_names(failure.detail or "", self._image_map),
                line=step_line(request.context.dockerfile_text, step) if step else None,
            ) from None
        finally:
            with self._lock:
                self._in_flight.remove(log)
        self._keep_stages(request.tag, log.stages[:-1])
        steps = tuple(Step(n, official_names(text, self._image_map), cached) for n, text, cached in log.steps)
        return Built(image_id, steps, official_names("\n".join(log.lines), self._image_map))

    def _keep_stages(self, tag: str, stages: list[str | None]) -> None:
        """Tag the results of a multi-stage build's earlier stages as `livedocs-stage/<tag>:<n>`.

        The classic builder leaves them untagged (dangling); tagged, they are this site's
        layer cache, named for what they are, and a later build of the same stages (an
        edited variant built `after:` this one) finds them in the cache.
        """
        engine = self._engine()
        repository = stage_repository(tag)
        for number, image_id in enumerate(stages):
            if image_id is None:
                continue
            old = engine.inspect(f"{repository}:{number}")
            engine.tag(image_id, repository, str(number))
            if old is not None and not old.id.startswith(f"sha256:{image_id}"):
                engine.remove_if_dangling(old.id)

    def forget_stages(self, tag: str) -> None:
        engine = self._engine()
        for ref in engine.tags_in(stage_repository(tag)):
            engine.remove_image(ref)

    def cancel(self) -> None:
        """After an interrupt: remove the containers and images the cancelled builds had made."""
        with self._lock:
            logs = list(self._in_flight)
        if not logs:
            return
        try:
            cleaner = Engine.connect(self._host, timeout=5)
        except LivedocsError:
            return
        try:
            deadline = time.monotonic() + 10
            for log in logs:
                for container_id in log.containers:  # the step that was running when cancelled
                    cleaner.remove_container(container_id)
                for image_id in reversed(log.created):
                    # the engine may still be removing the cancelled step's container
                    while cleaner.inspect(image_id) is not None and time.monotonic() < deadline:
                        cleaner.remove_image(image_id)
                        if cleaner.inspect(image_id) is not None:
                            time.sleep(0.2)
        finally:
            cleaner.close()
