"""The builder seam: everything that knows which builder runs the examples' builds.

A builder takes the build context as sent and gives a `Built` (the image, its steps, what
it printed) or raises `BuildFailed` with its own error text and the line of the Dockerfile
it points at; stand-ins are named in that text as the reader's Dockerfile names them. It
also says, for the record, what it is (`stamp`). Nothing above this module knows which
builder ran; another one (Podman, a remote BuildKit) is one more class here and one more
case in `connect_builder`.

There is one today: BuildKit through `docker buildx build`, as readers build. The classic
builder (the docker SDK's builds) was removed: it cannot build two of the chapters'
Dockerfiles (`the --mount option requires BuildKit`), and its listings are not what a
reader's Docker prints.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from .buildkit import BuildKitBuilder, PlainLog, builder_platforms, buildkit_version, buildx_version
from .context import BuildRequest
from .engine import Engine, stopped
from .errors import BuildFailed, EngineUnavailable, LivedocsError
from .imagemap import official_names
from .measurement import EngineFacts, Step
from .units import parse_size

STAGE_REPOSITORY = "livedocs-stage"


def stage_repository(tag: str) -> str:
    """Where a build declared to fail is tagged if it succeeds (then removed)."""
    return f"{STAGE_REPOSITORY}/{tag}"


@dataclass(frozen=True)
class Built:
    image_id: str
    steps: tuple[Step, ...]
    listing: str
    context_bytes: int | None = None  # what BuildKit says it transferred of the build context


class Builder(Protocol):
    name: str

    def build(self, request: BuildRequest) -> Built: ...
    def stamp(self, facts: EngineFacts) -> EngineFacts: ...
    def cancel(self) -> None: ...


class NoBuilder(EngineUnavailable):
    """No builder the examples can be built with answers: nothing can be built on this engine."""


def connect_builder(
    host: str | None, image_map: Mapping[str, str] | Sequence[Mapping[str, str]], engine: Callable[[], Engine]
) -> Builder:
    """BuildKit through `docker buildx`; NoBuilder if the CLI has no buildx plugin."""
    version = buildx_version()
    if version is None:
        raise NoBuilder(
            "`docker buildx version` does not answer: the examples are built with BuildKit, as readers build"
            " them, and the docker CLI here has no buildx plugin (`make engine` installs one)"
        )
    return BuildKit(host, version, image_map, engine)


def platforms_built(host: str | None) -> list[str]:
    """The platforms the engine at `host` can build for: its own and those it emulates."""
    return builder_platforms(host)


class BuildKit:
    """`docker buildx build --progress=plain` on the docker driver."""

    name = "buildkit"

    def __init__(
        self,
        host: str | None,
        version: str,
        image_map: Mapping[str, str] | Sequence[Mapping[str, str]],
        engine: Callable[[], Engine],
    ):
        self.version = version
        self._host = host
        self._buildx = BuildKitBuilder(host)
        # every map a context may be rewritten with: the stand-ins are named as the reader's Dockerfile names them
        self._image_maps = [image_map] if isinstance(image_map, Mapping) else list(image_map)
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
                detail=official_names(failure.detail or "", *self._image_maps),
                line=place[1] if place else None,
            ) from None
        found = self._engine().inspect(request.tag)
        if found is None:
            raise LivedocsError(f"{request.tag} was built but the engine cannot find it")
        steps = tuple(
            Step(
                vertex.number,
                official_names(match["instruction"], *self._image_maps),
                vertex.cached,
                f"{match['stage']} {match['index']}/{match['count']}".strip(),
                vertex.seconds,
            )
            for vertex, match in log.steps()
        )
        sent = log.context_size()
        listing = official_names(log.listing(), *self._image_maps)
        return Built(found.id, steps, listing, parse_size(sent) if sent else None)

    @functools.cached_property
    def buildkit_version(self) -> str:
        """The engine's BuildKit, asked only when a build needs recording (not on a warm build)."""
        return buildkit_version(self._host)

    def stamp(self, facts: EngineFacts) -> EngineFacts:
        """The engine's facts with this builder's, for the record."""
        return replace(facts, builder=self.name, builder_version=self.version, buildkit_version=self.buildkit_version)

    def cancel(self) -> None:
        self._buildx.cancel()
