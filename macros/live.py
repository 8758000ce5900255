"""The live source: images built on a real engine (only when stale), measured, recorded.

The coordinator. For each image `resolve` takes the engine's per-tag lock, machine-wide
(`shelf.py`: two site builds at once never tag, untag and remove the same image under
each other), asks the planner whether the image is current (nothing to do) and otherwise
has the measurer build it and read its figures. The rooms it coordinates:

    connections.py   a connection to the engine per build thread
    imageindex.py    what the engine holds: tagged images, base images, their history
    planner.py       what an image is built from (its key) and whether it is current
    shelf.py         what other builds on this machine measured, and the per-tag locks
    measurer.py      a build, and the figures read off the engine after it
    folders.py       the folder each build's context is laid out in, as the reader's
    builders.py      which builder builds (BuildKit, through `docker buildx`)
    runs.py          run checks: a container started, asked over HTTP and its uid, removed
"""

from __future__ import annotations

import functools
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import replace

from . import runs, scheduler
from .builders import Builder, BuildKit, connect_builder
from .connections import Connections
from .context import Contexts
from .engine import LOCAL_SOCKET, Engine
from .errors import LivedocsError
from .examples import ImageSpec
from .folders import ContextFolders
from .imageindex import ImageIndex
from .measurement import EngineFacts, Measurement
from .measurer import Measurer
from .planner import Planner, engine_tag
from .record import Record
from .settings import Settings
from .shelf import Shelf
from .sources import Progress, Source


