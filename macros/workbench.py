"""The workbench: every example built (or replayed), measured and recorded.

This is the product, independent of any site generator: give it the repository root,
ask it for an image's figures, a container's response or a build's error; it builds
what is stale on a real engine, reuses what is not, and keeps the record. The mkdocs
adapter in `macros/__init__.py` is one thin user of it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .claims import HttpResponse
from .context import BuildContext, build_context, cache_key
from .dockerfile import base_images, rewrite_images, step_line
from .engine import BUILDER, LABEL_EXAMPLE, LABEL_KEY, LABEL_STANDIN, BuildLog, Engine
from .errors import BuildFailed, EngineUnavailable, LivedocsError, RecordError
from .examples import ImageSpec, load_examples
from .imagemap import VARIABLE as IMAGE_MAP_VARIABLE
from .imagemap import load_image_map
from .record import Record, locked
from .units import human_size

log = logging.getLogger("mkdocs.livedocs")
MODES = ("auto", "live", "replay")
MODE_VARIABLE = "LIVEDOCS_ENGINE"
RECORD = "examples/measurements.json"
STAGE_REPOSITORY = "livedocs-stage"


def engine_timeout() -> float:
    """Seconds an engine call may take (LIVEDOCS_ENGINE_TIMEOUT, default 30); builds have longer."""
    value = os.environ.get("LIVEDOCS_ENGINE_TIMEOUT", "30")
    try:
        seconds = float(value)
    except ValueError:
        raise LivedocsError(f"LIVEDOCS_ENGINE_TIMEOUT={value!r}: expected a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise LivedocsError(f"LIVEDOCS_ENGINE_TIMEOUT={value!r}: expected between 0 and 3600 seconds")
    return seconds


def is_site_label(instruction: str) -> bool:
    """The LABEL steps and layers this site adds to every image it builds."""
    return (
        instruction.replace("/bin/sh -c #(nop)", "").strip().startswith(("LABEL org.livedocs.", "LABEL " + LABEL_KEY))
    )


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Summary:
    built: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        failed = f", failed {self.failed}" if self.failed else ""
        return f"built {self.built}, cached {self.cached}{failed}, in {self.seconds:.1f}s"


class Workbench:
    """Builds, measures and records the examples under `root/examples`."""

    def __init__(self, root: Path, mode: str | None = None, workers: int | None = None) -> None:
        self.root = root.resolve()
        mode = (mode if mode is not None else os.environ.get(MODE_VARIABLE, "auto")).strip().lower() or "auto"
        if mode not in MODES:
            raise LivedocsError(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(MODES)}")
        self.requested_mode = mode
        self.specs = load_examples(self.root)
        # The lock lives outside examples/, which `mkdocs serve` watches.
        self.record = Record(self.root / RECORD, RECORD, self.root / ".cache" / "livedocs" / "record.lock")
        self.image_map = load_image_map(self.root) if mode != "replay" else {}
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.engine: Engine | None = None
        self.mode = "replay"
        self.engine_host = os.environ.get("DOCKER_HOST")
        self.notice: str | None = None  # why figures are replayed, when they are
        self.entries: dict[str, dict[str, Any]] = {}
        self.problems: dict[str, LivedocsError] = {}
        self.summary = Summary()
        self._lock = threading.RLock()
        self._base_ids: dict[str, tuple[str, bool]] = {}
        self._fingerprints: dict[str, str] = {}
        self._in_flight: list[BuildLog] = []  # what each entry was resolved from

    # -- set-up -----------------------------------------------------------------

    def connect(self) -> None:
        """Choose live or replay as LIVEDOCS_ENGINE says; EngineUnavailable in live mode."""
        if self.requested_mode == "replay":
            self.mode, self.notice = (
                "replay",
                f"{MODE_VARIABLE}=replay: figures are the recorded ones",
            )
            return
        try:
            self.engine = Engine.connect(timeout=engine_timeout())
            self.engine.info()
            self.mode = "live"
        except EngineUnavailable as error:
            if self.requested_mode == "live":
                raise EngineUnavailable(f"{MODE_VARIABLE}=live, but {error.message}") from None
            self.mode = "replay"
            self.notice = f"{error.message}; showing the figures recorded in {RECORD}"

    def refresh(self) -> list[str]:
        """Before a rebuild in the same process (`mkdocs serve`): forget only what changed.

        Manifests and contexts are read again (no engine work); an image whose inputs
        are unchanged keeps its figures, so a prose edit costs no engine round trip.
        Failed images are tried again. The tags that will be resolved anew are returned.
        """
        self.specs = load_examples(self.root)
        if self.requested_mode != "replay":
            self.image_map = load_image_map(self.root)
        self.summary = Summary()
        stale = set(self.problems)
        for tag in list(self.entries):
            spec = self.specs.get(tag)
            if spec is None or self.mode == "replay":
                continue
            if self._fingerprint(spec) != self._fingerprints.get(tag):
                stale.add(tag)
        changed = True
        while changed:  # an image built `after:` a stale one is stale too
            changed = False
            for tag, spec in self.specs.items():
                if tag not in stale and spec.after in stale and tag in self.entries:
                    stale.add(tag)
                    changed = True
        for tag in stale:
            self.entries.pop(tag, None)
            self.problems.pop(tag, None)
            self._fingerprints.pop(tag, None)
        return sorted(stale)

    def _fingerprint(self, spec: ImageSpec) -> str:
        try:
            digest = build_context(spec, self.root, self.image_map).digest
        except LivedocsError as error:
            digest = f"error:{error}"
        settings = (
            spec.dockerfile,
            spec.context,
            spec.target,
            sorted(spec.build_args.items()),
            spec.expect_failure,
            spec.after,
            sorted(spec.edit.items()),
            spec.run,
        )
        return hashlib.sha256(f"{digest}|{settings!r}".encode()).hexdigest()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    # -- preparing every image --------------------------------------------------

    def prepare(
        self,
        tags: Iterable[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Summary:
        """Resolve images (all by default): build what is stale, in dependency order.

        Independent images build in parallel, bounded by `workers`; an image declared
        `after:` another waits for it. A failure is kept in `problems` and reported
        where a page uses the image; it does not stop the others.
        """
        say = progress or log.info
        wanted = list(self.specs) if tags is None else [t for t in tags if t in self.specs]
        pending = {t for t in wanted if t not in self.entries and t not in self.problems}
        for tag in list(pending):  # an image's `after:` comes along
            after = self.specs[tag].after
            while after and after not in self.entries:
                pending.add(after)
                after = self.specs[after].after
        started = time.monotonic()
        before = (self.summary.built, self.summary.cached, self.summary.failed)
        if self.mode == "replay":
            for tag in sorted(pending):
                self._replay(tag)
            return self.summary
        self._check_bases(pending)
        # Images built `after:` another measure the layer cache that image left, so
        # they are built last, one at a time, with nothing else building: a parallel
        # build could add a newer layer that the classic builder would pick instead.
        independent = sorted(t for t in pending if self.specs[t].after is None)
        dependent = [t for t in self._dependency_order(pending) if self.specs[t].after is not None]
        try:
            self._in_parallel(independent, say)
            for tag in dependent:
                self._resolve_live(tag, say)
        except BaseException:
            # Interrupted (SIGINT, SIGTERM): drop the connection and let the process go.
            # The build threads are daemons, so nothing waits for them, and the engine
            # cancels a classic build whose client went away, removing its container;
            # the images its finished steps made are removed here.
            self.close()
            self._discard_in_flight()
            raise
        self.summary.seconds += time.monotonic() - started
        built, cached, failed = (
            self.summary.built - before[0],
            self.summary.cached - before[1],
            self.summary.failed - before[2],
        )
        if built or failed:
            say(
                f"livedocs: built {built}, cached {cached}"
                + (f", failed {failed}" if failed else "")
                + f", in {time.monotonic() - started:.1f}s"
            )
        else:
            log.debug("livedocs: %d images cached", cached)
        return self.summary

    def _check_bases(self, tags: Iterable[str]) -> None:
        """Every base image the builds need is in the engine, or one error says which are not.

        A missing base is a matter of the machine, not of an example: it is reported
        once, with where each is used, instead of once per image and page.
        """
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
        reverse = {local: official for official, local in self.image_map.items()}
        listing = "; ".join(
            f"{ref} (used at {places[0]}" + (f" and {len(places) - 1} more)" if len(places) > 1 else ")")
            for ref, places in sorted(missing.items())
        )
        if all(ref in reverse for ref in missing):
            hint = "run `make standins` to build the stand-ins"
        else:
            hint = (
                f"this machine cannot pull: set {IMAGE_MAP_VARIABLE}=tests/standins/image-map.yml "
                "and run `make standins`, or pull them on a machine that can"
            )
        raise LivedocsError(f"base images not in the engine: {listing}; {hint}")

    def _in_parallel(self, tags: list[str], say: Callable[[str], None]) -> None:
        """Resolve `tags` on up to `workers` daemon threads; return when all are done.

        Images of one example folder are built one after another by the same thread:
        they share their first steps (same base, same sources), and built at the same
        time each would miss the cache and compile the same code again. Different
        examples build in parallel.
        """
        groups: dict[str, list[str]] = {}
        for tag in tags:
            groups.setdefault(self.specs[tag].example, []).append(tag)
        work: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        for group in sorted(groups.values(), key=len, reverse=True):  # the longest first
            work.put(group)

        def worker() -> None:
            while True:
                try:
                    group = work.get_nowait()
                except queue.Empty:
                    return
                for tag in group:
                    self._resolve_live(tag, say)

        threads = [
            threading.Thread(target=worker, name=f"livedocs-build-{n}", daemon=True)
            for n in range(min(self.workers, len(groups)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short waits, so that SIGINT reaches the main thread at once

    def _dependency_order(self, tags: set[str]) -> list[str]:
        ordered: list[str] = []

        def visit(tag: str, trail: tuple[str, ...] = ()) -> None:
            if tag in ordered or tag not in tags:
                return
            if tag in trail:
                raise self.specs[tag].error(f"after: forms a cycle: {' -> '.join((*trail, tag))}")
            after = self.specs[tag].after
            if after:
                visit(after, (*trail, tag))
            ordered.append(tag)

        for tag in sorted(tags):
            visit(tag)
        return ordered

    def _replay(self, tag: str) -> None:
        entry = self.record.get(tag)
        if entry is None:
            self.problems[tag] = RecordError(
                f"no recorded figures for {tag}: build the site once with a Docker engine",
                path=RECORD,
            )
        else:
            self.entries[tag] = entry

    def _resolve_live(self, tag: str, say: Callable[[str], None], force: bool = False) -> None:
        spec = self.specs[tag]
        try:
            if spec.after and spec.after in self.problems:
                raise spec.error(f"cannot build {tag}: {spec.after} (its after:) failed")
            # One build of a tag at a time, across processes: two site builds at once
            # must not tag, untag and remove the same image under each other.
            with locked(self.root / ".cache" / "livedocs" / "builds" / f"{tag.replace('/', '_')}.lock"):
                entry, built = self._measure(spec, say, force=force)
            with self._lock:
                self.entries[tag] = entry
                self.record.put(tag, entry)
                if built:
                    self.summary.built += 1
                else:
                    self.summary.cached += 1
        except LivedocsError as error:
            self._failed(tag, error, say)
        except Exception as error:  # a bug, not a user's mistake: still one clear report
            detail = traceback.format_exc()
            self._failed(tag, LivedocsError(f"internal error while building {tag}: {error!r}", detail=detail), say)

    def _failed(self, tag: str, error: LivedocsError, say: Callable[[str], None]) -> None:
        with self._lock:
            self.problems[tag] = error
            self.summary.failed += 1
        say(f"livedocs: {tag} failed: {error}")

    def _base_id(self, ref: str) -> tuple[str, bool] | None:
        with self._lock:
            if ref in self._base_ids:
                return self._base_ids[ref]
        assert self.engine is not None
        found = self.engine.inspect(ref)
        if found is None:
            return None
        result = (found.id, LABEL_STANDIN in found.labels)
        with self._lock:
            self._base_ids[ref] = result
        return result

    def _bases(self, spec: ImageSpec, dockerfile_text: str) -> dict[str, dict[str, Any]]:
        shown = spec.dockerfile_path.relative_to(self.root).as_posix()
        reverse = {local: official for official, local in self.image_map.items()}
        bases: dict[str, dict[str, Any]] = {}
        for base in base_images(dockerfile_text):
            found = self._base_id(base.ref)
            if found is None:  # _check_bases reports these first; an image removed since lands here
                raise LivedocsError(f"base image {base.ref} is not in the engine", path=shown, line=base.line)
            image_id, standin = found
            bases[reverse.get(base.ref, base.ref)] = {
                "ref": base.ref,
                "id": image_id,
                "standin": standin,
            }
        return bases

    def _measure(self, spec: ImageSpec, say: Callable[[str], None], force: bool = False) -> tuple[dict[str, Any], bool]:
        """(record entry, whether a build ran) for one image, building only if stale (or forced)."""
        assert self.engine is not None
        engine = self.engine
        fingerprint = self._fingerprint(spec)
        context = build_context(spec, self.root, self.image_map)
        bases = self._bases(spec, context.dockerfile_text)
        with self._lock:
            self._fingerprints[spec.tag] = fingerprint
        key = cache_key(spec, context, {k: v["id"] for k, v in bases.items()}, BUILDER)
        recorded = self.record.get(spec.tag)
        dockerfile_shown = spec.dockerfile_path.relative_to(self.root).as_posix()

        if spec.expect_failure:
            if recorded and recorded.get("key") == key and "error" in recorded:
                return recorded, False
            say(f"livedocs: building {spec.tag} (expected to fail) from {dockerfile_shown}")
            started = time.monotonic()
            try:
                image_id, _ = self._build(spec, context, key, tag=None)
            except BuildFailed as failure:
                build_log = getattr(failure, "build_log", None)
                step = build_log.last_step if build_log else None
                entry = {
                    "expect": "failure",
                    "error": failure.detail or failure.message,
                    "key": key,
                    "example": spec.example,
                    "dockerfile": dockerfile_shown,
                    "failed_line": step_line(context.dockerfile_text, step) if step else None,
                    "base_images": bases,
                    "engine": self._engine_facts(),
                    "measured_at": now_iso(),
                }
                say(f"livedocs: {spec.tag} failed as expected in {time.monotonic() - started:.1f}s")
                return entry, True
            engine.remove_if_dangling(image_id)
            raise spec.error(f"{spec.tag} is declared 'expect: failure' but its build succeeded ({dockerfile_shown})")

        existing = engine.inspect(spec.tag)
        if (
            not force
            and existing is not None
            and existing.labels.get(LABEL_KEY) == key
            and recorded is not None
            and recorded.get("key") == key
            and recorded.get("image_id") == existing.id
        ):
            return recorded, False

        if spec.edit and spec.after:
            # Build the unedited image again first (from the cache, normally in no time):
            # whatever else was built since, its layers are then the newest in the cache.
            say(f"livedocs: warming the cache with {spec.after} before {spec.tag}")
            self._resolve_live(spec.after, say, force=True)
        if spec.edit:
            # An edited variant measures what the cache gives after an edit: its own
            # earlier layers (final image and stages) must not be in the cache, or every
            # step would hit it.
            if existing is not None:
                engine.remove_image(spec.tag)  # untag; deleted if nothing else names it
                existing = None
            self._drop_stages(spec.tag)
        say(f"livedocs: building {spec.tag} from {dockerfile_shown}")
        started = time.monotonic()
        try:
            sent = build_context(spec, self.root, self.image_map, nonce=uuid.uuid4().hex) if spec.edit else context
            image_id, build_log = self._build(spec, sent, key, tag=spec.tag)
        except BuildFailed as failure:
            build_log = getattr(failure, "build_log", None)
            step = build_log.last_step if build_log else None
            line = step_line(context.dockerfile_text, step) if step else None
            raise BuildFailed(
                f"building {spec.tag} failed" + (f" at step {step}" if step else "") + f": {failure.detail}",
                path=dockerfile_shown,
                line=line,
                detail=failure.detail,
            ) from None
        if existing is not None and existing.id != image_id:
            engine.remove_if_dangling(existing.id)  # untagged by this build: nobody else needs it
        self._keep_stages(spec.tag, build_log.stages[:-1])
        info = engine.inspect(image_id)
        if info is None:
            raise spec.error(f"{spec.tag} was built but the engine cannot find it")
        base_ids = {base["id"] for base in bases.values()}
        layers, in_base = [], False
        for layer in engine.history(image_id):  # newest first
            in_base = in_base or layer.id in base_ids
            layers.append(
                {
                    "created_by": layer.created_by,
                    "size_bytes": layer.size_bytes,
                    "base": in_base,
                }
            )
        entry = {
            "size_bytes": info.size_bytes,
            "image_id": info.id,
            "created": info.created,
            "key": key,
            "example": spec.example,
            "dockerfile": dockerfile_shown,
            "layers": layers,
            "base_images": bases,
            "engine": self._engine_facts(),
            "build": {
                "steps": [{"step": n, "instruction": text, "cached": cached} for n, text, cached in build_log.steps]
            },
            "measured_at": now_iso(),
        }
        say(f"livedocs: built {spec.tag} in {time.monotonic() - started:.1f}s: {human_size(info.size_bytes)}")
        return entry, True

    def _build(self, spec: ImageSpec, context: BuildContext, key: str, tag: str | None) -> tuple[str, BuildLog]:
        """One build, held in `_in_flight` while it runs so that an interrupt can clean up."""
        assert self.engine is not None
        log = BuildLog()
        with self._lock:
            self._in_flight.append(log)
        try:
            return self.engine.build(
                context.tar,
                dockerfile=context.dockerfile,
                tag=tag,
                labels={LABEL_KEY: key, LABEL_EXAMPLE: spec.example},
                target=spec.target,
                build_args=spec.build_args,
                log=log,
            )
        finally:
            with self._lock:
                self._in_flight.remove(log)

    def _discard_in_flight(self) -> None:
        """After an interrupt: remove the images the cancelled builds had already made."""
        with self._lock:
            logs = list(self._in_flight)
        if not logs:
            return
        try:
            cleaner = Engine.connect(timeout=5)
        except LivedocsError:
            return
        try:
            deadline = time.monotonic() + 10
            for log in logs:
                for container_id in log.containers:  # the step that was running when cancelled
                    cleaner.remove_container(container_id)
                for image_id in reversed(log.created):
                    # the engine is still removing the cancelled step's container
                    while cleaner.inspect(image_id) is not None and time.monotonic() < deadline:
                        cleaner.remove_image(image_id)
                        if cleaner.inspect(image_id) is not None:
                            time.sleep(0.2)
        finally:
            cleaner.close()

    def _keep_stages(self, tag: str, stages: list[str | None]) -> None:
        """Tag the results of a multi-stage build's earlier stages as `livedocs-stage/<tag>:<n>`.

        The classic builder leaves them untagged (dangling); tagged, they are this
        site's layer cache, named for what they are, and a later build of the same
        stages (an edited variant built `after:` this one) finds them in the cache.
        """
        assert self.engine is not None
        repository = f"{STAGE_REPOSITORY}/{tag}"
        for number, image_id in enumerate(stages):
            if image_id is None:
                continue
            old = self.engine.inspect(f"{repository}:{number}")
            self.engine.tag(image_id, repository, str(number))
            if old is not None and not old.id.startswith(f"sha256:{image_id}"):
                self.engine.remove_if_dangling(old.id)

    def _drop_stages(self, tag: str) -> None:
        assert self.engine is not None
        for ref in self.engine.tags_in(f"{STAGE_REPOSITORY}/{tag}"):
            self.engine.remove_image(ref)

    def _engine_facts(self) -> dict[str, str]:
        assert self.engine is not None
        info = self.engine.info()
        return {
            "version": info.version,
            "api_version": info.api_version,
            "storage_driver": info.storage_driver,
            "platform": f"{info.os}/{info.architecture}",
            "builder": info.builder,
            "engine_id": info.engine_id,
            "name": info.name,
            "host": re.sub(r"//[^@/]*@", "//", info.host),  # ssh://user@host: the user is nobody's business
        }

    # -- facts, for pages and claims --------------------------------------------

    def entry(self, tag: str) -> dict[str, Any]:
        """The figures of one image; LivedocsError if unknown or it failed to build."""
        if tag not in self.specs:
            if self.mode == "replay" and tag in self.record.images:
                return self.record.images[tag]
            known = ", ".join(sorted(self.specs)) or "none"
            raise LivedocsError(f"unknown image {tag!r}: no examples/*/livedocs.yml declares it (declared: {known})")
        if tag not in self.entries and tag not in self.problems:
            self.prepare([tag])
        if tag in self.problems:
            raise self.problems[tag]
        return self.entries[tag]

    def image_entry(self, tag: str) -> dict[str, Any]:
        entry = self.entry(tag)
        if "size_bytes" not in entry:
            raise LivedocsError(f"{tag} is an expected-failure build: it has no image to measure")
        return entry

    def size_bytes(self, image: str) -> int:
        return int(self.image_entry(image)["size_bytes"])

    def layer_count(self, image: str) -> int:
        return len(self.image_entry(image)["layers"])

    def build_error(self, image: str) -> str:
        entry = self.entry(image)
        if "error" not in entry:
            raise LivedocsError(f"{image} built successfully; declare it 'expect: failure' to show its error")
        return str(entry["error"])

    def build_steps(self, image: str) -> tuple[int, int]:
        """(steps taken from the cache, steps that could be): every step but FROM."""
        counted = [s for s in self.steps(image) if not s["instruction"].upper().startswith("FROM ")]
        return sum(1 for s in counted if s["cached"]), len(counted)

    def steps(self, image: str) -> list[dict[str, Any]]:
        """The Dockerfile's own steps as the builder ran them (this site's labels left out)."""
        entry = self.image_entry(image)
        steps = entry.get("build", {}).get("steps")
        if not steps:
            raise LivedocsError(f"no build log is recorded for {image}")
        return [s for s in steps if not is_site_label(s["instruction"])]

    def response(self, image: str, path: str) -> HttpResponse:
        """The container's real answer to GET `path` (run once, then recorded)."""
        spec = self.specs.get(image)
        entry = self.image_entry(image)
        recorded = entry.get("responses", {}).get(path)
        if recorded is not None:
            return HttpResponse(int(recorded["status"]), str(recorded["body"]))
        if spec is None or spec.run is None:
            raise LivedocsError(f"{image} has no run check: add 'run: {{port: ..., paths: [...]}}' to its livedocs.yml")
        if self.mode != "live" or self.engine is None:
            raise RecordError(
                f"no recorded response of {image} to GET {path}: build once with a Docker engine",
                path=RECORD,
            )
        paths = list(dict.fromkeys([*spec.run.paths, path]))
        try:
            answers = self.engine.http_check(
                entry["image_id"],
                port=spec.run.port,
                paths=paths,
                timeout=spec.run.timeout,
                cap_add=spec.run.cap_add,
            )
        except LivedocsError as error:
            raise spec.error(f"run check of {image} failed: {error.message}", detail=error.detail) from None
        with self._lock:
            responses = {p: {"status": s, "body": b} for p, (s, b) in answers.items()}
            updated = {
                **entry,
                "responses": {**entry.get("responses", {}), **responses},
            }
            self.entries[image] = updated
            self.record.put(image, updated)
        status, body = answers[path]
        return HttpResponse(status, body)

    def finish(self) -> list[str]:
        """Save the record if a figure changed (live only); the drift lines."""
        if self.mode != "live":
            return []
        return self.record.save()
