"""The one module that uses the docker SDK: `Engine`, a connected Docker engine.

Its identity, its images (list, inspect, history, tag, remove), its event log, and the
containers the run checks start. Docker's exceptions become the project's own. Builds
do not go through here: BuildKit is driven by the docker CLI (`builders.py`,
`buildkit.py`), and what a run check asks of a container is `runs.py`'s.
"""

from __future__ import annotations

import contextlib
import re
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from .archive import layers_holding
from .errors import EngineUnavailable, LivedocsError, RunFailed
from .measurement import EngineFacts, PlatformRow
from .settings import docker_environment
from .units import iso_utc, unix_nanos

LABEL_KEY = "org.livedocs.key"
LABEL_EXAMPLE = "org.livedocs.example"
LABEL_RUN = "org.livedocs.run"
LABEL_STANDIN = "org.livedocs.standin"

LOCAL_SOCKET = "unix:///var/run/docker.sock"
_API_ERRORS = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,  # a stream cut short by a dying engine
    OSError,
)


@dataclass(frozen=True)
class ImageInfo:
    id: str
    size_bytes: int
    created: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    platform: str = ""  # Os/Architecture[/Variant], as `docker image inspect` gives them
    media_type: str = ""  # the containerd store's descriptor of the image ("" on a graph driver)


@dataclass(frozen=True)
class Listed:
    """An image as the engine lists it (`docker images`, with its manifests)."""

    size_bytes: int  # SIZE (Docker 28), DISK USAGE (Docker 29)
    content_bytes: int | None  # CONTENT SIZE: every manifest's content, attestations too (containerd)
    platforms: tuple[PlatformRow, ...]  # the image manifests under the tag, one per platform (containerd)


@dataclass(frozen=True)
class ImageState:
    """What an engine said of its images at one moment: its ID, how many images, its clock then (ns)."""

    engine_id: str
    images: int
    now: int


def _event_time(nanos: int) -> str:
    """A time as the events endpoint reads it: seconds.nanoseconds."""
    return f"{nanos // 10**9}.{nanos % 10**9:09d}"


@dataclass(frozen=True)
class ContainerState:
    running: bool
    exit_code: int | None
    host_port: int | None  # where the container's port is published on 127.0.0.1, once it is


@dataclass(frozen=True)
class Layer:
    id: str  # "<missing>" unless the layer is an image of its own (a base image's top)
    created_by: str
    size_bytes: int
    created: str


def _platform_name(platform: Mapping[str, Any]) -> str:
    """An OCI platform as `docker images --tree` names it: os/architecture[/variant]."""
    parts = (platform.get("os"), platform.get("architecture"), platform.get("variant"))
    return "/".join(str(p) for p in parts if p) or "unknown"


def _iso(created: str | int) -> str:
    return iso_utc(created) if isinstance(created, int) else created


