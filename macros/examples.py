"""Examples and the images they declare, read from `examples/<app>/livedocs.yml`.

images:
  go-app-multi:               # the tag the chapter tells the reader to use
    dockerfile: Dockerfile    # relative to the example folder (default Dockerfile)
    context: .                # build context, inside the example folder (default .)
    target: runtime           # a stage to stop at (optional)
    build_args: {KEY: value}  # optional
    expect: failure           # the build must fail (default: success); or per image store:
                              # {overlay2: failure, containerd: success} (a store not named: success)
    platforms: [linux/arm64]  # `--platform linux/arm64` (two: a multi-platform build); default: the machine's
    machine: linux/amd64      # measured only on engines of this platform (a chapter written from an
                              # amd64 machine building for arm64); default: every engine
    after: go-app-single      # build only once that image is built
    edit: [main.go]           # built again after an edit: these files of the context are
                              # replaced by their edited copies in examples/_edits/<app>/
    lint: broken              # a deliberately broken example (no linting)
    together: go-app-other    # always rebuilt with that image: durations compared come from one run
    no_cache_filter: [build]  # `--no-cache-filter build`: that stage's steps run, cached or not
    secrets: {api_token: .env} # `docker buildx build --secret id=api_token,src=.env` (a file of the
                              # example folder, kept out of the context by an ignore rule); the
                              # layers whose files hold its bytes are counted (secret_layers)
    run:                      # a run check
      port: 8080
      paths: ["/", "/hello"]
      timeout: 20
      cap_add: []
      platform: linux/arm64   # `docker run --platform linux/arm64` (default: the image's own)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import LivedocsError
from .files import load_yaml

MANIFEST = "livedocs.yml"
EDITS = "examples/_edits"  # an `edit:` file's edited copy: EDITS/<example>/<file>
_IMAGE_KEYS = {
    "dockerfile",
    "context",
    "target",
    "build_args",
    "expect",
    "after",
    "edit",
    "lint",
    "run",
    "together",
    "secrets",
    "no_cache_filter",
    "platforms",
    "machine",
}
_SECRET_ID = re.compile(r"[A-Za-z0-9_.-]+")
_RUN_KEYS = {"port", "paths", "timeout", "cap_add", "platform"}
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/v[0-9]+)?")


@dataclass(frozen=True)
class RunSpec:
    port: int
    paths: tuple[str, ...]
    timeout: float = 20.0
    cap_add: tuple[str, ...] = ()
    platform: str | None = None  # `docker run --platform`


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    example: str  # folder name under examples/
    folder: Path  # absolute example folder
    manifest: str  # repository-relative manifest path, for messages
    line: int  # line of the image's key in the manifest
    dockerfile: str = "Dockerfile"
    context: str = "."
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    expect_failure: bool = False
    after: str | None = None
    edit: dict[str, str] = field(default_factory=dict)
    lint: str | None = None
    run: RunSpec | None = None
    together: str | None = None  # an image this one is always rebuilt with (their timings are compared)
    no_cache_filter: tuple[str, ...] = ()  # stages built with `--no-cache-filter`
    secrets: dict[str, str] = field(default_factory=dict)  # secret id -> its file, relative to the example folder
    expect_by_store: dict[str, bool] = field(default_factory=dict)  # store -> the build must fail there
    platforms: tuple[str, ...] = ()  # `--platform` (two or more: a multi-platform build); (): the engine's own
    machine: str | None = None  # measured only on engines whose own platform this is

    def fails_on(self, store: str) -> bool:
        """Whether the build must fail on the image store `store`."""
        if self.expect_by_store:
            return self.expect_by_store.get(store, False)
        return self.expect_failure

    @property
    def varies_by_store(self) -> bool:
        """Whether the build fails on some image stores and succeeds on others."""
        return bool(self.expect_by_store)

    @property
    def dockerfile_path(self) -> Path:
        return self.folder / self.context / self.dockerfile

    @property
    def context_path(self) -> Path:
        return self.folder / self.context

    @property
    def secret_paths(self) -> dict[str, Path]:
        """Each secret's file, by id, as `--secret id=...,src=...` names it."""
        return {secret: self.folder / file for secret, file in sorted(self.secrets.items())}

    def error(self, message: str, detail: str | None = None) -> LivedocsError:
        return LivedocsError(message, path=self.manifest, line=self.line, detail=detail)


