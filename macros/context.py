"""The build context exactly as sent to the engine, and the cache key built from it.

The context is assembled here, not by the engine client: `.dockerignore` applied,
files in a stable order with fixed metadata, `edit:` replacements made and `FROM`
lines rewritten by the image map. Hashing those very bytes gives a key that changes
when, and only when, what the engine would build from changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tarfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .dockerfile import rewrite_images
from .errors import LivedocsError
from .examples import MANIFEST, ImageSpec
from .filetimes import commit_times, file_time

_FIXED_MTIME = 946684800  # 2000-01-01: file times must not change the key


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def ignore_file(context: Path, dockerfile: str = "Dockerfile") -> str:
    """The ignore file BuildKit reads for `dockerfile` (a path inside `context`): the
    Dockerfile's own `<Dockerfile>.dockerignore` next to it if there is one, else the
    context's `.dockerignore` (the one is used instead of the other, never both)."""
    own = f"{dockerfile}.dockerignore"
    return own if (context / own).is_file() else ".dockerignore"


def read_dockerignore(context: Path, dockerfile: str = "Dockerfile") -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per line of the ignore file BuildKit reads for `dockerfile`, in order."""
    path = context / ignore_file(context, dockerfile)
    if not path.is_file():
        return []
    rules = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        line = os.path.normpath(line).lstrip("/")
        if line in ("", "."):
            continue
        rules.append((negated, _pattern_regex(line)))
    return rules


def is_ignored(relative: str, rules: Iterable[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not negated
    return ignored


@dataclass(frozen=True)
class BuildContext:
    tar: bytes  # every file with one fixed date: the key depends on contents, not on dates
    digest: str  # sha256 of the tar, which is deterministic
    dockerfile: str  # path of the Dockerfile inside the context
    dockerfile_text: str  # as sent (FROM lines rewritten)
    sources: Mapping[str, Path] = field(default_factory=dict)  # each file's source (an edit's copy)
    edited: frozenset[str] = frozenset()  # the files an edit replaced, with a nonce: new to the engine
    secrets: Mapping[str, Path] = field(default_factory=dict)  # `--secret id=...,src=...`: never in `tar`
    secret_digests: Mapping[str, str] = field(default_factory=dict)  # sha256 of each secret's bytes, for the key


@dataclass(frozen=True)
class BuildRequest:
    """One build: the context as sent, where to lay it out, and what to do with it."""

    context: BuildContext
    tag: str
    labels: Mapping[str, str]
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    no_cache_filter: tuple[str, ...] = ()  # stages whose steps run whatever the cache holds
    folder: Path | None = None  # the folder the context is laid out in (None: a new temporary one)
    times: Mapping[str, int] = field(default_factory=dict)  # each file's date there (Unix time)
    cache_only: bool = False  # build, keep nothing but the cache (a folder's first transfer)
    platform: str | None = None  # build for this platform (`--platform`); None: the engine's own

    @property
    def secrets(self) -> Mapping[str, Path]:
        return self.context.secrets


def _files(context: Path, repository: Path, spec: ImageSpec) -> list[tuple[str, Path]]:
    rules = read_dockerignore(context, spec.dockerfile)
    keep = {ignore_file(context, spec.dockerfile), spec.dockerfile}
    found = []
    for folder, dirs, names in os.walk(context, followlinks=False):
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            path = Path(folder) / name
            relative = path.relative_to(context).as_posix()
            if relative == MANIFEST or (relative not in keep and is_ignored(relative, rules)):
                continue  # the manifest is this site's, not part of the reader's example
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(context.resolve()):
                    shown = path.relative_to(repository).as_posix()
                    raise spec.error(f"{shown} is a symlink pointing outside the build context ({os.readlink(path)})")
            found.append((relative, path))
    return found


def source_digest(repository: Path, spec: ImageSpec) -> str:
    """What the reader's folder of `spec` holds (its files, .dockerignore applied, FROM lines as
    written: no image map) and how it is built: a replay compares it with the record's."""
    digest = hashlib.sha256()
    settings = [spec.dockerfile, spec.target or "", *sorted(f"{k}={v}" for k, v in spec.build_args.items())]
    settings += sorted(f"edit:{k}={v}" for k, v in spec.edit.items())
    settings += [f"no-cache-filter:{stage}" for stage in spec.no_cache_filter]
    digest.update("\n".join(["livedocs-sources-v2", *settings]).encode("utf-8"))
    edits = [(f"edit:{original}", repository / copy) for original, copy in sorted(spec.edit.items())]
    secrets = [(f"secret:{secret}", path) for secret, path in spec.secret_paths.items()]
    for relative, path in [*_files(spec.context_path, repository, spec), *edits, *secrets]:
        digest.update(f"\0{relative}\0".encode())
        digest.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
    return digest.hexdigest()