class Engine:
    """A connected Docker engine."""

    def __init__(self, client: docker.DockerClient, host: str, build_timeout: float) -> None:
        self._client = client
        self._api = client.api
        self.host = host
        self.build_timeout = build_timeout
        self._facts: EngineFacts | None = None
        self._info: tuple[dict, int] | None = None  # the last /info and when (time.monotonic_ns) it came

    @classmethod
    def connect(cls, host: str | None, timeout: float = 30.0, build_timeout: float = 1800.0) -> Engine:
        """The engine at `host` (None: the local socket); EngineUnavailable if none answers.

        TLS settings (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) are the docker SDK's, as for the CLI.
        """
        where = host or LOCAL_SOCKET
        environment = docker_environment(host, keep_context=True)
        try:
            client = docker.from_env(timeout=max(1, round(timeout)), environment=environment)
            client.ping()
        except _API_ERRORS as error:
            raise EngineUnavailable(f"no Docker engine answers at {where}: {_reason(error)}") from None
        return cls(client, where, build_timeout)

    def answers(self) -> bool:
        """Whether the engine answers a ping now."""
        try:
            return bool(self._api.ping())
        except _API_ERRORS:
            return False

    def stopped(self, error: BaseException | str, during: str = "") -> EngineUnavailable:
        """The error to raise when the engine went away (`during`: " during a build")."""
        return stopped(self.host, error, during)

    def close(self) -> None:
        self._client.close()

    def facts(self) -> EngineFacts:
        """Which engine this is, for the record and the provenance box."""
        if self._facts is None:
            try:
                version = self._api.version()
                info = self._info_now()
            except _API_ERRORS as error:
                raise self.stopped(error) from None
            self._facts = EngineFacts(
                version=str(version.get("Version", "?")),
                api_version=str(version.get("ApiVersion", "?")),
                storage_driver=str(info.get("Driver", "?")),
                platform=f"{version.get('Os', '?')}/{version.get('Arch', '?')}",
                builder="",  # the builder stamps its own (builders.py)
                engine_id=str(info.get("ID", "")),
                name=str(info.get("Name", "")),
                host=re.sub(r"//[^@/]*@", "//", self.host),  # ssh://user@host: the user is nobody's business
                store=image_store(info),
            )
        return self._facts

    def engine_id(self) -> str:
        """The engine's ID (/info's, which a running engine keeps): from the last /info if any."""
        if self._info is None:
            try:
                self._info_now()
            except _API_ERRORS as error:
                raise self.stopped(error) from None
        assert self._info is not None
        return str(self._info[0].get("ID", ""))

    def _info_now(self) -> dict:
        info = self._api.info()
        self._info = (info, time.monotonic_ns())
        return info

    def image_state(self, max_age: float = 1.0) -> ImageState | None:
        """The engine's image count and clock at one moment (an /info younger than `max_age`
        seconds is reused); None if the engine does not say what time it is."""
        if self._info is None or time.monotonic_ns() - self._info[1] > max_age * 1e9:
            try:
                self._info_now()
            except _API_ERRORS as error:
                raise self.stopped(error) from None
        assert self._info is not None
        info = self._info[0]
        said = unix_nanos(str(info.get("SystemTime", "")))
        if said is None:
            return None
        return ImageState(str(info.get("ID", "")), int(info.get("Images", -1)), said)

    def images_changed(self, since: int, until: int) -> bool:
        """Whether the engine's event log holds an image event between two of its times
        (nanoseconds). The log keeps a fixed number of the latest events: any change since
        `since` is either in it or pushed out by newer ones, which are; a restarted engine
        starts an empty log, which `ImageState.images` covers in part."""
        try:
            events = self._api.events(
                since=_event_time(since), until=_event_time(until), filters={"type": "image"}, decode=True
            )
            try:
                return next(iter(events), None) is not None
            finally:
                events.close()
        except _API_ERRORS as error:
            raise self.stopped(error) from None

    # -- images -----------------------------------------------------------------

    def inspect(self, ref: str) -> ImageInfo | None:
        """The image `ref` names, or None if the engine has no such image."""
        try:
            data = self._api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as error:
            if error.status_code == 404:
                return None
            raise LivedocsError(f"inspecting {ref} failed: {error.explanation}") from None
        except _API_ERRORS as error:
            raise self.stopped(error) from None
        return ImageInfo(
            id=data["Id"],
            size_bytes=int(data["Size"]),
            created=_iso(data.get("Created", "")),
            tags=tuple(data.get("RepoTags") or ()),
            labels=dict((data.get("Config") or {}).get("Labels") or {}),
            platform="/".join(p for p in (data.get("Os"), data.get("Architecture"), data.get("Variant")) if p),
            media_type=str((data.get("Descriptor") or {}).get("mediaType", "")),
        )

    def listed(self, image_id: str) -> Listed:
        """SIZE as `docker images` prints it, CONTENT SIZE and the rows per platform as
        `docker images --tree` does.

        On the containerd image store the list's Size is the disk usage (content and
        unpacked snapshots) and the content size is that of all its manifests (each
        platform's image and its attestations, as Docker 29 adds them); on a graph
        driver (overlay2) the list's Size is the unpacked size and there is no content
        size (None).
        """
        api = self.facts().api_version
        newer = tuple(int(p) for p in api.split(".")) >= (1, 47) if re.fullmatch(r"\d+\.\d+", api) else False
        try:
            url = self._api.base_url + (f"/v{api}" if newer else "") + "/images/json"
            params = {"manifests": "1"} if newer else {}
            listed = self._api._result(self._api._get(url, params=params), json=True)
        except _API_ERRORS as error:
            raise self.stopped(error) from None
        for image in listed:
            if image.get("Id") == image_id:
                # every manifest's content, attestations too, as Docker 29's `docker images` adds them
                manifests = image.get("Manifests") or ()
                content = sum(int(m["Size"]["Content"]) for m in manifests) if manifests else None
                if self.facts().store != "containerd":
                    return Listed(int(image["Size"]), None, ())
                rows = tuple(
                    PlatformRow(
                        _platform_name((m.get("ImageData") or {}).get("Platform") or {}),
                        str(m.get("ID", "")),
                        int(m["Size"].get("Total", 0)),
                        int(m["Size"].get("Content", 0)),
                        bool(m.get("Available", True)),
                    )
                    for m in manifests
                    if m.get("Kind") == "image"
                )
                return Listed(int(image["Size"]), content, rows)
        raise LivedocsError(f"the engine does not list image {image_id}")

    def listed_sizes(self, image_id: str) -> tuple[int, int | None]:
        """(SIZE as `docker images` prints it, CONTENT SIZE as `docker images --tree` does)."""
        found = self.listed(image_id)
        return found.size_bytes, found.content_bytes

    def layers_holding(self, ref: str, needles: Mapping[str, bytes]) -> dict[str, int]:
        """For each needle, how many layers of the image hold a file containing its bytes: the
        image exported as `docker save` exports it (to a temporary file) and read layer by layer."""
        with tempfile.TemporaryFile() as archive:
            try:
                for chunk in self._api.get_image(ref):
                    archive.write(chunk)
            except _API_ERRORS as error:
                raise LivedocsError(f"exporting {ref} (docker save) failed: {error}") from None
            archive.seek(0)
            try:
                return layers_holding(archive, needles)
            except (tarfile.TarError, ValueError, KeyError, IndexError) as error:
                raise LivedocsError(f"reading the layers of {ref} failed: {error}") from None

    def tagged_images(self) -> dict[str, ImageInfo]:
        """Every tagged image the engine holds, by `repository:tag` (one list call, no inspect)."""
        try:
            listed = self._api.images()
        except _API_ERRORS as error:
            raise self.stopped(error) from None
        found = {}
        for image in listed:
            info = ImageInfo(
                id=str(image["Id"]),
                size_bytes=int(image.get("Size", 0)),
                created=_iso(image.get("Created", 0)),
                tags=tuple(image.get("RepoTags") or ()),
                labels=dict(image.get("Labels") or {}),
            )
            for tag in info.tags:
                found[tag] = info
        return found

    def history(self, ref: str) -> list[Layer]:
        """The image's layers, newest first, as `docker history` lists them."""
        try:
            rows = self._api.history(ref)
        except _API_ERRORS as error:
            raise LivedocsError(f"history of {ref} failed: {error}") from None
        return [
            Layer(
                str(r.get("Id", "")),
                str(r.get("CreatedBy", "")),
                int(r.get("Size", 0)),
                _iso(r.get("Created", 0)),
            )
            for r in rows
        ]

    def tags_in(self, repository: str) -> list[str]:
        """Every `repository:tag` the engine holds for one repository."""
        try:
            images = self._api.images(name=repository)
        except _API_ERRORS as error:
            raise self.stopped(error) from None
        return sorted(t for image in images for t in image.get("RepoTags") or () if t.startswith(f"{repository}:"))

    def tag(self, image_id: str, repository: str, tag: str) -> None:
        try:
            self._api.tag(image_id, repository, tag, force=True)
        except _API_ERRORS as error:
            raise LivedocsError(f"tagging {image_id} as {repository}:{tag} failed: {error}") from None

    def remove_if_dangling(self, image_id: str) -> None:
        """Remove an image this site replaced, unless something else still names it."""
        found = self.inspect(image_id)
        if found is not None and not found.tags:
            self.remove_image(image_id)

    def unpack(self, image: str, platform: str) -> None:
        """Unpack `image`, built for another platform than the engine's own, as the engine of
        a machine of that platform does at the end of a build: on the containerd store such an
        image is only content until a container is created from it, and `docker images` counts
        its unpacked layers only from then on. A container is created (never started), then removed."""
        try:
            created = self._api.create_container(
                image, command=["livedocs-unpack"], platform=platform, labels={LABEL_RUN: "unpack"}
            )
        except _API_ERRORS as error:
            raise LivedocsError(f"could not unpack {image} for {platform}: {error}") from None
        self.remove_container(str(created["Id"]))

    def remove_container(self, container_id: str) -> None:
        """Force-remove a container (a cancelled build's step); quietly if it is gone."""
        with contextlib.suppress(*_API_ERRORS):
            self._api.remove_container(container_id, force=True)

    def remove_image(self, ref: str) -> None:
        """Remove an image if nothing else holds it; quietly keep it otherwise."""
        try:
            self._api.remove_image(ref, force=False, noprune=False)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError:
            pass  # still used by a tag or a container: not ours to force

    # -- containers (the run checks' primitives; runs.py decides what to do with them) --

    def start_container(
        self,
        image: str,
        *,
        port: int,
        cap_add: Sequence[str],
        memory: str,
        cpus: float,
        pids: int,
        labels: Mapping[str, str],
        platform: str | None = None,
    ) -> str:
        """Create and start a container of `image` with every capability dropped but `cap_add`,
        no new privileges, the limits given, and `port` published on 127.0.0.1 only; its ID.
        Created, then started: `containers.run` would pull an image it cannot find. `platform`:
        the image's, when it is not the engine's own (`docker run --platform`)."""
        container_id = None
        try:
            created = self._api.create_container(
                image,
                platform=platform,
                labels=dict(labels),
                ports=[port],
                host_config=self._api.create_host_config(
                    port_bindings={port: ("127.0.0.1", None)},
                    cap_drop=["ALL"],
                    cap_add=list(cap_add) or None,
                    security_opt=["no-new-privileges"],
                    mem_limit=memory,
                    nano_cpus=round(cpus * 1e9),
                    pids_limit=pids,
                ),
            )
            container_id = str(created["Id"])
            self._api.start(container_id)
            return container_id
        except docker.errors.ImageNotFound:
            raise RunFailed(f"{image} is no longer in the engine (rebuilt or removed meanwhile)") from None
        except _API_ERRORS as error:
            if container_id is not None:
                self.remove_container(container_id)
            raise RunFailed(f"could not run {image}: {error}") from None

    def container_state(self, container_id: str, port: int) -> ContainerState:
        """Whether the container runs, its exit code, and the host port `port` is published on."""
        try:
            data = self._api.inspect_container(container_id)
        except _API_ERRORS as error:
            raise RunFailed(f"could not inspect the container: {error}") from None
        state = data.get("State") or {}
        bindings = ((data.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp")
        host_port = int(bindings[0]["HostPort"]) if bindings else None
        return ContainerState(bool(state.get("Running")), state.get("ExitCode"), host_port)

    def process_uid(self, container_id: str) -> int:
        """The user ID the container's main process runs as, from the engine's `docker top`
        (`ps -o pid,uid` over the container's processes, the row of its main PID).

        `docker top` sees the processes from the engine's host: with user namespaces remapped
        (`userns-remap`, rootless engines) a container's root is another uid there, so the
        engine's answer would not be the container's and none is given."""
        try:
            info = self._info[0] if self._info is not None else self._info_now()
            security = " ".join(str(option) for option in info.get("SecurityOptions") or ())
            if "name=userns" in security or "name=rootless" in security:
                raise RunFailed("this engine remaps user IDs (user namespaces): docker top shows no container's uid")
            main = int(((self._api.inspect_container(container_id).get("State") or {}).get("Pid")) or 0)
            top = self._api.top(container_id, ps_args="-o pid,uid")
        except _API_ERRORS as error:
            raise RunFailed(f"could not list the container's processes: {error}") from None
        titles = [str(title).upper() for title in top.get("Titles") or ()]
        for row in top.get("Processes") or ():
            fields = dict(zip(titles, row, strict=False))
            if str(fields.get("PID")) == str(main) and str(fields.get("UID", "")).isdigit():
                return int(fields["UID"])
        raise RunFailed(f"docker top lists no process {main}, the container's main one: {top}")

    def container_tail(self, container_id: str, lines: int = 20) -> str:
        """The container's last lines of output ("" if they cannot be read)."""
        try:
            raw = self._api.logs(container_id, tail=lines)
        except _API_ERRORS:
            return ""
        return raw[-8192:].decode("utf-8", "replace").rstrip()


def stopped(host: str | None, error: BaseException | str, during: str = "") -> EngineUnavailable:
    """The engine at `host` went away (`during`: " during a build")."""
    return EngineUnavailable(f"the engine at {host or LOCAL_SOCKET} stopped answering{during}: {error}")


def image_store(info: Mapping[str, object]) -> str:
    """`containerd` when the engine keeps images in containerd's store, else its graph driver."""
    status = info.get("DriverStatus") or []
    if any("io.containerd.snapshotter" in str(value) for pair in status for value in pair):  # type: ignore[union-attr]
        return "containerd"
    return str(info.get("Driver", "?"))


def _reason(error: BaseException) -> str:
    """Why a connection failed, in a few words rather than a chain of wrapped exceptions."""
    text = str(error)
    for marker, reason in (
        ("FileNotFoundError", "no socket there"),
        ("No such file or directory", "no socket there"),
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Permission denied", "permission denied (is your user in the docker group?)"),
    ):
        if marker in text:
            return reason
    first = text.splitlines()[0] if text else type(error).__name__
    return first[:200]
