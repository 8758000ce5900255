"""What each image is built from, and whether the engine already holds it.

A `Plan` is an image's inputs as sent (context, base images, builder) under one key; an
image is current when the engine's image of its tag carries that key and is the one the
record (or another build of this machine, `shelf.py`) measured. No engine work but the
index's one listing per build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .context import BuildContext, Contexts, cache_key, source_digest
from .engine import LABEL_KEY
from .errors import LivedocsError
from .examples import ImageSpec
from .imageindex import ImageIndex
from .measurement import BaseImage, Measurement
from .shelf import Shelf


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
    platform: str | None = None  # built for this platform, not the engine's own (`--platform`)
    fails: bool = False  # the build must fail on this engine's image store

    @property
    def labelled(self) -> bool:
        """Whether the image carries the site's labels (its key). An image built with its own
        `platforms:` does not: chapter 3 compares the IDs of two builds' images, and labels are
        part of an image's configuration, so its ID. Its image is then known by its ID alone."""
        return not self.spec.platforms

    @property
    def build_platforms(self) -> str | None:
        """`--platform`: the image's own platforms (`platforms:`), else this view's platform
        when it is not the engine's own, else none."""
        return ",".join(self.spec.platforms) or self.platform

    @property
    def engine_tag(self) -> str:
        """The tag the image has in the engine (`engine_tag`)."""
        return engine_tag(self.spec.tag, self.platform)


def _labelled_as(labels: Mapping[str, str], plan: Plan) -> bool:
    """Whether an image's labels are those `plan` builds it with: its key, or none (`Plan.labelled`)."""
    return labels.get(LABEL_KEY) == (plan.key if plan.labelled else None)


def engine_tag(tag: str, platform: str | None) -> str:
    """The tag of an image in the engine: the reader's, or for an image built for another
    platform than the engine's own, the reader's with the platform after it
    (`go-app-multi:latest-linux-arm64`). overlay2 holds one platform per tag, and the two
    platforms' figures are measured side by side. The pages always name the reader's tag."""
    if not platform:
        return tag
    repository, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    return f"{repository}:{version}-{platform.replace('/', '-')}"


class Planner:
    def __init__(
        self,
        root: Path,
        contexts: Contexts,
        index: ImageIndex,
        builder: str,
        platform: str | None = None,
        *,
        store: str = "",
    ) -> None:
        self.root = root
        self.store = store  # the engine's image store: where an image's expected outcome is decided
        self.contexts = contexts
        self.index = index
        self.builder = builder
        self.platform = platform  # None: the engine's own

    def fingerprint(self, spec: ImageSpec) -> str:
        """What decides whether an image must be looked at again; no engine work."""
        try:
            context = self.contexts.of(spec)
            digest = context.digest + "".join(f" {k}={v}" for k, v in sorted(context.secret_digests.items()))
        except LivedocsError as error:
            digest = f"error:{error}"
        settings = (spec.dockerfile, spec.context, spec.target, sorted(spec.build_args.items()))
        settings += (spec.expect_failure, spec.after, sorted(spec.edit.items()), spec.run, spec.together)
        settings += (sorted(spec.secrets.items()),) if spec.secrets else ()
        settings += (spec.no_cache_filter,) if spec.no_cache_filter else ()
        settings += (spec.platforms, spec.machine, sorted(spec.expect_by_store.items())) if spec.platforms else ()
        return hashlib.sha256(f"{digest}|{settings!r}".encode()).hexdigest()

    def stale(self, measured: Mapping[str, str], specs: Mapping[str, ImageSpec]) -> set[str]:
        """Of the images `measured` (tag -> fingerprint), those whose inputs changed, and every
        image built `after:` or `together` with one of them."""
        stale = {
            t for t, fingerprint in measured.items() if t not in specs or self.fingerprint(specs[t]) != fingerprint
        }
        changed = True
        while changed:
            changed = False
            for tag, spec in specs.items():
                linked = {spec.after, spec.together} | {t for t, o in specs.items() if o.together == tag}
                if tag not in stale and linked & stale and tag in measured:
                    stale.add(tag)
                    changed = True
        return stale

    def plan(self, spec: ImageSpec, specs: Mapping[str, ImageSpec], image_map: Mapping[str, str]) -> Plan:
        """What `spec` is built from, keyed for this planner's builder."""
        context = self.contexts.of(spec)
        bases = self.index.bases(spec, context.dockerfile_text, image_map, *self.contexts.all_maps())
        platform = ",".join(spec.platforms) or self.platform
        key = cache_key(spec, context, {name: base.id for name, base in bases.items()}, self.builder, platform)
        partners = [t for t, other in sorted(specs.items()) if spec.together == t or other.together == spec.tag]
        # timings compared with another image's: a change to either rebuilds both; and an image built
        # `after:` another in its folder sends only what differs from it, so what came before is an input
        inputs = [self.fingerprint(specs[t]) for t in [*partners, *self._predecessors(spec, specs)]]
        if inputs:
            key = hashlib.sha256("|".join([key, *inputs]).encode()).hexdigest()
        sources = source_digest(self.root, spec)
        shown = spec.dockerfile_path.relative_to(self.root).as_posix()
        fails = spec.fails_on(self.store)
        return Plan(spec, context, key, bases, shown, self.builder, sources, self.platform, fails)

    @staticmethod
    def _predecessors(spec: ImageSpec, specs: Mapping[str, ImageSpec]) -> list[str]:
        """The images built in `spec`'s folder before it, nearest first (its `after:` chain)."""
        chain: list[str] = []
        tag = spec.after
        while tag and tag in specs and tag not in chain:
            chain.append(tag)
            tag = specs[tag].after
        return chain

    def current(self, plan: Plan, recorded: Measurement | None) -> Measurement | None:
        """The recorded measurement, if the engine's image (or, for a failure, the record) is
        still what `plan` builds."""
        if recorded is None or recorded.key != plan.key:
            return None
        if recorded.sources != plan.sources:  # the same build, recorded before sources were: say what they are
            recorded = replace(recorded, sources=plan.sources)
        if plan.fails:
            return recorded if recorded.error is not None else None
        existing = self.index.tagged(plan.engine_tag)
        if existing is None or not _labelled_as(existing.labels, plan) or existing.id != recorded.image_id:
            return None
        return recorded

    def shared(self, plan: Plan, shelf: Shelf) -> Measurement | None:
        """What another build (another process or checkout) measured of `plan`, if the engine's
        image of the tag is still the one it measured: taken as it is, not built again."""
        shared = shelf.get(plan.key)
        if shared is None or shared.example != plan.spec.example:
            return None
        if not plan.fails:
            existing = self.index.inspect_now(plan.engine_tag)  # now, not from this build's first listing
            if existing is None or not _labelled_as(existing.labels, plan) or existing.id != shared.image_id:
                return None
        elif shared.error is None:
            return None
        return replace(shared, sources=plan.sources)