# How a nonce line is written into an edited file: a comment, or (logs, text) a plain line.
_LINE_COMMENTS = {
    ".go": "//", ".js": "//", ".ts": "//", ".c": "//", ".rs": "//", ".py": "#", ".sh": "#", ".rb": "#",
    ".log": "", ".txt": "", ".md": "",
}  # fmt: skip


def build_context(
    spec: ImageSpec,
    repository: Path,
    image_map: Mapping[str, str],
    build_map: Mapping[str, str] | None = None,
    nonce: str | None = None,
) -> BuildContext:
    """Assemble the context of `spec` as it will be sent to the engine.

    With a `nonce`, every file an `edit:` replaces ends with a comment holding it: the
    edit is then new to the engine even if someone built the edited files before, so the
    layer cache shows what an edit costs, not what an earlier identical build left.
    """
    context = spec.context_path
    if not context.is_dir():
        raise spec.error(f"build context {spec.context!r} is not a folder")
    replacements = {original: repository / replacement for original, replacement in spec.edit.items()}
    buffer = io.BytesIO()
    dockerfile_text = ""
    sources: dict[str, Path] = {}
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative, path in _files(context, repository, spec):
            source = sources[relative] = replacements.get(relative, path)
            info = tarfile.TarInfo(relative)
            info.mtime = _FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_symlink():
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(path)
                info.mode = 0o777
                tar.addfile(info)
            else:
                data = source.read_bytes()
                comment = _LINE_COMMENTS.get(Path(relative).suffix)
                if nonce and relative in replacements and comment is not None:
                    data += f"\n{comment} livedocs edit {nonce}\n".replace("\n ", "\n").encode()
                if relative == spec.dockerfile:
                    dockerfile_text = data.decode("utf-8")
                    data = rewrite_images(dockerfile_text, image_map, build_map).encode("utf-8")
                    dockerfile_text = data.decode("utf-8")
                info.size = len(data)
                info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                tar.addfile(info, io.BytesIO(data))
    payload = buffer.getvalue()
    _check_secrets_left_out(spec, sources, repository, dockerfile_text)
    return BuildContext(
        tar=payload,
        digest=hashlib.sha256(payload).hexdigest(),
        dockerfile=spec.dockerfile,
        dockerfile_text=dockerfile_text,
        sources=sources,
        edited=frozenset(replacements) if nonce else frozenset(),
        secrets=spec.secret_paths,
        secret_digests={k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in spec.secret_paths.items()},
    )


def _check_secrets_left_out(spec: ImageSpec, sources: Mapping[str, Path], repository: Path, dockerfile: str) -> None:
    """A Dockerfile that mounts a secret must not also receive the secret's file in the context,
    where any `COPY` can put it in a layer. (An image whose Dockerfile does not mount it, the
    pitfall shown next to the remedy, declares it only to have its layers searched for it.)"""
    sent = {path.resolve() for path in sources.values()}
    for secret, path in spec.secret_paths.items():
        mounted = re.search(rf"--mount=\S*\bid={re.escape(secret)}(?![\w.-])", dockerfile)
        if mounted and "type=secret" in mounted.group(0) and path.resolve() in sent:
            ignore = ignore_file(spec.context_path, spec.dockerfile)
            shown = path.relative_to(repository).as_posix() if path.is_relative_to(repository) else str(path)
            raise spec.error(
                f"secret {secret}: {spec.dockerfile} mounts it, but its file {shown} is sent in the "
                f"build context too; exclude it in {spec.example}/{ignore}"
            )


