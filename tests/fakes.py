"""A `Facts` given by hand, for the pure tests of claims, pages and renderers.

Nothing here stands in for an engine in a test that claims to test one: the engine
tests build and run for real. These figures only feed the functions that format and
check them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from macros.errors import LivedocsError
from macros.measurement import BaseImage, EngineFacts, LayerEntry, Measurement, Response, Step

ENGINE = EngineFacts("28.5.2", "1.51", "overlay2", "linux/amd64", "classic", "ID", "vm", "unix:///var/run/docker.sock")
GO = BaseImage("standin/golang:1.21-alpine3.19", "sha256:" + "a" * 64, True)
ALPINE = BaseImage("standin/alpine:3.19", "sha256:" + "b" * 64, True)


def image(
    size: int,
    *,
    layers: int = 3,
    cached: tuple[bool, ...] = (),
    responses: Mapping[str, Response] = (),
    seconds: float = 1.0,
    uid: int | None = None,
    platform: str = "linux/amd64",
) -> Measurement:
    """An image measurement: `size` bytes, `layers` layers, steps cached as given, each run one taking
    `seconds`, built for `platform` (an engine of that platform)."""
    steps = [Step(1, "FROM standin/golang:1.21-alpine3.19 AS build", False)]
    steps += [
        Step(n, f"RUN step {n}", hit, f"build {n}/9", 0.0 if hit else seconds) for n, hit in enumerate(cached, start=2)
    ]
    return Measurement(
        key="k",
        example="go-app",
        dockerfile="examples/go-app/Dockerfile",
        base_images={"golang:1.21-alpine3.19": GO, "alpine:3.19": ALPINE},
        engine=replace(ENGINE, platform=platform),
        measured_at="2026-11-27T12:00:00Z",
        size_bytes=size,
        image_id="sha256:" + f"{size:012x}" + "0" * 52,
        created="2026-11-27T11:00:00Z",
        layers=tuple(LayerEntry(f"/bin/sh -c layer {n}", size // layers, n == layers - 1) for n in range(layers)),
        steps=tuple(steps),
        responses=dict(responses),
        process_uid=uid,
        context_bytes=2050,
    )


def failure(error: str) -> Measurement:
    return Measurement(
        key="k",
        example="go-app",
        dockerfile="examples/go-app/Dockerfile.typo-stage",
        base_images={"golang:1.21-alpine3.19": GO},
        engine=ENGINE,
        measured_at="2026-11-27T12:00:00Z",
        error=error,
        failed_line=7,
    )


class FakeFacts:
    """Measurements by tag; unknown tags fail as the real sources do."""

    def __init__(
        self,
        measurements: Mapping[str, Measurement],
        notice: str | None = None,
        problems: Mapping[str, LivedocsError] | None = None,
        store: str = "overlay2",
        platform: str = "linux/amd64",
    ) -> None:
        self.store = store
        self.platform = platform
        self.measurements = dict(measurements)
        self.notice = notice
        self.problems = dict(problems or {})
        self.stale: dict[str, str] = {}

    def measurement(self, tag: str) -> Measurement:
        if tag in self.problems:
            raise self.problems[tag]
        if tag not in self.measurements:
            raise LivedocsError(f"unknown image {tag!r}")
        return self.measurements[tag]

    def response(self, tag: str, path: str) -> Response:
        found = self.measurement(tag).responses.get(path)
        if found is None:
            raise LivedocsError(f"no recorded response of {tag} to GET {path}")
        return found

    def process_uid(self, tag: str) -> int:
        found = self.measurement(tag).process_uid
        if found is None:
            raise LivedocsError(f"no recorded process uid of {tag}")
        return found


def chapter_facts() -> FakeFacts:
    """The chapter's images, with figures of the size the stand-ins give."""
    welcome = {"/": Response(200, "<h1>Welcome</h1>"), "/app": Response(404, "404 page not found\n")}
    return FakeFacts(
        {
            "go-app-single": image(269_000_000),
            "go-app-multi": image(8_700_000, uid=0),
            "go-app-scratch": image(6_500_000, uid=65532),
            "go-app-static": image(9_000_000, responses=welcome),
            "deps-first-edited": image(8_700_000, cached=(True, True, True, True, False, False), seconds=0.5),
            "copy-all-edited": image(8_700_000, cached=(True, True, False, False, False, False), seconds=17.2),
            "typo-stage": failure(
                "Step 3/3 : COPY --from=bulider /app/myapp .\ninvalid from flag value bulider: pull access denied"
            ),
        }
    )