class LiveSource(Source):
    live = True

    def __init__(
        self,
        settings: Settings,
        specs: Mapping[str, ImageSpec],
        record: Record,
        image_map: Mapping[str, str],
        engine: Engine,
        *,
        contexts: Contexts | None = None,
        platform: str | None = None,
    ) -> None:
        facts = engine.facts()
        # building for another platform than the engine's own (emulated, or cross-compiled
        # where the Dockerfile says so): its images have tags of their own in the engine
        self.foreign = platform if platform and platform != facts.platform else None
        super().__init__(facts.store, platform or facts.platform, specs, record)
        self.settings = settings
        self.host: str | None = None if engine.host == LOCAL_SOCKET else engine.host
        self.image_map = dict(image_map)
        self.connections = Connections(engine, self.host, settings.timeout)
        self.index = ImageIndex(lambda: self.engine, settings.cache_dir, settings.root)
        contexts = contexts if contexts is not None else Contexts(settings.root, image_map)
        self.planner = Planner(settings.root, contexts, self.index, BuildKit.name, self.foreign, store=facts.store)
        self.measurer = Measurer(
            settings.root,
            engine=lambda: self.engine,
            builder=lambda: self.builder,
            facts=self._facts,
            index=self.index,
            contexts=contexts,
            folders=lambda: self._folders,
            alone=settings.build_lock,
        )
        self._lock = threading.RLock()
        self._fingerprints: dict[str, str] = {}  # what each measured image was built from
        self._builder: Builder | LivedocsError | None = None
        self._builder_lock = threading.Lock()
        self._stamped: EngineFacts | None = None
        self._built: set[str] = set()  # the images this source built (not found current)

    @classmethod
    def connect(
        cls,
        settings: Settings,
        host: str | None,
        specs: Mapping[str, ImageSpec],
        record: Record,
        image_map: Mapping[str, str],
        *,
        contexts: Contexts | None = None,
        platform: str | None = None,
    ) -> LiveSource:
        """The engine at `host` (None: the local socket), building for `platform` (None: its
        own); EngineUnavailable if it does not answer."""
        engine = Engine.connect(host, timeout=settings.timeout)
        engine.facts()
        return cls(settings, specs, record, image_map, engine, contexts=contexts, platform=platform)

    @property
    def engine(self) -> Engine:
        """This thread's connection (the main thread's is the first one)."""
        return self.connections.current

    @property
    def builder(self) -> Builder:
        """Connected when a build first needs it: asking `docker buildx` costs a process, which
        a build that finds everything current never pays. If none answers, every build of
        this source raises the same error, and `prepare` raises it once."""
        with self._builder_lock:
            if self._builder is None:
                try:
                    self._builder = connect_builder(self.host, self.planner.contexts.all_maps(), lambda: self.engine)
                except LivedocsError as error:
                    self._builder = error
            if isinstance(self._builder, LivedocsError):
                raise self._builder
            return self._builder

    def _facts(self) -> EngineFacts:
        """The engine and builder, for the record: asked for only when something is measured."""
        if self._stamped is None:
            stamped = self.builder.stamp(self.connections.main.facts())
            foreign = replace(stamped, platform=self.foreign, emulated_on=stamped.platform) if self.foreign else None
            self._stamped = foreign or stamped
        return self._stamped

    def engine_tag(self, tag: str) -> str:
        """The tag `tag`'s image has in the engine (`planner.engine_tag`)."""
        return engine_tag(tag, self.foreign)

    # -- every image ------------------------------------------------------------

    def prepare(self, tags: Iterable[str], say: Progress) -> None:
        """Build what is stale among `tags` (and what they are built after); failures go to
        `problems`, but an engine that cannot build at all raises here."""
        done = set(self.entries) | set(self.problems)
        wanted = (t for t in tags if t not in done and self.measured_here(t))
        pending = scheduler.with_afters(self.specs, wanted, done=self.entries)
        if not pending:
            return
        self.index.forget()
        self.index.check_bases((self.specs[t] for t in pending), self.image_map, self.planner.contexts.maps_of)
        before = (self.summary.built, self.summary.failed)
        try:
            scheduler.run(
                self.specs,
                pending,
                lambda tag: self.resolve(tag, say),
                self.settings.workers,
                lambda group: self.resolve_together(group, say),
            )
            self.connections.close_threads()
            if isinstance(self._builder, LivedocsError):
                raise self._builder
            if (self.summary.built, self.summary.failed) != before:
                self.index.relist()
        except BaseException:
            self.interrupt()
            raise

    def interrupt(self) -> None:
        """Drop the connections and cancel the builds; the build threads are daemons, so nothing
        waits for them."""
        self.connections.close()
        if self._builder is not None and not isinstance(self._builder, LivedocsError):
            self._builder.cancel()

    def close(self) -> None:
        self.connections.close()

    def refresh(self, specs: Mapping[str, ImageSpec], image_map: Mapping[str, str]) -> None:
        """Forget only what changed: an image whose inputs are the same keeps its figures."""
        super().refresh(specs, image_map)
        self.image_map = dict(image_map)
        measured = {t: self._fingerprints.get(t, "") for t in self.entries}
        for tag in self.planner.stale(measured, self.specs):
            self.entries.pop(tag, None)
            self._fingerprints.pop(tag, None)

    # -- one image ----------------------------------------------------------------

    def resolve(self, tag: str, say: Progress) -> None:
        """Measure one image (building it if stale); a failure goes to `problems`."""
        spec = self.specs[tag]
        try:
            if spec.after and spec.after in self.problems:
                raise spec.error(f"cannot build {tag}: {spec.after} (its after:) failed")
            # One build of a tag at a time on this engine, from any checkout of this machine: a
            # second waits, then takes what the first made (`Planner.shared`) rather than replace it.
            with self._shelf.lock(self.engine_tag(tag)):
                entry, built = self._measure(spec, say)
                if built:
                    self._shelf.put(entry)
            with self._lock:
                self.entries[tag] = entry
                self.record.put(tag, self.store, entry)
                if built:
                    self.summary.built += 1
                    self._built.add(tag)
                else:
                    self.summary.cached += 1
        except LivedocsError as error:
            if error is self._builder:
                return  # the engine cannot build: `prepare` says so once
            self._failed(tag, error, say)
        except Exception as error:  # a bug, not a user's mistake: still one clear report
            detail = traceback.format_exc()
            self._failed(tag, LivedocsError(f"internal error while building {tag}: {error!r}", detail=detail), say)

    def resolve_together(self, group: list[str], say: Progress) -> None:
        """Images whose durations a claim compares: each is built `timing_rounds` times, the
        group's members in turn (a, b, a, b, ...), and each keeps its median round: that
        build's image is tagged and recorded, the other rounds' images go."""
        for tag in group:
            if tag not in self.entries and tag not in self.problems:  # an independent member is resolved already
                self.resolve(tag, say)
        rounds = self.settings.timing_rounds
        timed = [tag for tag in group if tag in self._built and tag not in self.problems]
        if rounds == 1 or not timed:
            return
        made: dict[str, list[Measurement]] = {tag: [self.entries[tag]] for tag in timed}
        try:
            for number in range(2, rounds + 1):
                for tag in timed:
                    say(f"livedocs: timing round {number} of {rounds}: {tag}")
                    with self._shelf.lock(self.engine_tag(tag)):
                        made[tag].append(self._build_again(self.specs[tag], say))
        except LivedocsError as error:
            for tag in timed:
                self._discard(made[tag][1:])
                self._failed(tag, error, say)
            return
        for tag in timed:
            self._keep_median(tag, made[tag], say)

    def _build_again(self, spec: ImageSpec, say: Progress) -> Measurement:
        """One more build of an image: after the same edit, if it is built `after:` another (else
        as it is: its `no_cache_filter` stages run again); the image it replaces under the tag
        stays until the rounds are compared."""
        plan = self.planner.plan(spec, self.specs, self.image_map)
        base = self.planner.plan(self.specs[spec.after], self.specs, self.image_map) if spec.after else None
        return self.measurer.build(plan, base, self.image_map, None, say)

    def _keep_median(self, tag: str, made: list[Measurement], say: Progress) -> None:
        """Tag and record the round whose steps took the median time; remove the others."""
        ordered = sorted(made, key=lambda m: sum(step.seconds or 0.0 for step in m.steps))
        kept = ordered[(len(ordered) - 1) // 2]
        totals = ", ".join(f"{sum(step.seconds or 0.0 for step in m.steps):.1f}s" for m in made)
        say(f"livedocs: {tag}: steps took {totals} in {len(made)} rounds; the median one is shown")
        tagged = self.engine_tag(tag)
        repository, _, version = tagged.rpartition(":") if ":" in tagged.rsplit("/", 1)[-1] else (tagged, "", "latest")
        self.engine.tag(kept.image_id, repository, version)
        self._discard([m for m in made if m is not kept])
        self._shelf.put(kept)
        with self._lock:
            self.entries[tag] = kept
            self.record.put(tag, self.store, kept)

    def _discard(self, made: list[Measurement]) -> None:
        for measurement in made:
            self.engine.remove_if_dangling(measurement.image_id)

    def _failed(self, tag: str, error: LivedocsError, say: Progress) -> None:
        with self._lock:
            self.problems[tag] = error
            self.summary.failed += 1
        say(f"livedocs: {tag} failed: {error}")

    def _measure(self, spec: ImageSpec, say: Progress) -> tuple[Measurement, bool]:
        """(the image's measurement, whether a build ran)."""
        fingerprint = self.planner.fingerprint(spec)
        with self._lock:
            self._fingerprints[spec.tag] = fingerprint
        plan = self.planner.plan(spec, self.specs, self.image_map)
        current = self.planner.current(plan, self.record.get(spec.tag, self.store, self.platform))
        if current is None:
            current = self.planner.shared(plan, self._shelf)
        if current is not None:
            return current, False
        if plan.fails:
            return self.measurer.build_failure(plan, say), True
        existing = self.index.tagged(plan.engine_tag)
        if spec.edit:
            # an edited variant measures what the cache gives after an edit: its own
            # earlier image is untagged first (deleted if nothing else names it)
            if self.index.inspect_now(plan.engine_tag) is not None:
                self.engine.remove_image(plan.engine_tag)
            existing = None
        base = self.planner.plan(self.specs[spec.after], self.specs, self.image_map) if spec.after else None
        return self.measurer.build(plan, base, self.image_map, existing.id if existing else None, say), True

    @functools.cached_property
    def _shelf(self) -> Shelf:
        """This engine's shelf (one /info, which the listing reuses)."""
        return Shelf(self.settings.engine_dir(self.connections.main.engine_id()))

    @functools.cached_property
    def _folders(self) -> ContextFolders:
        """Where this engine's builds lay out their contexts (`folders.py`)."""
        engine_id = re.sub(r"[^A-Za-z0-9_.-]", "_", self.connections.main.engine_id() or "unknown")
        platform = f"-{self.foreign.replace('/', '-')}" if self.foreign else ""
        return ContextFolders(self.settings.cache_dir / "contexts" / f"{engine_id}{platform}")

    # -- run checks -------------------------------------------------------------------

    def run_check(self, spec: ImageSpec, path: str | None) -> Measurement:
        """Start the image, GET its paths (and `path`), ask for its process's uid, record the answers."""
        run = spec.run
        assert run is not None
        measurement = self.measurement(spec.tag)
        paths = list(dict.fromkeys([*run.paths, *([path] if path is not None else [])]))
        try:
            answered = runs.http_check(
                self.engine,
                # `docker run --platform P TAG`, as the reader runs it: the engine picks P's image out of
                # the tag's index (by the index's ID, Docker 28 takes none of its images: "no command specified")
                self.engine_tag(spec.tag) if run.platform else measurement.image_id,
                port=run.port,
                paths=paths,
                timeout=run.timeout,
                cap_add=run.cap_add,
                # `docker run --platform`: as the run check names it, else the one platform built for
                platform=run.platform or (spec.platforms[0] if len(spec.platforms) == 1 else self.foreign),
            )
        except LivedocsError as error:
            raise spec.error(f"run check of {spec.tag} failed: {error.message}", detail=error.detail) from None
        updated = measurement.with_run(answered.responses, answered.uid)
        with self._lock:
            self.entries[spec.tag] = updated
            self.record.put(spec.tag, self.store, updated)
        return updated
