"""The one module that talks to Docker (through the docker SDK).

Everything the rest of the project needs from an engine goes through `Engine`: its
identity, image inspection and history, classic builds with their log, and run checks
of containers held on a short leash. Docker's exceptions become the project's own.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from .buildlog import BuildLog
from .context import BuildRequest
from .errors import BuildFailed, EngineUnavailable, LivedocsError, RunFailed
from .measurement import EngineFacts
from .settings import docker_environment
from .units import iso_utc, unix_nanos

LABEL_KEY = "org.livedocs.key"
LABEL_EXAMPLE = "org.livedocs.example"
LABEL_RUN = "org.livedocs.run"
LABEL_STANDIN = "org.livedocs.standin"

LOCAL_SOCKET = "unix:///var/run/docker.sock"
BUILDER = "classic"  # the docker SDK's builds go through the classic builder
_BODY_LIMIT = 64 * 1024
_LOG_LINES = 20
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
class Layer:
    id: str  # "<missing>" unless the layer is an image of its own (a base image's top)
    created_by: str
    size_bytes: int
    created: str


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
                builder=BUILDER,
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
        )

    def listed_sizes(self, image_id: str) -> tuple[int, int | None]:
        """(SIZE as `docker images` prints it, CONTENT SIZE as `docker images --tree` does).

        On the containerd image store the list's Size is the disk usage (content and
        unpacked snapshots) and the content size is that of the image's platform
        manifests; on a graph driver (overlay2) the list's Size is the unpacked size and
        there is no content size (None).
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
                manifests = [m for m in image.get("Manifests") or () if m.get("Kind") == "image" and m.get("Available")]
                content = sum(int(m["Size"]["Content"]) for m in manifests) if manifests else None
                return int(image["Size"]), (content if self.facts().store == "containerd" else None)
        raise LivedocsError(f"the engine does not list image {image_id}")

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

    def build(self, request: BuildRequest, log: BuildLog | None = None) -> tuple[str, BuildLog]:
        """Build with the classic builder; (image id, log), or BuildFailed with the log."""
        log = log if log is not None else BuildLog()  # the caller may hold it, to clean up after
        image_id = None
        try:
            stream = self._api.build(
                fileobj=io.BytesIO(request.context.tar),
                custom_context=True,
                dockerfile=request.context.dockerfile,
                tag=request.tag,
                labels=dict(request.labels),
                target=request.target,
                buildargs=dict(request.build_args),
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                timeout=int(self.build_timeout),
            )
            for chunk in stream:
                if "stream" in chunk:
                    log.add(chunk["stream"])
                if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                if "error" in chunk:
                    message = str(chunk.get("error", "")).strip()
                    detail = log.failing_output(message)
                    log.lines.append(message)
                    raise BuildFailed("the build failed", detail=detail, build_log=log)
        except BuildFailed:
            self.discard(log)
            raise
        except docker.errors.APIError as error:
            self.discard(log)
            raise BuildFailed("the build failed", detail=str(error.explanation or error), build_log=log) from None
        except _API_ERRORS as error:
            raise self.stopped(error, " during a build") from None
        if image_id is None:
            for line in reversed(log.lines):
                if line.startswith("Successfully built "):
                    image_id = line.split()[-1]
                    break
        if image_id is None:
            raise BuildFailed(
                "the build ended without an image",
                detail="\n".join(log.lines[-_LOG_LINES:]),
            )
        found = self.inspect(image_id)
        return (found.id if found else image_id), log

    def discard(self, log: BuildLog) -> None:
        """A failed classic build leaves the images of its finished steps behind,
        untagged: remove the ones this build made (newest first, parents pruned)."""
        for image_id in reversed(log.created):
            self.remove_image(image_id)

    # -- run checks -------------------------------------------------------------

    def http_check(
        self,
        image: str,
        *,
        port: int,
        paths: Sequence[str],
        timeout: float,
        cap_add: Sequence[str] = (),
    ) -> dict[str, Answer]:
        """Start `image`, wait for its port on 127.0.0.1, GET each path, remove it.

        The container runs unprivileged: all capabilities dropped (but those the
        example declares), no new privileges, memory, CPU and process limits, no
        mounts, its port published on 127.0.0.1 only.
        """
        container = None
        try:
            # create, then start: `containers.run` would pull an image it cannot find
            container = self._client.containers.create(
                image,
                ports={f"{port}/tcp": ("127.0.0.1", None)},
                cap_drop=["ALL"],
                cap_add=list(cap_add) or None,
                security_opt=["no-new-privileges"],
                mem_limit="256m",
                nano_cpus=1_000_000_000,
                pids_limit=256,
                labels={LABEL_RUN: "1"},
            )
            container.start()
            host_port = self._wait_for_port(container, port, paths[0], timeout)
            return {path: _get(host_port, path) for path in paths}
        except (RunFailed, LivedocsError):
            raise
        except docker.errors.ImageNotFound:
            raise RunFailed(f"{image} is no longer in the engine (rebuilt or removed meanwhile)") from None
        except _API_ERRORS as error:
            raise RunFailed(f"could not run {image}: {error}") from None
        finally:
            if container is not None:
                with contextlib.suppress(*_API_ERRORS):
                    container.remove(force=True)

    def _wait_for_port(self, container: object, port: int, first_path: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            container.reload()  # type: ignore[attr-defined]
            state = container.attrs["State"]  # type: ignore[attr-defined]
            if not state.get("Running"):
                raise RunFailed(
                    f"the container exited with code {state.get('ExitCode')} before answering on port {port}",
                    detail=self._tail(container),
                )
            bindings = (container.attrs["NetworkSettings"].get("Ports") or {}).get(f"{port}/tcp")  # type: ignore[attr-defined]
            if bindings:
                host_port = int(bindings[0]["HostPort"])
                try:
                    _get(host_port, first_path, timeout=1.0)
                    return host_port
                except (OSError, http.client.HTTPException) as error:
                    last_error = str(error) or type(error).__name__
            time.sleep(0.1)
        raise RunFailed(
            f"nothing answered on port {port} within {timeout:g}s ({last_error})",
            detail=self._tail(container),
        )

    def _tail(self, container: object) -> str:
        try:
            raw = container.logs(tail=_LOG_LINES)  # type: ignore[attr-defined]
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


def _get(port: int, path: str, timeout: float = 5.0) -> Answer:
    """GET http://127.0.0.1:port/path as `curl -i` does; the answer, its body bounded."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "curl/8.14.1", "Accept": "*/*"})
        response = connection.getresponse()
        body = response.read(_BODY_LIMIT)
        return Answer(response.status, response.reason, tuple(response.getheaders()), body.decode("utf-8", "replace"))
    finally:
        connection.close()


@dataclass(frozen=True)
class Answer:
    """An HTTP response as `curl -i` shows it: status line, headers in the order sent, body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: str
