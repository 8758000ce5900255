"""The workbench: every example built (or replayed), measured and recorded.

This is the product, independent of any site generator: give it `Settings`, ask it for
an image's `Measurement` or a container's response; it picks its source (a live engine
or the record, as LIVEDOCS_ENGINE says), builds what is stale, reuses what is not, and
keeps the record. The mkdocs adapter in `macros/__init__.py` is one thin user of it.

    bench = Workbench(Settings.load(root))
    bench.connect()             # live or replay; EngineUnavailable in live mode without one
    bench.prepare()             # build what is stale, in parallel, `after:` images last
    bench.measurement("go-app-multi").size_bytes
    bench.finish()              # merge into examples/measurements.json; the drift lines
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from .errors import EngineUnavailable, LivedocsError
from .examples import load_examples
from .imagemap import load_image_map
from .live import LiveSource
from .measurement import Measurement, Response
from .record import Record
from .settings import RECORD, Settings
from .sources import ReplaySource, Source, Summary

log = logging.getLogger("mkdocs.livedocs")


class Workbench:
    """Builds, measures and records the examples under `settings.root/examples`; a `Facts`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root
        self.specs = load_examples(self.root)
        self.record = Record(settings.record_path, settings.cache_dir / "record.lock", RECORD)
        self.image_map = load_image_map(self.root, settings.image_map) if settings.mode != "replay" else {}
        self.source: Source = ReplaySource(
            self.specs, self.record, "LIVEDOCS_ENGINE=replay: figures are the recorded ones"
        )

    @property
    def mode(self) -> str:
        return "live" if self.source.live else "replay"

    @property
    def notice(self) -> str | None:
        return self.source.notice

    @property
    def problems(self) -> Mapping[str, LivedocsError]:
        return self.source.problems

    def connect(self) -> None:
        """Choose live or replay as the settings say; EngineUnavailable in live mode."""
        if self.settings.mode == "replay":
            return
        try:
            self.source = LiveSource.connect(self.settings, self.specs, self.record, self.image_map)
        except EngineUnavailable as error:
            if self.settings.mode == "live":
                raise EngineUnavailable(f"LIVEDOCS_ENGINE=live, but {error.message}") from None
            self.source = ReplaySource(
                self.specs, self.record, f"{error.message}; showing the figures recorded in {RECORD}"
            )

    def refresh(self) -> None:
        """Before a rebuild in the same process (`mkdocs serve`): forget only what changed.

        Manifests and contexts are read again (no engine work); an image whose inputs are
        unchanged keeps its figures, so a prose edit costs no engine round trip. Failed
        images are tried again.
        """
        self.specs = load_examples(self.root)
        if self.settings.mode != "replay":
            self.image_map = load_image_map(self.root, self.settings.image_map)
        self.source.refresh(self.specs, self.image_map)

    def prepare(self, tags: Iterable[str] | None = None, progress: Callable[[str], None] | None = None) -> Summary:
        """Resolve images (all by default); failures are kept in `problems`, not raised."""
        say = progress or log.info
        wanted = list(self.specs) if tags is None else [t for t in tags if t in self.specs]
        before = Summary(**vars(self.source.summary))
        started = time.monotonic()
        self.source.prepare(wanted, say)
        now = self.source.summary
        now.seconds += time.monotonic() - started
        this_run = Summary(now.built - before.built, now.cached - before.cached, now.failed - before.failed)
        this_run.seconds = now.seconds - before.seconds
        if this_run.built or this_run.failed:
            say(f"livedocs: {this_run.line()}")
        return now

    def measurement(self, tag: str) -> Measurement:
        return self.source.measurement(tag)

    def response(self, tag: str, path: str) -> Response:
        return self.source.response(tag, path)

    def finish(self) -> list[str]:
        """Merge what this build measured into the record (live only); the drift lines."""
        if not self.source.live:
            return []
        return self.record.save(declared=self.specs)

    def close(self) -> None:
        self.source.close()