def _key_lines(text: str) -> dict[str, int]:
    """Line of each image's key under `images:`, for messages."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "images" and isinstance(value, yaml.MappingNode):
                for image_key, _ in value.value:
                    lines[str(image_key.value)] = image_key.start_mark.line + 1
    return lines


def _strings(value: Any, what: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"{what} must be a list of texts")
    return tuple(value)


def load_example(folder: Path, root: Path) -> list[ImageSpec]:
    """The images one example folder declares; LivedocsError naming file and line."""
    manifest_path = folder / MANIFEST
    shown = manifest_path.relative_to(root).as_posix()
    text = manifest_path.read_text(encoding="utf-8")
    data = load_yaml(text, shown)
    if not isinstance(data, dict) or not isinstance(data.get("images"), dict):
        raise LivedocsError("expected a mapping with an 'images:' section", path=shown, line=1)
    lines = _key_lines(text)
    specs = []
    for tag, declared in data["images"].items():
        line = lines.get(str(tag), 1)

        def fail(message: str, tag: Any = tag, line: int = line) -> LivedocsError:
            return LivedocsError(f"image {tag}: {message}", path=shown, line=line)

        settings = _image_settings(declared, fail)
        run = _run_spec(settings["run"], fail) if "run" in settings else None
        expect = settings.get("expect", "success")
        by_store = {str(k): v == "failure" for k, v in expect.items()} if isinstance(expect, dict) else {}
        spec = ImageSpec(
            tag=str(tag),
            example=folder.name,
            folder=folder,
            manifest=shown,
            line=line,
            dockerfile=settings.get("dockerfile", "Dockerfile"),
            context=settings.get("context", "."),
            target=settings.get("target"),
            build_args={str(k): v for k, v in settings.get("build_args", {}).items()},
            expect_failure=expect == "failure",
            expect_by_store=by_store,
            platforms=_platforms(settings.get("platforms", []), fail),
            machine=_platforms([settings["machine"]], fail)[0] if "machine" in settings else None,
            after=settings.get("after"),
            edit={str(name): f"{EDITS}/{folder.name}/{name}" for name in settings.get("edit", [])},
            lint=settings.get("lint"),
            run=run,
            together=settings.get("together"),
            secrets={str(k): str(v) for k, v in settings.get("secrets", {}).items()},
            no_cache_filter=_strings(settings.get("no_cache_filter", []), "no_cache_filter", fail),
        )
        _check_paths(spec, root, fail)
        specs.append(spec)
    return specs


def _image_settings(declared: Any, fail: Callable[[str], LivedocsError]) -> dict[str, Any]:
    """One image's settings, their keys and types checked."""
    settings = declared or {}
    if not isinstance(settings, dict):
        raise fail("settings must be a mapping")
    unknown = set(settings) - _IMAGE_KEYS
    if unknown:
        known = ", ".join(sorted(_IMAGE_KEYS))
        raise fail(f"unknown setting(s) {', '.join(sorted(map(str, unknown)))}; known: {known}")
    expect = settings.get("expect", "success")
    outcomes = expect.values() if isinstance(expect, dict) and expect else [expect]
    if not all(outcome in ("success", "failure") for outcome in outcomes):
        raise fail("expect must be 'success' or 'failure', or map image stores to them ({overlay2: failure})")
    for key in ("dockerfile", "context", "target", "after", "lint", "together", "machine"):
        if key in settings and not isinstance(settings[key], str):
            raise fail(f"{key} must be a text")
    build_args = settings.get("build_args", {})
    if not isinstance(build_args, dict) or not all(isinstance(v, str) for v in build_args.values()):
        raise fail("build_args must be a mapping of texts")
    edit = settings.get("edit", [])
    if not isinstance(edit, list) or not all(isinstance(name, str) for name in edit):
        raise fail(f"edit must be a list of the files edited (their edited copies in {EDITS}/<example>/)")
    secrets = settings.get("secrets", {})
    if not isinstance(secrets, dict) or not all(
        isinstance(k, str) and _SECRET_ID.fullmatch(k) and isinstance(v, str) for k, v in secrets.items()
    ):
        raise fail("secrets must map secret ids (letters, digits, _ . -) to files of the example folder")
    return settings


