"""The live source: images built on a real engine (only when stale), measured, recorded.

One image at a time, `resolve` takes a per-tag lock (two site builds at once never tag,
untag and remove the same image under each other), then `_measure` either finds the
image and its record current (nothing to do) or builds it and reads its figures. Each
build thread talks to the engine over a connection of its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from . import clock, scheduler
from .builders import Builder, BuildKit, Built, Classic, stage_repository
from .buildkit import buildx_available
from .context import BuildContext, BuildRequest, Contexts, build_context, cache_key, source_digest
from .dockerfile import base_images, rewrite_images
from .engine import LABEL_EXAMPLE, LABEL_KEY, LABEL_STANDIN, LOCAL_SOCKET, Engine, ImageInfo
from .errors import BuildFailed, LivedocsError
from .examples import ImageSpec, RunSpec
from .files import locked, write_atomically
from .listing import tagged_images
from .logs import notice
from .measurement import BaseImage, EngineFacts, LayerEntry, Measurement, Response
from .record import Record
from .settings import Settings
from .sources import Progress, Source
from .units import human_size, iso_utc


@dataclass(frozen=True)
class Plan:
    """What one image is built from: its spec, the context as sent, its key, its base images."""

    spec: ImageSpec
    context: BuildContext
    key: str
    bases: dict[str, BaseImage]
    dockerfile: str  # repository-relative, for messages and the record
    builder: str  # the name of the builder the key is for
    sources: str  # what the reader's folder holds (context.source_digest)


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
    ) -> None:
        super().__init__(engine.facts().store, specs, record)
        self.settings = settings
        self.host: str | None = None if engine.host == LOCAL_SOCKET else engine.host
        self.root = settings.root
        self.image_map = dict(image_map)
        self._main_engine = engine
        self._engines: list[Engine] = [engine]
        self._local = threading.local()
        self._lock = threading.RLock()
        self._base_ids: dict[str, tuple[str, bool]] = {}
        self._listing: dict[str, ImageInfo] | None = None  # the engine's tagged images, read once per prepare
        self._base_rows: dict[str, list[tuple[str, int]]] = {}  # a base image's history
        self._fingerprints: dict[str, str] = {}
        self.contexts = contexts if contexts is not None else Contexts(self.root, image_map)
        self._builder: Builder | None = None
        self._builder_lock = threading.Lock()

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
    ) -> LiveSource:
        """The engine at `host` (None: the local socket); EngineUnavailable if it does not answer."""
        engine = Engine.connect(host, timeout=settings.timeout)
        engine.facts()
        return cls(settings, specs, record, image_map, engine, contexts=contexts)

    @property
    def builder(self) -> Builder:
        """Chosen when a build first needs it: asking `docker buildx` costs a process, which a
        build that finds everything current never pays."""
        with self._builder_lock:
            if self._builder is None:
                self._builder = choose_builder(self.settings, self.host, self.image_map, lambda: self.engine)
            return self._builder

    def _builder_name(self) -> str:
        """The builder's name, without asking for it: BuildKit unless the settings force the
        classic builder (or asking found no buildx; `_measure` then keys again)."""
        chosen = self._builder
        if chosen is not None:
            return chosen.name
        return "classic" if self.settings.builder == "classic" else "buildkit"

    # -- connections ------------------------------------------------------------

    @functools.cached_property
    def engine_facts(self) -> EngineFacts:
        """The engine and builder, for the record: asked for only when something is measured."""
        return replace(
            self._main_engine.facts(),
            builder=self.builder.name,
            builder_version=self.builder.version,
            buildkit_version=self.builder.buildkit_version,
        )

    @property
    def engine(self) -> Engine:
        """This thread's connection (the main thread's is the first one)."""
        if threading.current_thread() is threading.main_thread():
            return self._main_engine
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = Engine.connect(self.host, timeout=self.settings.timeout)
            self._local.engine = engine
            with self._lock:
                self._engines.append(engine)
        return engine

    def close(self) -> None:
        with self._lock:
            engines, self._engines = self._engines, []
        for engine in engines:
            engine.close()

    def _close_thread_engines(self) -> None:
        with self._lock:
            others = [e for e in self._engines if e is not self._main_engine]
            self._engines = [self._main_engine]
        for engine in others:
            engine.close()

    # -- every image ------------------------------------------------------------

    def prepare(self, tags: Iterable[str], say: Progress) -> None:
        """Build what is stale among `tags` (and what they are built after); failures go to `problems`."""
        done = set(self.entries) | set(self.problems)
        pending = scheduler.with_afters(self.specs, (t for t in tags if t not in done), done=self.entries)
        if not pending:
            return
        self._listing = None  # images may have changed since the last prepare (`mkdocs serve`)
        self._check_bases(pending)
        before = (self.summary.built, self.summary.failed)
        try:
            scheduler.run(self.specs, pending, lambda tag: self.resolve(tag, say), self.settings.workers)
            self._close_thread_engines()  # the build threads are done; a rebuild starts new ones
            if (self.summary.built, self.summary.failed) != before:
                # this build changed the images: list them now, so that the next build can keep the list
                self._listing = tagged_images(self.engine, self.settings.cache_dir, fresh=True)
        except BaseException:
            self.interrupt()
            raise

    def interrupt(self) -> None:
        """Drop the connections and cancel the builds; the build threads are daemons, so nothing
        waits for them. The classic builder's finished steps' images are removed here."""
        self.close()
        if self._builder is not None:
            self._builder.cancel()

    def refresh(self, specs: Mapping[str, ImageSpec], image_map: Mapping[str, str]) -> None:
        """Forget only what changed: an image whose inputs are the same keeps its figures."""
        super().refresh(specs, image_map)
        self.image_map = dict(image_map)
        stale = {
            t
            for t in self.entries
            if t not in self.specs or self._fingerprint(self.specs[t]) != self._fingerprints.get(t)
        }
        changed = True
        while changed:  # an image built `after:` or `together` with a stale one is stale too
            changed = False
            for tag, spec in self.specs.items():
                linked = {spec.after, spec.together} | {t for t, o in self.specs.items() if o.together == tag}
                if tag not in stale and linked & stale and tag in self.entries:
                    stale.add(tag)
                    changed = True
        for tag in stale:
            self.entries.pop(tag, None)
            self._fingerprints.pop(tag, None)

    def _fingerprint(self, spec: ImageSpec) -> str:
        """What decides whether an image must be looked at again; no engine work."""
        try:
            digest = self.contexts.of(spec).digest
        except LivedocsError as error:
            digest = f"error:{error}"
        settings = (spec.dockerfile, spec.context, spec.target, sorted(spec.build_args.items()))
        settings += (spec.expect_failure, spec.after, sorted(spec.edit.items()), spec.run, spec.together)
        return hashlib.sha256(f"{digest}|{settings!r}".encode()).hexdigest()

    def _check_bases(self, tags: Iterable[str]) -> None:
        """Every base image the builds need is in the engine, or one error says which are not."""
        missing: dict[str, list[str]] = {}
        for tag in sorted(tags):
            spec = self.specs[tag]
            try:
                text = rewrite_images(spec.dockerfile_path.read_text(encoding="utf-8"), self.image_map)
            except (OSError, UnicodeDecodeError):
                continue  # reported by the image's own build
            shown = spec.dockerfile_path.relative_to(self.root).as_posix()
            for base in base_images(text):
                if self._base_id(base.ref) is None:
                    missing.setdefault(base.ref, []).append(f"{shown}:{base.line}")
        if not missing:
            return
        listing = "; ".join(
            f"{ref} (used at {places[0]}" + (f" and {len(places) - 1} more)" if len(places) > 1 else ")")
            for ref, places in sorted(missing.items())
        )
        if set(missing) <= set(self.image_map.values()):
            hint = "run `make standins` to build the stand-ins"
        else:
            hint = (
                "this machine cannot pull: set LIVEDOCS_IMAGE_MAP=tests/standins/image-map.yml "
                "and run `make standins`, or pull them on a machine that can"
            )
        raise LivedocsError(f"base images not in the engine: {listing}; {hint}")

    # -- one image ----------------------------------------------------------------

    def resolve(self, tag: str, say: Progress, force: bool = False) -> None:
        """Measure one image (building it if stale, or if `force`); a failure goes to `problems`."""
        spec = self.specs[tag]
        try:
            if spec.after and spec.after in self.problems:
                raise spec.error(f"cannot build {tag}: {spec.after} (its after:) failed")
            # One build of a tag at a time on this engine, from any checkout of this machine: a
            # second waits, then takes what the first made (`_shared`) rather than replace it.
            with locked(self._engine_dir / "builds" / f"{tag.replace('/', '_')}.lock"):
                entry, built = self._measure(spec, say, force)
                if built:
                    self._share(entry)
            with self._lock:
                self.entries[tag] = entry
                self.record.put(tag, self.store, entry)
                if built:
                    self.summary.built += 1
                else:
                    self.summary.cached += 1
        except LivedocsError as error:
            self._failed(tag, error, say)
        except Exception as error:  # a bug, not a user's mistake: still one clear report
            detail = traceback.format_exc()
            self._failed(tag, LivedocsError(f"internal error while building {tag}: {error!r}", detail=detail), say)

    def _failed(self, tag: str, error: LivedocsError, say: Progress) -> None:
        with self._lock:
            self.problems[tag] = error
            self.summary.failed += 1
        say(f"livedocs: {tag} failed: {error}")

    def _measure(self, spec: ImageSpec, say: Progress, force: bool) -> tuple[Measurement, bool]:
        """(the image's measurement, whether a build ran)."""
        fingerprint = self._fingerprint(spec)
        with self._lock:
            self._fingerprints[spec.tag] = fingerprint
        plan = self._plan(spec, self.builder.name if force else self._builder_name())
        current = None if force else self._current(plan)
        if current is None and not force and self.builder.name != plan.builder:
            plan = self._plan(spec, self.builder.name)  # keyed for a builder this engine lacks: key again
            current = self._current(plan)
        if current is None and not force:
            current = self._shared(plan)
        if current is not None:
            return current, False
        if spec.expect_failure:
            return self._measure_failure(plan, say), True
        existing = self._tagged(spec.tag)
        if spec.edit:
            self._prepare_edited(spec, say)
            existing = None
        return self._build_image(plan, existing.id if existing else None, say), True

    def _plan(self, spec: ImageSpec, builder: str) -> Plan:
        """What `spec` is built from, keyed for `builder`."""
        context = self.contexts.of(spec)
        bases = self._bases(spec, context.dockerfile_text)
        key = cache_key(spec, context, {name: base.id for name, base in bases.items()}, builder)
        partners = [t for t, other in sorted(self.specs.items()) if spec.together == t or other.together == spec.tag]
        if partners:  # timings compared with another image's: a change to either rebuilds both
            inputs = [key, *(self._fingerprint(self.specs[t]) for t in partners)]
            key = hashlib.sha256("|".join(inputs).encode()).hexdigest()
        sources = source_digest(self.settings.root, spec)
        return Plan(spec, context, key, bases, self._shown(spec), builder, sources)

    @functools.cached_property
    def _engine_dir(self) -> Path:
        return self.settings.engine_dir(self._main_engine.engine_id())  # one /info, which the listing reuses

    def _share(self, entry: Measurement) -> None:
        """Leave this measurement where another build of this machine on this engine finds it."""
        shared = self._engine_dir / "measured" / f"{entry.key}.json"
        shared.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(shared, json.dumps(entry.to_json(), sort_keys=True))

    def _shared(self, plan: Plan) -> Measurement | None:
        """What another build (another process or checkout) measured of `plan`, if the engine's
        image of the tag is still the one it measured: taken as it is, not built again."""
        try:
            shared = Measurement.from_json(json.loads((self._engine_dir / "measured" / f"{plan.key}.json").read_text()))
        except (OSError, ValueError):
            return None
        if shared.key != plan.key or shared.example != plan.spec.example:
            return None
        if not plan.spec.expect_failure:
            existing = self.engine.inspect(plan.spec.tag)  # now, not from this build's first listing
            if existing is None or existing.labels.get(LABEL_KEY) != plan.key or existing.id != shared.image_id:
                return None
        elif shared.error is None:
            return None
        return replace(shared, sources=plan.sources)

    def _current(self, plan: Plan) -> Measurement | None:
        """The recorded measurement, if the engine's image (or, for a failure, the record) is
        still what `plan` builds."""
        recorded = self.record.get(plan.spec.tag, self.store)
        if recorded is None or recorded.key != plan.key:
            return None
        if recorded.sources != plan.sources:  # the same build, recorded before sources were: say what they are
            recorded = replace(recorded, sources=plan.sources)
        if plan.spec.expect_failure:
            return recorded if recorded.error is not None else None
        existing = self._tagged(plan.spec.tag)
        if existing is None or existing.labels.get(LABEL_KEY) != plan.key or existing.id != recorded.image_id:
            return None
        return recorded

    def _measure_failure(self, plan: Plan, say: Progress) -> Measurement:
        """A build meant to fail: its real error, or an error of ours if it built."""
        say(f"livedocs: building {plan.spec.tag} (expected to fail) from {plan.dockerfile}")
        started = time.monotonic()
        unexpected = f"{stage_repository(plan.spec.tag)}:unexpected"
        try:
            self.builder.build(self._request(plan, plan.context, unexpected))
        except BuildFailed as failure:
            say(f"livedocs: {plan.spec.tag} failed as expected in {time.monotonic() - started:.1f}s")
            return self._measurement(plan, error=failure.detail or failure.message, failed_line=failure.line)
        self.engine.remove_image(unexpected)
        raise plan.spec.error(
            f"{plan.spec.tag} is declared 'expect: failure' but its build succeeded ({plan.dockerfile})"
        )

    def _request(self, plan: Plan, context: BuildContext, tag: str) -> BuildRequest:
        labels = {LABEL_KEY: plan.key, LABEL_EXAMPLE: plan.spec.example}
        return BuildRequest(context, tag, labels, plan.spec.target, plan.spec.build_args)

    def _measurement(self, plan: Plan, **figures: object) -> Measurement:
        """A measurement of `plan`'s image on this engine, now: its figures as given."""
        return Measurement(
            key=plan.key,
            example=plan.spec.example,
            dockerfile=plan.dockerfile,
            base_images=plan.bases,
            engine=self.engine_facts,
            measured_at=iso_utc(clock.now()),
            sources=plan.sources,
            **figures,  # type: ignore[arg-type]
        )

    def _prepare_edited(self, spec: ImageSpec, say: Progress) -> None:
        """An edited variant measures what the cache gives after an edit.

        With the classic builder its base image is built again first (from the cache,
        normally in no time), so that its layers are the newest in the cache whatever was
        built since; and the variant's own earlier layers (image and stages) leave the
        cache, or every step would hit it.
        """
        if spec.after and self.builder.rewarms_before_edits:
            say(f"livedocs: warming the cache with {spec.after} before {spec.tag}")
            self.resolve(spec.after, say, force=True)
        if self.engine.inspect(spec.tag) is not None:
            self.engine.remove_image(spec.tag)  # untag; deleted if nothing else names it
        self.builder.forget_stages(spec.tag)

    def _build_image(self, plan: Plan, replaced: str | None, say: Progress) -> Measurement:
        """Build the image (tagged as the chapter names it), then read its figures."""
        spec = plan.spec
        say(f"livedocs: building {spec.tag} from {plan.dockerfile}")
        started = time.monotonic()
        sent = build_context(spec, self.root, self.image_map, nonce=uuid.uuid4().hex) if spec.edit else plan.context
        try:
            built = self.builder.build(self._request(plan, sent, spec.tag))
        except BuildFailed as failure:
            raise BuildFailed(
                f"building {spec.tag} failed: {failure.detail}",
                path=plan.dockerfile,
                line=failure.line,
                detail=failure.detail,
            ) from None
        if replaced is not None and replaced != built.image_id:
            self.engine.remove_if_dangling(replaced)  # untagged by this build: nobody else needs it
        measurement = self._read_image(plan, built)
        size = human_size(measurement.size_bytes or 0)
        say(f"livedocs: built {spec.tag} in {time.monotonic() - started:.1f}s: {size}")
        return measurement

    def _read_image(self, plan: Plan, built: Built) -> Measurement:
        """The figures of a freshly built image, as the engine reports them."""
        info = self.engine.inspect(built.image_id)
        if info is None:
            raise plan.spec.error(f"{plan.spec.tag} was built but the engine cannot find it")
        size, content = self.engine.listed_sizes(info.id)
        history = self.engine.history(info.id)  # newest first
        rows = [(layer.created_by, layer.size_bytes) for layer in history]
        inherited = self._inherited_rows(plan, rows)
        layers = [
            LayerEntry(layer.created_by, layer.size_bytes, number >= len(history) - inherited)
            for number, layer in enumerate(history)
        ]
        return self._measurement(
            plan,
            size_bytes=size,
            image_id=info.id,
            created=info.created,
            layers=tuple(layers),
            steps=built.steps,
            listing=built.listing,
            context_bytes=built.context_bytes,
            content_size_bytes=content,
        )

    def _inherited_rows(self, plan: Plan, rows: list[tuple[str, int]]) -> int:
        """How many of the oldest history rows the final stage's base image brought."""
        found = 0
        for base in plan.bases.values():
            with self._lock:
                theirs = self._base_rows.get(base.id)
            if theirs is None:
                theirs = [(layer.created_by, layer.size_bytes) for layer in self.engine.history(base.id)]
                with self._lock:
                    self._base_rows[base.id] = theirs
            if theirs and len(theirs) > found and rows[-len(theirs) :] == theirs:
                found = len(theirs)
        return found

    def _shown(self, spec: ImageSpec) -> str:
        return spec.dockerfile_path.relative_to(self.root).as_posix()

    # -- base images, builds, stages ------------------------------------------------

    def _tagged(self, ref: str) -> ImageInfo | None:
        """The image `ref` names, from one listing of the engine's images per `prepare`."""
        with self._lock:
            if self._listing is None:
                self._listing = tagged_images(self.engine, self.settings.cache_dir)
            listing = self._listing
        name = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
        found = listing.get(name)
        return found if found is not None else (None if "@" not in ref else self.engine.inspect(ref))

    def _base_id(self, ref: str) -> tuple[str, bool] | None:
        with self._lock:
            if ref in self._base_ids:
                return self._base_ids[ref]
        found = self._tagged(ref) or self.engine.inspect(ref)
        if found is None:
            return None
        result = (found.id, LABEL_STANDIN in found.labels)
        with self._lock:
            self._base_ids[ref] = result
        return result

    def _bases(self, spec: ImageSpec, dockerfile_text: str) -> dict[str, BaseImage]:
        """The base images of a Dockerfile as sent, by the name the reader's Dockerfile uses."""
        reverse = {local: official for official, local in self.image_map.items()}
        bases = {}
        for base in base_images(dockerfile_text):
            found = self._base_id(base.ref)
            if found is None:  # _check_bases reports these first; an image removed since lands here
                raise LivedocsError(
                    f"base image {base.ref} is not in the engine", path=self._shown(spec), line=base.line
                )
            bases[reverse.get(base.ref, base.ref)] = BaseImage(base.ref, found[0], found[1])
        return bases

    # -- run checks -------------------------------------------------------------------

    def run_check(self, spec: ImageSpec, run: RunSpec, path: str) -> Response:
        """Start the image, GET its paths (this one too), record the answers."""
        measurement = self.measurement(spec.tag)
        paths = list(dict.fromkeys([*run.paths, path]))
        try:
            answers = self.engine.http_check(
                measurement.image_id,
                port=run.port,
                paths=paths,
                timeout=run.timeout,
                cap_add=run.cap_add,
            )
        except LivedocsError as error:
            raise spec.error(f"run check of {spec.tag} failed: {error.message}", detail=error.detail) from None
        answered = {p: Response(a.status, a.body, a.reason, a.headers) for p, a in answers.items()}
        updated = measurement.with_responses(answered)
        with self._lock:
            self.entries[spec.tag] = updated
            self.record.put(spec.tag, self.store, updated)
        return updated.responses[path]


def choose_builder(
    settings: Settings, host: str | None, image_map: Mapping[str, str], engine: Callable[[], Engine]
) -> Builder:
    """BuildKit where `docker buildx` answers (or as LIVEDOCS_BUILDER says), else the classic builder."""
    if settings.builder != "classic":
        version = buildx_available(host)
        if version is not None:
            return BuildKit(host, version, image_map, engine)
        if settings.builder == "buildkit":
            raise LivedocsError("LIVEDOCS_BUILDER=buildkit, but `docker buildx version` does not answer")
        notice.warning("livedocs: `docker buildx` does not answer; building with the deprecated classic builder")
    return Classic(host, engine, image_map)
