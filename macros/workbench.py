"""The workbench: every example built (or replayed), measured and recorded.

This is the product, independent of any site generator: give it `Settings`, ask it for
an image's `Measurement` or a container's response; it picks its source (a live engine
or the record, as LIVEDOCS_ENGINE says), builds what is stale, reuses what is not, and
keeps the record. The mkdocs adapter in `macros/__init__.py` is one thin user of it.

    bench = Workbench(Settings.load(root))
    bench.connect()             # per image store: live or replay; EngineUnavailable in live mode
    bench.prepare()             # build what is stale, in parallel, `after:` images last
    for view in bench.views:    # one `Facts` per store
        view.measurement("go-app-multi").size_bytes
    bench.finish()              # merge into examples/measurements.json; the drift lines
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from .builders import platforms_built
from .context import Contexts
from .errors import EngineUnavailable, LivedocsError
from .examples import load_examples
from .imagemap import load_image_map, platform_map
from .live import LiveSource
from .logs import log
from .measurement import DEFAULT_PLATFORM
from .record import Record
from .scheduler import run_threads
from .settings import RECORD, Settings
from .sources import ReplaySource, Source, Summary


def place(view: Source) -> tuple[str, str]:
    """Where a view's figures are measured: (image store, platform)."""
    return view.store, view.platform