def _run_spec(run_settings: Any, fail: Callable[[str], LivedocsError]) -> RunSpec:
    """An image's `run:` section: the port its container answers on, the paths to GET."""
    if not isinstance(run_settings, dict) or not isinstance(run_settings.get("port"), int):
        raise fail("run: needs at least 'port: <container port>'")
    unknown = set(run_settings) - _RUN_KEYS
    if unknown:
        raise fail(f"run: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    timeout = run_settings.get("timeout", 20)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise fail("run.timeout must be a number of seconds between 0 and 600")
    return RunSpec(
        port=run_settings["port"],
        paths=_strings(run_settings.get("paths", ["/"]), "run.paths", fail),
        timeout=float(timeout),
        cap_add=_strings(run_settings.get("cap_add", []), "run.cap_add", fail),
        platform=_platforms([run_settings["platform"]], fail)[0] if "platform" in run_settings else None,
    )


def _platforms(value: Any, fail: Callable[[str], LivedocsError]) -> tuple[str, ...]:
    """Platforms as `--platform` takes them: linux/amd64, linux/arm64, linux/arm/v7."""
    platforms = _strings(value, "platforms", fail)
    wrong = [p for p in platforms if not _PLATFORM.fullmatch(p)]
    if wrong:
        raise fail(f"{', '.join(wrong)}: expected a platform such as linux/amd64 or linux/arm64")
    return platforms


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _check_paths(spec: ImageSpec, root: Path, fail: Any) -> None:
    if not _inside(spec.context_path, spec.folder):
        raise fail(f"context {spec.context!r} escapes the example folder {spec.example}/")
    if not _inside(spec.dockerfile_path, spec.context_path):
        raise fail(f"dockerfile {spec.dockerfile!r} is outside the build context")
    if not spec.dockerfile_path.is_file():
        shown = (
            spec.dockerfile_path.relative_to(root).as_posix()
            if _inside(spec.dockerfile_path, root)
            else spec.dockerfile
        )
        raise fail(f"Dockerfile not found: {shown}")
    for secret, file in spec.secrets.items():
        if not _inside(spec.folder / file, spec.folder):
            raise fail(f"secrets: {secret}'s file {file!r} is outside the example folder")
        if not (spec.folder / file).is_file():
            raise fail(f"secrets: {secret}'s file is not there: {spec.example}/{file}")
    for original, replacement in spec.edit.items():
        if not _inside(spec.context_path / original, spec.context_path):
            raise fail(f"edit: {original!r} is outside the build context")
        if not (root / replacement).is_file():
            raise fail(f"edit: the edited copy of {original} is not there: {replacement}")


def load_examples(root: Path) -> dict[str, ImageSpec]:
    """Every image declared under `root/examples`, by tag; tags must be unique."""
    specs: dict[str, ImageSpec] = {}
    examples = root / "examples"
    if not examples.is_dir():
        return specs
    for manifest in sorted(examples.glob(f"*/{MANIFEST}")):
        for spec in load_example(manifest.parent, root):
            if spec.tag in specs:
                other = specs[spec.tag]
                raise spec.error(f"image {spec.tag} is also declared in {other.manifest}:{other.line}")
            specs[spec.tag] = spec
    for spec in specs.values():
        if spec.after is not None and spec.after not in specs:
            raise spec.error(f"after: no image named {spec.after!r} is declared")
        if spec.together is not None and (spec.together not in specs or spec.together == spec.tag):
            raise spec.error(f"together: no other image named {spec.together!r} is declared")
    return specs
