"""What was measured of one image: the typed record entry, from the engine to the pages.

A `Measurement` is made by the live source, kept in the record (`examples/measurements.json`,
through `to_json` / `from_json`, whose JSON shape is the file's), and read by the
pages, the renderers and the claims as attributes. An image declared `expect: failure`
has an `error` and no size; every other one has a size, layers and build steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import LivedocsError

# The LABEL steps and layers the classic builder (no longer used) added to every image: records
# made with it list them; BuildKit sets the labels with no step.
SITE_LABELS = ("LABEL org.livedocs.",)
DEFAULT_PLATFORM = "linux/amd64"  # what a record entry made before platforms were recorded was built for


def is_site_label(instruction: str) -> bool:
    return instruction.replace("/bin/sh -c #(nop)", "").strip().startswith(SITE_LABELS)


@dataclass(frozen=True)
class BaseImage:
    ref: str  # what the build used (a stand-in's reference, offline)
    id: str
    standin: bool

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "id": self.id, "standin": self.standin}


@dataclass(frozen=True)
class EngineFacts:
    version: str
    api_version: str
    storage_driver: str
    platform: str
    builder: str  # "buildkit" ("classic" in records made before it was removed); "" until a builder stamps it
    engine_id: str = ""
    name: str = ""
    host: str = ""
    store: str = ""  # the image store: "containerd" or the graph driver ("overlay2")
    builder_version: str = ""  # buildx's version, for BuildKit
    buildkit_version: str = ""  # the engine's BuildKit, as `docker buildx inspect` reports it
    # built for `platform` under emulation on a machine of this platform (LIVEDOCS_PLATFORMS):
    # sizes and IDs are the platform's, durations the emulator's
    emulated_on: str = ""

    def to_json(self) -> dict[str, str]:
        data = {
            "version": self.version,
            "api_version": self.api_version,
            "storage_driver": self.storage_driver,
            "platform": self.platform,
            "builder": self.builder,
            "engine_id": self.engine_id,
            "name": self.name,
            "host": self.host,
        }
        if self.store:
            data["store"] = self.store
        if self.builder_version:
            data["builder_version"] = self.builder_version
        if self.buildkit_version:
            data["buildkit_version"] = self.buildkit_version
        if self.emulated_on:
            data["emulated_on"] = self.emulated_on
        return data


@dataclass(frozen=True)
class LayerEntry:
    created_by: str
    size_bytes: int
    base: bool  # part of a base image, not of this Dockerfile

    def to_json(self) -> dict[str, Any]:
        return {"created_by": self.created_by, "size_bytes": self.size_bytes, "base": self.base}


@dataclass(frozen=True)
class Step:
    step: int  # the builder's number: `Step N/M` (classic) or `#N` (BuildKit)
    instruction: str  # as the Dockerfile has it: `COPY go.mod main.go ./`
    cached: bool
    label: str = ""  # BuildKit's `build 3/4`
    seconds: float | None = None  # BuildKit's `DONE 0.4s`

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step, "instruction": self.instruction, "cached": self.cached}
        if self.label:
            data["label"] = self.label
        if self.seconds is not None:
            data["seconds"] = self.seconds
        return data


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    reason: str = ""  # "OK", as the status line says it
    headers: tuple[tuple[str, str], ...] = ()  # in the order the server sent them

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "body": self.body}
        if self.reason:
            data["reason"] = self.reason
        if self.headers:
            data["headers"] = [list(pair) for pair in self.headers]
        return data

    def curl(self, path: str) -> str:
        """What `curl -i http://127.0.0.1:8080<path>` prints for this answer."""
        lines = [f"HTTP/1.1 {self.status} {self.reason}".rstrip(), *(f"{k}: {v}" for k, v in self.headers)]
        return "\n".join([f"$ curl -i http://127.0.0.1:8080{path}", *lines, "", self.body])


@dataclass(frozen=True)
class PlatformRow:
    """One platform of an image as Docker 29's `docker images --tree` lists it under the tag:
    the containerd image store keeps an index whose manifests are one image per platform."""

    platform: str  # linux/arm64
    image_id: str  # the platform's manifest digest
    disk_bytes: int  # DISK USAGE: its content and, once unpacked, its snapshots
    content_bytes: int  # CONTENT SIZE: its compressed content
    available: bool = True  # its content is all in the store

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "image_id": self.image_id,
            "disk_bytes": self.disk_bytes,
            "content_bytes": self.content_bytes,
            "available": self.available,
        }


@dataclass(frozen=True)
class Measurement:
    key: str  # the cache key the image was built with
    example: str
    dockerfile: str  # repository-relative
    base_images: Mapping[str, BaseImage]  # by the name the Dockerfile uses
    engine: EngineFacts | None
    measured_at: str
    # an image
    size_bytes: int | None = None
    image_id: str = ""
    created: str = ""
    layers: tuple[LayerEntry, ...] = ()  # newest first, as `docker history` lists them
    steps: tuple[Step, ...] = ()
    listing: str = ""  # what the builder printed, as the reader's own build prints it
    context_bytes: int | None = None  # BuildKit's `transferring context: 2.05kB`, in bytes
    content_size_bytes: int | None = None  # containerd store: `docker images --tree` CONTENT SIZE
    responses: Mapping[str, Response] = field(default_factory=dict)
    process_uid: int | None = None  # a run check's: the uid its main process ran as (`docker top`)
    # each declared secret (`secrets:` in livedocs.yml): how many of the image's layers hold a
    # file containing its bytes, counted in the image as `docker save` exports it
    secret_layers: Mapping[str, int] = field(default_factory=dict)
    image_platform: str = ""  # `docker image inspect`'s Os/Architecture[/Variant]: linux/arm64
    media_type: str = ""  # the containerd store's descriptor: an OCI index or a manifest ("" on overlay2)
    platform_rows: tuple[PlatformRow, ...] = ()  # the containerd store's rows under the tag, per platform
    # a build meant to fail
    error: str | None = None
    failed_line: int | None = None
    # what the example's folder held when measured, as the reader has it (no image map):
    # a replay whose example has changed since says its figures are older than the page
    sources: str = ""
    # its livedocs.yml's outcome per image store (`expect: {overlay2: failure}`): store -> fails there
    expect_by_store: Mapping[str, bool] = field(default_factory=dict)

    @property
    def varies_by_store(self) -> bool:
        """Whether its build fails on some image stores and builds on others, as declared."""
        return bool(self.expect_by_store)

    def stores_where(self, fails: bool) -> str | None:
        """The first store (by name) where the build fails (`fails`) or builds, as declared."""
        return next((store for store, outcome in sorted(self.expect_by_store.items()) if outcome == fails), None)

    @property
    def expect_failure(self) -> bool:
        return self.error is not None

    @property
    def platform(self) -> str:
        """The platform the image was built for: the engine's own (`docker version`'s OS/Arch)."""
        return (self.engine.platform if self.engine is not None else "") or DEFAULT_PLATFORM

    def with_run(self, responses: Mapping[str, Response], process_uid: int) -> Measurement:
        """This measurement with what a run check found added."""
        return replace(self, responses={**self.responses, **responses}, process_uid=process_uid)

    def own_steps(self) -> list[Step]:
        """The Dockerfile's steps as the builder ran them (this site's labels left out)."""
        return [s for s in self.steps if not is_site_label(s.instruction)]

    def cached_steps(self) -> tuple[int, int]:
        """(steps taken from the cache, steps that could be): every step but FROM."""
        counted = [s for s in self.own_steps() if not s.instruction.upper().startswith("FROM ")]
        return sum(1 for s in counted if s.cached), len(counted)

    def stand_in_names(self) -> dict[str, str]:
        """stand-in reference -> the name the Dockerfile uses, for the bases built from stand-ins."""
        return {base.ref: name for name, base in self.base_images.items() if base.ref != name}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "example": self.example,
            "dockerfile": self.dockerfile,
            "base_images": {name: base.to_json() for name, base in self.base_images.items()},
            "measured_at": self.measured_at,
        }
        if self.sources:
            data["sources"] = self.sources
        if self.engine is not None:
            data["engine"] = self.engine.to_json()
        if self.expect_by_store:
            data["expect_by_store"] = {
                s: "failure" if fails else "success" for s, fails in sorted(self.expect_by_store.items())
            }
        if self.error is not None:
            data.update(expect="failure", error=self.error, failed_line=self.failed_line)
            if self.listing:
                data["build"] = {"listing": self.listing}
            return data
        build: dict[str, Any] = {"steps": [step.to_json() for step in self.steps]}
        if self.listing:
            build["listing"] = self.listing
        data.update(
            size_bytes=self.size_bytes,
            image_id=self.image_id,
            created=self.created,
            layers=[layer.to_json() for layer in self.layers],
            build=build,
        )
        if self.content_size_bytes is not None:
            data["content_size_bytes"] = self.content_size_bytes
        if self.context_bytes is not None:
            build["context_bytes"] = self.context_bytes
        if self.responses:
            data["responses"] = {path: answer.to_json() for path, answer in self.responses.items()}
        if self.process_uid is not None:
            data["process_uid"] = self.process_uid
        if self.secret_layers:
            data["secret_layers"] = dict(sorted(self.secret_layers.items()))
        if self.image_platform:
            data["image_platform"] = self.image_platform
        if self.media_type:
            data["media_type"] = self.media_type
        if self.platform_rows:
            data["platform_rows"] = [row.to_json() for row in self.platform_rows]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurement:
        """An entry as the record file holds it; ValueError if it is not one."""
        try:
            engine = data.get("engine")
            return cls(
                key=str(data.get("key", "")),
                example=str(data.get("example", "")),
                dockerfile=str(data.get("dockerfile", "")),
                base_images={
                    str(name): BaseImage(str(b["ref"]), str(b["id"]), bool(b.get("standin")))
                    for name, b in (data.get("base_images") or {}).items()
                },
                engine=EngineFacts(**{k: str(v) for k, v in engine.items()}) if engine else None,
                measured_at=str(data.get("measured_at", "")),
                sources=str(data.get("sources", "")),
                size_bytes=int(data["size_bytes"]) if "size_bytes" in data else None,
                image_id=str(data.get("image_id", "")),
                created=str(data.get("created", "")),
                layers=tuple(
                    LayerEntry(str(x["created_by"]), int(x["size_bytes"]), bool(x.get("base")))
                    for x in data.get("layers") or ()
                ),
                steps=tuple(
                    Step(
                        int(s["step"]),
                        str(s["instruction"]),
                        bool(s["cached"]),
                        str(s.get("label", "")),
                        float(s["seconds"]) if s.get("seconds") is not None else None,
                    )
                    for s in (data.get("build") or {}).get("steps") or ()
                ),
                listing=str((data.get("build") or {}).get("listing", "")),
                context_bytes=int(data["build"]["context_bytes"])
                if "context_bytes" in (data.get("build") or {})
                else None,
                content_size_bytes=int(data["content_size_bytes"]) if "content_size_bytes" in data else None,
                responses={
                    str(path): Response(
                        int(r["status"]),
                        str(r["body"]),
                        str(r.get("reason", "")),
                        tuple((str(k), str(v)) for k, v in r.get("headers") or ()),
                    )
                    for path, r in (data.get("responses") or {}).items()
                },
                process_uid=int(data["process_uid"]) if data.get("process_uid") is not None else None,
                image_platform=str(data.get("image_platform", "")),
                media_type=str(data.get("media_type", "")),
                platform_rows=tuple(
                    PlatformRow(
                        str(r["platform"]),
                        str(r["image_id"]),
                        int(r["disk_bytes"]),
                        int(r["content_bytes"]),
                        bool(r.get("available", True)),
                    )
                    for r in data.get("platform_rows") or ()
                ),
                expect_by_store={
                    str(store): outcome == "failure" for store, outcome in (data.get("expect_by_store") or {}).items()
                },
                secret_layers={str(k): int(v) for k, v in (data.get("secret_layers") or {}).items()},
                error=str(data["error"]) if data.get("expect") == "failure" or "error" in data else None,
                failed_line=int(data["failed_line"]) if data.get("failed_line") is not None else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a record entry ({type(error).__name__}: {error})") from None


def image_of(measurement: Measurement, tag: str) -> Measurement:
    """`measurement` if it is of an image; LivedocsError for a build meant to fail (NotMeasuredHere
    where it is meant to fail on this store only)."""
    if measurement.size_bytes is None and measurement.varies_by_store:
        raise NotMeasuredHere(
            f"{tag} fails on this image store, as its livedocs.yml expects: no image here",
            measured_on=measurement.stores_where(fails=False),
        )
    if measurement.size_bytes is None:
        raise LivedocsError(f"{tag} is an expected-failure build: it has no image to measure")
    return measurement


def failure_of(measurement: Measurement, tag: str) -> str:
    """The error of a build meant to fail; LivedocsError for an image that built."""
    if measurement.error is None and measurement.varies_by_store:
        raise NotMeasuredHere(
            f"{tag} builds on this image store, as its livedocs.yml expects: no error here",
            measured_on=measurement.stores_where(fails=True),
        )
    if measurement.error is None:
        raise LivedocsError(f"{tag} built successfully; declare it 'expect: failure' to show its error")
    return measurement.error


def content_size_of(measurement: Measurement, tag: str, store: str) -> int:
    """The content size of an image; NotMeasuredHere on a store that has none (overlay2)."""
    if measurement.content_size_bytes is None:
        raise NotMeasuredHere(
            f"{tag} has no content size on the {store} store (the containerd image store has one)",
            measured_on="containerd",
        )
    return measurement.content_size_bytes


def platform_row_of(measurement: Measurement, tag: str, platform: str, store: str) -> PlatformRow:
    """The row of one platform under the image's tag; NotMeasuredHere on a store that lists
    none (overlay2), LivedocsError if the image holds no such platform."""
    if not measurement.platform_rows:
        raise NotMeasuredHere(
            f"{tag} has no rows per platform on the {store} store (the containerd image store has them)",
            measured_on="containerd",
        )
    for row in measurement.platform_rows:
        if row.platform == platform:
            return row
    held = ", ".join(row.platform for row in measurement.platform_rows)
    raise LivedocsError(f"{tag} holds no {platform} image (it holds {held})")


def platform_id_of(measurement: Measurement, tag: str, platform: str, store: str) -> str:
    """The ID of the image of one platform under the tag: on the containerd store its row's
    (the platform's manifest: `docker image inspect --platform`), on a graph driver the image's
    own (one platform per tag), if it is of that platform."""
    if measurement.platform_rows:
        return platform_row_of(measurement, tag, platform, store).image_id
    if measurement.image_platform and measurement.image_platform != platform:
        raise LivedocsError(f"{tag} is a {measurement.image_platform} image on the {store} store, not {platform}")
    return measurement.image_id


def architecture_of(measurement: Measurement, tag: str) -> str:
    """The image's Architecture, as `docker image inspect --format '{{.Architecture}}'` prints it."""
    parts = measurement.image_platform.split("/")
    if len(parts) < 2:
        raise LivedocsError(f"{tag} was measured before image platforms were recorded: build it again")
    return parts[1]


def media_type_of(measurement: Measurement, tag: str, store: str) -> str:
    """The media type of the image's descriptor; NotMeasuredHere on a store that has none (overlay2)."""
    if not measurement.media_type:
        raise NotMeasuredHere(
            f"{tag} has no descriptor on the {store} store (the containerd image store has one)",
            measured_on="containerd",
        )
    return measurement.media_type


def build_output(measurement: Measurement, tag: str, text: str) -> str:
    """What the build step whose instruction contains `text` printed, as BuildKit's plain progress
    shows it (`#9 0.231 building on linux/amd64`: the text after the time), one line per line."""
    step = next((s for s in measurement.own_steps() if text in s.instruction), None)
    if step is None:
        shown = "; ".join(s.instruction for s in measurement.own_steps())
        raise LivedocsError(f"{tag} has no build step containing {text!r} (its steps: {shown})")
    pattern = re.compile(rf"^#{step.step} \d+\.\d+ (.*)$")
    lines = [m.group(1) for line in measurement.listing.splitlines() if (m := pattern.match(line))]
    if not lines:
        raise LivedocsError(f"{tag}'s step {step.instruction!r} printed nothing in its recorded build")
    return "\n".join(lines)


def context_bytes_of(measurement: Measurement, tag: str, store: str) -> int:
    """What BuildKit said it sent of the build context; NotMeasuredHere where none is recorded."""
    if measurement.context_bytes is None:
        raise NotMeasuredHere(f"no build context transfer is recorded for {tag} on {store}")
    return measurement.context_bytes


def secret_layers_of(measurement: Measurement, tag: str, secret: str) -> int:
    """How many layers of the image hold the secret's bytes; LivedocsError if it declares no such secret."""
    if secret not in measurement.secret_layers:
        declared = ", ".join(sorted(measurement.secret_layers)) or "none"
        raise LivedocsError(
            f"{tag} was measured with no secret {secret!r} (declared: {declared}); "
            f"add it under secrets: in its livedocs.yml"
        )
    return measurement.secret_layers[secret]


class NotMeasuredHere(LivedocsError):
    """A quantity that this image store does not have (a claim about it skips the store).

    `measured_on` names the store that has it, where one does (content sizes: containerd)."""

    def __init__(self, message: str, *, measured_on: str | None = None) -> None:
        super().__init__(message)
        self.measured_on = measured_on
