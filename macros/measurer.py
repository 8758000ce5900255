"""Building one planned image and reading its figures off the engine.

`build` runs the builder on the plan's context and reads the image it made (size, content
size, layers, steps, what the builder printed); `build_failure` runs a build declared to
fail and keeps its error. Either gives a `Measurement` stamped with the engine and the time.
Each build is made from the folder its experiment uses (`folders.py`), the files dated by
their last commit (`filetimes.py`) and an edited file by the moment of the edit, and runs
alone on the machine (`Settings.build_lock`): no other build, on any engine, from any
checkout, runs meanwhile. Everything else (planning, reading images, run checks) stays
parallel.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from . import clock
from .builders import Builder, Built, stage_repository
from .context import BuildContext, BuildRequest, Contexts, build_context
from .engine import LABEL_EXAMPLE, LABEL_KEY, Engine
from .errors import BuildFailed
from .files import locked
from .folders import ContextFolders
from .imageindex import ImageIndex
from .measurement import EngineFacts, LayerEntry, Measurement
from .planner import Plan
from .sources import Progress
from .units import human_size, iso_utc


class Measurer:
    def __init__(
        self,
        root: Path,
        *,
        engine: Callable[[], Engine],
        builder: Callable[[], Builder],
        facts: Callable[[], EngineFacts],
        index: ImageIndex,
        contexts: Contexts,
        folders: Callable[[], ContextFolders],
        alone: Path,
    ) -> None:
        self.root = root
        self._engine = engine  # this thread's connection
        self._builder = builder  # connected when a build first needs it
        self._facts = facts  # the engine and builder, for the record
        self.index = index
        self.contexts = contexts
        self._folders = folders  # this engine's (its ID is asked only when something is built)
        self._alone = alone  # the machine-wide lock every build holds (Settings.build_lock)

    def build(
        self, plan: Plan, base: Plan | None, image_map: Mapping[str, str], replaced: str | None, say: Progress
    ) -> Measurement:
        """Build the image (tagged as the chapter names it), then read its figures; an image
        `replaced` by it is removed if nothing else names it. `base` is the plan of the image
        it is built `after:`, if any: the same experiment before the edit."""
        spec = plan.spec
        builder = self._builder()  # before saying "building": there may be none
        folders = self._folders()
        folder = folders.of(base.spec.tag) if base is not None else None
        if base is not None and folder is None:  # its folder is gone: send the base once first
            folder = folders.fresh(base.spec.example)
            then = f"{spec.tag}'s edit" if spec.edit else spec.tag
            sending = f"livedocs: sending the context of {base.spec.tag} before {then}"
            with locked(folders.lock(folder)), self._alone_on_the_machine(say, sending):
                self._build_from(builder, base, base.context, folder, cache_only=True)
            folders.record(base.spec.tag, folder)
        folder = folder if folder is not None else folders.fresh(spec.example)
        # an edited variant is sent with a nonce: its context differs from its original's
        sent = (
            build_context(spec, self.root, *self.contexts.maps_of(spec), nonce=uuid.uuid4().hex)
            if spec.edit
            else plan.context
        )
        try:
            building = f"livedocs: building {spec.tag} from {plan.dockerfile}"
            with locked(folders.lock(folder)), self._alone_on_the_machine(say, building) as elapsed:
                built = self._build_from(builder, plan, sent, folder)
                seconds = elapsed()
            if base is None:
                folders.record(spec.tag, folder)
        except BuildFailed as failure:
            raise BuildFailed(
                f"building {spec.tag} failed: {failure.detail}",
                path=plan.dockerfile,
                line=failure.line,
                detail=failure.detail,
            ) from None
        if replaced is not None and replaced != built.image_id:
            self._engine().remove_if_dangling(replaced)  # untagged by this build: nobody else needs it
        measurement = self._read_image(plan, built)
        size = human_size(measurement.size_bytes or 0)
        say(f"livedocs: built {spec.tag} in {seconds:.1f}s: {size}")
        return measurement

    def build_failure(self, plan: Plan, say: Progress) -> Measurement:
        """A build meant to fail: its real error, or an error of ours if it built."""
        builder = self._builder()
        building = f"livedocs: building {plan.spec.tag} (expected to fail) from {plan.dockerfile}"
        unexpected = f"{stage_repository(plan.engine_tag.replace(':', '-'))}:unexpected"
        with self._alone_on_the_machine(say, building) as elapsed:
            try:
                builder.build(self._request(plan, plan.context, unexpected))
                failure = None
            except BuildFailed as failed:
                failure = failed
            seconds = elapsed()
        if failure is not None:
            say(f"livedocs: {plan.spec.tag} failed as expected in {seconds:.1f}s")
            return self.measurement(plan, error=failure.detail or failure.message, failed_line=failure.line)
        self._engine().remove_image(unexpected)
        raise plan.spec.error(
            f"{plan.spec.tag} is declared 'expect: failure' but its build succeeded ({plan.dockerfile})"
        )

    def measurement(self, plan: Plan, **figures: object) -> Measurement:
        """A measurement of `plan`'s image on this engine, now: its figures as given."""
        return Measurement(
            key=plan.key,
            example=plan.spec.example,
            dockerfile=plan.dockerfile,
            base_images=plan.bases,
            engine=self._facts(),
            measured_at=iso_utc(clock.now()),
            expect_by_store=dict(plan.spec.expect_by_store),
            sources=plan.sources,
            **figures,  # type: ignore[arg-type]
        )

    def _request(self, plan: Plan, context: BuildContext, tag: str) -> BuildRequest:
        labels = {LABEL_KEY: plan.key, LABEL_EXAMPLE: plan.spec.example} if plan.labelled else {}
        spec = plan.spec
        return BuildRequest(
            context,
            tag,
            labels,
            spec.target,
            spec.build_args,
            no_cache_filter=spec.no_cache_filter,
            platform=plan.build_platforms,
        )

    def _build_from(
        self, builder: Builder, plan: Plan, context: BuildContext, folder: Path, cache_only: bool = False
    ) -> Built:
        """Build `context` laid out in `folder`: each file dated by its last commit, an edited
        one by now (the moment of the edit)."""
        times = self.contexts.times(context)
        edited_at = int(clock.now().timestamp())
        times.update(dict.fromkeys(context.edited, edited_at))
        request = replace(self._request(plan, context, plan.engine_tag), folder=folder, times=times)
        built = builder.build(replace(request, cache_only=cache_only))
        if plan.engine_tag == plan.spec.tag:
            return built
        # the reader's build names the reader's tag: `naming to docker.io/library/go-app-multi:latest`
        tag = plan.spec.tag
        shown = tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"
        return replace(built, listing=built.listing.replace(plan.engine_tag, shown))

    @contextmanager
    def _alone_on_the_machine(self, say: Progress, starting: str) -> Iterator[Callable[[], float]]:
        """Hold the machine-wide build lock (its durations and listing are a build's own), say
        `starting` once it is held, and give the seconds since then."""
        with locked(self._alone):
            say(starting)
            started = time.monotonic()
            yield lambda: time.monotonic() - started

    def _read_image(self, plan: Plan, built: Built) -> Measurement:
        """The figures of a freshly built image, as the engine reports them."""
        engine = self._engine()
        info = engine.inspect(built.image_id)
        if info is None:
            raise plan.spec.error(f"{plan.spec.tag} was built but the engine cannot find it")
        if plan.platform is not None and self._facts().store == "containerd":
            engine.unpack(info.id, plan.platform)  # as on a machine of that platform
        listed = engine.listed(info.id)
        history = engine.history(info.id)  # newest first
        inherited = self.index.inherited_rows(
            plan.bases.values(), [(row.created_by, row.size_bytes) for row in history]
        )
        layers = [
            LayerEntry(layer.created_by, layer.size_bytes, number >= len(history) - inherited)
            for number, layer in enumerate(history)
        ]
        secrets = {secret: path.read_bytes().strip() for secret, path in plan.context.secrets.items()}
        held = engine.layers_holding(info.id, secrets) if secrets else {}
        return self.measurement(
            plan,
            secret_layers=held,
            size_bytes=listed.size_bytes,
            image_id=info.id,
            created=info.created,
            layers=tuple(layers),
            steps=built.steps,
            listing=built.listing,
            context_bytes=built.context_bytes,
            content_size_bytes=listed.content_bytes,
            image_platform=info.platform,
            media_type=info.media_type,
            platform_rows=listed.platforms if plan.spec.platforms or plan.platform else (),
        )
