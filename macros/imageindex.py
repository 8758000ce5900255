"""What the engine holds that the builds need: the images tags name, the base images, their history.

Read once per `prepare` (one listing of the engine's tagged images, kept between builds
by `listing.py` while the engine says nothing changed) and asked from every build thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from .dockerfile import base_images, rewrite_images
from .engine import LABEL_STANDIN, Engine, ImageInfo
from .errors import LivedocsError
from .examples import ImageSpec
from .listing import tagged_images
from .measurement import BaseImage


class ImageIndex:
    def __init__(self, engine: Callable[[], Engine], cache_dir: Path, root: Path) -> None:
        self._engine = engine  # this thread's connection
        self._cache_dir = cache_dir
        self._root = root
        self._lock = threading.Lock()
        self._listing: dict[str, ImageInfo] | None = None  # the engine's tagged images, read once per prepare
        self._base_ids: dict[str, tuple[str, bool]] = {}
        self._base_rows: dict[str, list[tuple[str, int]]] = {}  # a base image's history

    def forget(self) -> None:
        """Images may have changed since the last prepare (`mkdocs serve`): list them again when asked."""
        with self._lock:
            self._listing = None

    def relist(self) -> None:
        """This build changed the images: list them now, so that the next build can keep the list."""
        listing = tagged_images(self._engine(), self._cache_dir, fresh=True)
        with self._lock:
            self._listing = listing

    def tagged(self, ref: str) -> ImageInfo | None:
        """The image `ref` names, from one listing of the engine's images per `prepare`."""
        with self._lock:
            if self._listing is None:
                self._listing = tagged_images(self._engine(), self._cache_dir)
            listing = self._listing
        name = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
        found = listing.get(name)
        return found if found is not None else (None if "@" not in ref else self._engine().inspect(ref))

    def inspect_now(self, ref: str) -> ImageInfo | None:
        """The image `ref` names now, asked of the engine (not from this build's listing)."""
        return self._engine().inspect(ref)

    def base_id(self, ref: str) -> tuple[str, bool] | None:
        """(the image ID `ref` names, whether it is a stand-in), or None if the engine lacks it."""
        with self._lock:
            if ref in self._base_ids:
                return self._base_ids[ref]
        found = self.tagged(ref) or self._engine().inspect(ref)
        if found is None:
            return None
        result = (found.id, LABEL_STANDIN in found.labels)
        with self._lock:
            self._base_ids[ref] = result
        return result

    def bases(self, spec: ImageSpec, dockerfile_text: str, *image_maps: Mapping[str, str]) -> dict[str, BaseImage]:
        """The base images of a Dockerfile as sent, by the name the reader's Dockerfile uses."""
        reverse = {local: official for image_map in image_maps for official, local in image_map.items()}
        bases = {}
        for base in base_images(dockerfile_text):
            found = self.base_id(base.ref)
            if found is None:  # check_bases reports these first; an image removed since lands here
                raise LivedocsError(
                    f"base image {base.ref} is not in the engine", path=self._shown(spec), line=base.line
                )
            bases[reverse.get(base.ref, base.ref)] = BaseImage(base.ref, found[0], found[1])
        return bases

    def check_bases(
        self,
        specs: Iterable[ImageSpec],
        image_map: Mapping[str, str],
        maps_of: Callable[[ImageSpec], tuple[Mapping[str, str], Mapping[str, str] | None]] | None = None,
    ) -> None:
        """Every base image the builds need is in the engine, or one error says which are not.
        `maps_of`: an image's (map, map of its build-platform stages), where not `image_map`."""
        missing: dict[str, list[str]] = {}
        mapped = set(image_map.values())
        for spec in sorted(specs, key=lambda s: s.tag):
            mapping, build_map = maps_of(spec) if maps_of is not None else (image_map, None)
            mapped |= {*mapping.values(), *(build_map or {}).values()}
            try:
                text = rewrite_images(spec.dockerfile_path.read_text(encoding="utf-8"), mapping, build_map)
            except (OSError, UnicodeDecodeError):
                continue  # reported by the image's own build
            for base in base_images(text):
                if self.base_id(base.ref) is None:
                    missing.setdefault(base.ref, []).append(f"{self._shown(spec)}:{base.line}")
        if not missing:
            return
        listing = "; ".join(
            f"{ref} (used at {places[0]}" + (f" and {len(places) - 1} more)" if len(places) > 1 else ")")
            for ref, places in sorted(missing.items())
        )
        if set(missing) <= mapped:
            hint = "run `make standins` to build the stand-ins"
        else:
            hint = (
                "this machine cannot pull: set LIVEDOCS_IMAGE_MAP=tests/standins/image-map.yml "
                "and run `make standins`, or pull them on a machine that can"
            )
        raise LivedocsError(f"base images not in the engine: {listing}; {hint}")

    def inherited_rows(self, bases: Iterable[BaseImage], rows: list[tuple[str, int]]) -> int:
        """How many of the oldest history `rows` (created by, size) the final stage's base image brought."""
        found = 0
        for base in bases:
            with self._lock:
                theirs = self._base_rows.get(base.id)
            if theirs is None:
                theirs = [(layer.created_by, layer.size_bytes) for layer in self._engine().history(base.id)]
                with self._lock:
                    self._base_rows[base.id] = theirs
            if theirs and len(theirs) > found and rows[-len(theirs) :] == theirs:
                found = len(theirs)
        return found

    def _shown(self, spec: ImageSpec) -> str:
        return spec.dockerfile_path.relative_to(self._root).as_posix()
