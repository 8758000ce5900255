"""Where figures come from, behind one protocol: `Facts`.

Pages and claims ask a `Facts` for an image's `Measurement` and for a container's
response; they never know whether an engine measured it just now (`live.LiveSource`)
or the record holds it (`ReplaySource`, below). Both keep what they resolved in
`entries` and what failed in `problems`, by tag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .context import source_digest
from .errors import LivedocsError, RecordError
from .examples import ImageSpec
from .measurement import Measurement, NotMeasuredHere, Response, image_of
from .record import Record
from .settings import RECORD


class Facts(Protocol):
    """What pages and claims read of one image store: live measurements or recorded ones."""

    @property
    def store(self) -> str: ...  # "containerd", or a graph driver such as "overlay2"

    @property
    def platform(self) -> str: ...  # what the images were built for: "linux/amd64", "linux/arm64"

    @property
    def notice(self) -> str | None: ...  # why figures are replayed, when they are

    @property
    def problems(self) -> Mapping[str, LivedocsError]: ...  # images that failed, by tag

    @property
    def stale(self) -> Mapping[str, str]: ...  # replayed images whose example changed since: tag -> folder

    def measurement(self, tag: str) -> Measurement: ...
    def response(self, tag: str, path: str) -> Response: ...
    def process_uid(self, tag: str) -> int: ...  # the uid a run check's container ran as


@dataclass
class Summary:
    built: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        failed = f", failed {self.failed}" if self.failed else ""
        return f"built {self.built}, cached {self.cached}{failed}, in {self.seconds:.1f}s"


Progress = Callable[[str], None]


class Source:
    """What both sources share: the resolved entries, the problems, unknown tags."""

    live = False

    def __init__(
        self, store: str, platform: str, specs: Mapping[str, ImageSpec], record: Record, notice: str | None = None
    ) -> None:
        self.store = store
        self.platform = platform
        self.specs = dict(specs)
        self.record = record
        self.notice = notice
        self.entries: dict[str, Measurement] = {}
        self.problems: dict[str, LivedocsError] = {}
        self.stale: dict[str, str] = {}
        self.summary = Summary()

    def prepare(self, tags: Iterable[str], say: Progress) -> None:
        raise NotImplementedError

    def refresh(self, specs: Mapping[str, ImageSpec], image_map: Mapping[str, str]) -> None:
        """Before a rebuild in the same process (`mkdocs serve`): new manifests, failures tried again."""
        self.specs = dict(specs)
        self.summary = Summary()
        for tag in list(self.problems):
            self.problems.pop(tag)
            self.entries.pop(tag, None)

    def close(self) -> None:
        """Let go of the engine, if any."""

    def interrupt(self) -> None:
        """Stop whatever is building (SIGINT, SIGTERM) and let go of the engine."""
        self.close()

    def measured_here(self, tag: str) -> bool:
        """Whether this source measures `tag`: an image declared `machine: linux/amd64` is
        measured only where the machine is one (the chapter is written from one)."""
        spec = self.specs.get(tag)
        return spec is None or spec.machine is None or spec.machine == self.platform

    def measurement(self, tag: str) -> Measurement:
        """The figures of one image; LivedocsError if unknown or it failed to build."""
        if not self.measured_here(tag):
            machine = self.specs[tag].machine
            raise NotMeasuredHere(
                f"{tag} is measured on {machine} machines (machine: in its livedocs.yml), not for {self.platform}",
                measured_on=machine,
            )
        if tag not in self.specs:
            recorded = self.record.get(tag, self.store, self.platform)
            if not self.live and recorded is not None:
                return recorded
            known = ", ".join(sorted(self.specs)) or "none"
            raise LivedocsError(f"unknown image {tag!r}: no examples/*/livedocs.yml declares it (declared: {known})")
        if tag not in self.entries and tag not in self.problems:
            self.prepare([tag], lambda line: None)
        if tag in self.problems:
            raise self.problems[tag]
        return self.entries[tag]

    def response(self, tag: str, path: str) -> Response:
        """The container's answer to GET `path`: recorded, or (live) run once and recorded. An
        image this store does not build (its build fails here) has none: nothing is run."""
        found = image_of(self.measurement(tag), tag).responses.get(path)
        if found is not None:
            return found
        return self.run_check(self._run_spec(tag), path).responses[path]

    def process_uid(self, tag: str) -> int:
        """The uid the container's main process ran as: recorded, or (live) run once and recorded."""
        found = image_of(self.measurement(tag), tag).process_uid
        if found is not None:
            return found
        uid = self.run_check(self._run_spec(tag), None).process_uid
        assert uid is not None
        return uid

    def _run_spec(self, tag: str) -> ImageSpec:
        spec = self.specs.get(tag)
        if spec is None or spec.run is None:
            raise LivedocsError(f"{tag} has no run check: add 'run: {{port: ..., paths: [...]}}' to its livedocs.yml")
        return spec

    def run_check(self, spec: ImageSpec, path: str | None) -> Measurement:
        """Run the image's check (its paths, and `path`), record and return what it found."""
        wanted = f"response of {spec.tag} to GET {path}" if path is not None else f"process uid of {spec.tag}"
        raise RecordError(f"no recorded {wanted}: build once with a Docker engine", path=RECORD)


class ReplaySource(Source):
    """The record's figures, no engine touched. An image whose example folder no longer holds
    what it held when measured (`Measurement.sources`) is `stale`: its pages say so."""

    def __init__(self, root: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root = root

    def prepare(self, tags: Iterable[str], say: Progress) -> None:
        for tag in sorted(set(filter(self.measured_here, tags)) - set(self.entries) - set(self.problems)):
            entry = self.record.get(tag, self.store, self.platform)
            spec = self.specs.get(tag)
            if entry is not None and spec is not None and entry.sources != source_digest(self.root, spec):
                self.stale[tag] = spec.folder.relative_to(self.root).as_posix()
            if entry is None:
                self.problems[tag] = RecordError(
                    f"no recorded figures for {tag} on the {self.store} store for {self.platform}: build the site"
                    " once with a Docker engine that uses it",
                    path=RECORD,
                )
            else:
                self.entries[tag] = entry