class Contexts:
    """Each image's context as sent, assembled once per build and shared by every store's source.

    Both stores build the same bytes, so one walk and one hash per image is enough; a
    context that cannot be assembled keeps its error. `reset` forgets them all (before a
    rebuild under `mkdocs serve`, whose files may have changed).
    """

    def __init__(
        self,
        root: Path,
        image_map: Mapping[str, str],
        platform_maps: Mapping[str, Mapping[str, str]] | None = None,
        build_map: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.image_map = dict(image_map)
        # an image built for one other platform (`platforms: [linux/arm64]`) takes its FROM
        # images from that platform's map (overlay2 holds one platform per tag), and its
        # `FROM --platform=$BUILDPLATFORM` stages from this one
        self.platform_maps = {platform: dict(mapped) for platform, mapped in (platform_maps or {}).items()}
        # a view of another platform (LIVEDOCS_PLATFORMS): its `FROM --platform=$BUILDPLATFORM`
        # stages still run on the machine, from the machine's own stand-ins
        self.build_map = dict(build_map) if build_map is not None else None
        self._lock = threading.Lock()
        self._made: dict[str, BuildContext | LivedocsError] = {}
        self._times: dict[str, int] | None = None

    def times(self, context: BuildContext) -> dict[str, int]:
        """The date each file of `context` carries into the folder it is built from: its last
        commit's (`filetimes.py`); asked of git once per build, and only when something is built."""
        with self._lock:
            if self._times is None:
                self._times = commit_times(self.root)
            times = self._times
        return {relative: file_time(source, self.root, times) for relative, source in context.sources.items()}

    def maps_of(self, spec: ImageSpec) -> tuple[dict[str, str], dict[str, str] | None]:
        """(the map of `spec`'s FROM lines, the map of its build-platform stages, if another)."""
        if len(spec.platforms) == 1 and spec.platforms[0] in self.platform_maps:
            return self.platform_maps[spec.platforms[0]], self.image_map
        return self.image_map, self.build_map

    def all_maps(self) -> list[dict[str, str]]:
        """Every map an image's context may be rewritten with (the stand-ins' official names)."""
        return [self.image_map, *self.platform_maps.values(), *([self.build_map] if self.build_map else [])]

    def of(self, spec: ImageSpec) -> BuildContext:
        with self._lock:
            made = self._made.get(spec.tag)
        if made is None:
            try:
                made = build_context(spec, self.root, *self.maps_of(spec))
            except LivedocsError as error:
                made = error
            with self._lock:
                self._made[spec.tag] = made
        if isinstance(made, LivedocsError):
            raise made
        return made

    def assemble(self, specs: Iterable[ImageSpec]) -> None:
        """Assemble these contexts now (a failure is kept for the image's own build to report)."""
        for spec in specs:
            with contextlib.suppress(Exception):  # reported again, with its place, by the image's build
                self.of(spec)

    def reset(self, image_map: Mapping[str, str], platform_maps: Mapping[str, Mapping[str, str]] | None = None) -> None:
        with self._lock:
            self.image_map = dict(image_map)
            if platform_maps is not None:
                self.platform_maps = {platform: dict(mapped) for platform, mapped in platform_maps.items()}
            self._made.clear()
            self._times = None


def cache_key(
    spec: ImageSpec, context: BuildContext, base_ids: Mapping[str, str], builder: str, platform: str | None = None
) -> str:
    """What decides an image: context bytes, build settings, base image IDs, builder, and the
    platform it is built for when that is not the engine's own."""
    parts = [
        "livedocs-key-v4",
        f"context={context.digest}",
        f"dockerfile={spec.dockerfile}",
        f"target={spec.target or ''}",
        f"builder={builder}",
        *(f"arg:{k}={v}" for k, v in sorted(spec.build_args.items())),
        *(f"no-cache-filter={stage}" for stage in spec.no_cache_filter),
        *(f"base:{ref}={image_id}" for ref, image_id in sorted(base_ids.items())),
        *(f"secret:{secret}={digest}" for secret, digest in sorted(context.secret_digests.items())),
        *([f"platform={platform}"] if platform else []),
    ]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