class Workbench:
    """Builds, measures and records the examples under `settings.root/examples`, on every image store.

    `views` holds one `Facts` per image store, live where an engine of that store
    answers, replayed from the record otherwise.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root
        self.specs = load_examples(self.root)
        self.record = Record(settings.record_path, settings.record_lock, RECORD)
        self.image_map = load_image_map(self.root, settings.image_map) if settings.mode != "replay" else {}
        # assembled once, for every store
        self.contexts = Contexts(self.root, self.image_map, self._target_maps())
        self.views: list[Source] = []
        self.notices: list[str] = []  # why some figures are replayed, if they are

    @property
    def live(self) -> bool:
        return any(view.live for view in self.views)

    @property
    def problems(self) -> dict[str, LivedocsError]:
        """Images that failed on some store, by tag (the first store's error)."""
        found: dict[str, LivedocsError] = {}
        for view in self.views:
            for tag, error in view.problems.items():
                found.setdefault(tag, error)
        return found

    def connect(self) -> None:
        """Choose a live or a replayed source per store, as the settings say.

        In live mode every engine must answer (EngineUnavailable names the first that does
        not) and only their stores are shown; in auto mode a store the record holds but no
        engine measured is replayed, with a notice.
        """
        live: list[Source] = []
        unanswered: list[str] = []
        if self.settings.mode != "replay":
            # every engine at once: a frozen one costs one timeout, not one per engine
            with ThreadPoolExecutor(max_workers=len(self.settings.engines)) as pool:
                attempts = [pool.submit(self._connect, host) for host in self.settings.engines]
                self.contexts.assemble(self.specs.values())  # while the engines answer
            found: list[LiveSource] = []
            for attempt in attempts:
                try:
                    found += self._platforms(attempt.result())
                except EngineUnavailable as error:
                    if self.settings.mode == "live":
                        raise EngineUnavailable(f"LIVEDOCS_ENGINE=live, but {error.message}") from None
                    unanswered.append(error.message)
            for source in found:
                if any(place(view) == place(source) for view in live):
                    source.close()
                    engines = self.settings.engines
                    raise LivedocsError(
                        f"two engines with the {source.store} image store for {source.platform}: {engines}"
                    )
                live.append(source)
        measured = {place(view) for view in live}
        # live: the stores and platforms measured now and no other (a runner of the scheduled
        # rebuild measures one store); auto: a store or platform no engine answered for comes
        # from the record (a contributor on arm64 sees the amd64 figures recorded, untouched)
        replayed = [] if self.settings.mode == "live" else [p for p in self.record.places() if p not in measured]
        if self.settings.mode == "replay":
            self.notices.append("LIVEDOCS_ENGINE=replay: figures are the recorded ones")
        elif unanswered and not live:
            self.notices.append(f"{'; '.join(unanswered)}; showing the figures recorded in {RECORD}")
        # Another platform's figures beside the machine's own (arm64 recorded, amd64 measured on
        # an amd64 machine) are no fallback: a build measures its machine's platform, and the
        # others come from the record by design (an INFO line, no banner on the pages).
        stores_measured = {store for store, _ in measured}
        missing = [(store, platform) for store, platform in replayed if store not in stores_measured]
        other_platforms = [where for where in replayed if where not in missing]
        several = len({platform for _, platform in [*replayed, *measured]}) > 1
        if other_platforms:
            names = ", ".join(f"{store} ({platform})" for store, platform in other_platforms)
            log.info("livedocs: %s: not this machine's platform; the figures recorded in %s are shown", names, RECORD)
        if self.settings.mode not in ("replay", "live") and not (unanswered and not live) and missing:
            names = [f"{store} ({platform})" if several else store for store, platform in missing]
            self.notices.append(
                f"no engine of the {' or '.join(names)} image store answered in this build; its figures are the"
                f" ones recorded in {RECORD}"
            )
        # A replay the build asked for is no fallback: its pages carry no notice, only those
        # showing an image whose example changed since it was measured (ReplaySource.stale).
        fallback = self.notices[-1] if self.notices and self.settings.mode != "replay" else None
        self.views = live + [
            ReplaySource(self.root, *where, self.specs, self.record, fallback if where in missing or not live else None)
            for where in replayed
        ]
        if not self.views:  # nothing measured, nothing recorded: say so where figures are asked for
            self.views = [ReplaySource(self.root, "overlay2", DEFAULT_PLATFORM, self.specs, self.record, fallback)]
        self.views.sort(key=lambda view: (view.store != "containerd", view.store, view.platform != DEFAULT_PLATFORM))

    def _connect(self, host: str | None) -> LiveSource:
        return LiveSource.connect(self.settings, host, self.specs, self.record, self.image_map, contexts=self.contexts)

    def _target_maps(self) -> dict[str, dict[str, str]]:
        """The map of each platform an image is built for by its own `platforms:` (one of them)."""
        targets = {spec.platforms[0] for spec in self.specs.values() if len(spec.platforms) == 1}
        return {platform: self._platform_map(platform) for platform in sorted(targets)}

    def _platform_map(self, platform: str) -> dict[str, str]:
        """The image map for builds for `platform` (`imagemap.platform_map`)."""
        if self.settings.mode == "replay":
            return {}
        return load_image_map(self.root, platform_map(self.settings.image_map, platform, self.root))

    def _platforms(self, native: LiveSource) -> list[LiveSource]:
        """The sources of one engine: one per platform of `settings.platforms` (by default the
        engine's own). A platform its builder cannot build for (no emulation) is skipped with
        one warning; its recorded figures, if any, are then shown as recorded."""
        wanted = self.settings.platforms or (native.platform,)
        others = [platform for platform in wanted if platform != native.platform]
        can = platforms_built(native.host) if others else []
        sources: list[LiveSource] = [native] if native.platform in wanted else []
        for platform in others:
            if platform not in can:
                log.warning(
                    "livedocs: the %s engine cannot build for %s (it builds for %s: `make engine` registers"
                    " QEMU for arm64); %s is not measured on it",
                    native.store,
                    platform,
                    ", ".join(can) or "its own platform only",
                    platform,
                )
                continue
            mapped = self._platform_map(platform)
            # the platform's own stand-ins in its FROM lines, the machine's in its build-platform stages
            contexts = Contexts(self.root, mapped, build_map=self.image_map)
            sources.append(
                LiveSource.connect(
                    self.settings, native.host, self.specs, self.record, mapped, contexts=contexts, platform=platform
                )
            )
        if native not in sources:
            native.close()
        return sources

    def refresh(self) -> None:
        """Before a rebuild in the same process (`mkdocs serve`): forget only what changed.

        Manifests and contexts are read again (no engine work); an image whose inputs are
        unchanged keeps its figures, so a prose edit costs no engine round trip. Failed
        images are tried again.
        """
        self.specs = load_examples(self.root)
        if self.settings.mode != "replay":
            self.image_map = load_image_map(self.root, self.settings.image_map)
        self.contexts.reset(self.image_map, self._target_maps())
        for view in self.views:
            if isinstance(view, LiveSource) and view.foreign:  # its own stand-ins, its own contexts
                mapped = self._platform_map(view.foreign)
                view.planner.contexts.reset(mapped)
                view.refresh(self.specs, mapped)
            else:
                view.refresh(self.specs, self.image_map)

    def prepare(self, tags: Iterable[str] | None = None, progress: Callable[[str], None] | None = None) -> Summary:
        """Resolve images (all by default) on every store at once; failures are kept in `problems`, not raised."""
        say = progress or log.info
        wanted = list(self.specs) if tags is None else [t for t in tags if t in self.specs]
        several = len(self.views) > 1
        failures: list[BaseException] = []  # a store's error that is not an image's (no base image, ...)

        def prepare_view(view: Source) -> None:
            try:
                self._prepare_view(view, wanted, say, several)
            except Exception as error:
                failures.append(error)

        threads = [threading.Thread(target=prepare_view, args=(view,), daemon=True) for view in self.views]
        try:
            run_threads(threads)
        except BaseException:
            for view in self.views:  # interrupted: stop every build, let the process go
                view.interrupt()
            raise
        if failures:
            raise failures[0]
        total = Summary()
        for view in self.views:
            for name in ("built", "cached", "failed", "seconds"):
                setattr(total, name, getattr(total, name) + getattr(view.summary, name))
        return total

    def _prepare_view(self, view: Source, wanted: list[str], say: Callable[[str], None], several: bool) -> None:
        before = Summary(**vars(view.summary))
        started = time.monotonic()
        # the store, and the platform where the views cover several: `on overlay2 (linux/arm64)`
        platforms = {other.platform for other in self.views}
        platform = f" ({view.platform})" if len(platforms) > 1 else ""
        where = f" on {view.store}{platform}" if several and view.live else ""
        view.prepare(wanted, say if not where else lambda line: say(f"{line}{where}"))
        now = view.summary
        now.seconds += time.monotonic() - started
        run = Summary(now.built - before.built, now.cached - before.cached, now.failed - before.failed)
        run.seconds = now.seconds - before.seconds
        if run.built or run.failed:
            say(f"livedocs: {run.line()}{where}")

    def finish(self) -> list[str]:
        """Merge what this build measured into the record (live only); the drift lines."""
        if not self.live:
            return []
        return self.record.save(declared=self.specs)

    def close(self) -> None:
        for view in self.views:
            view.close()
