"""Every setting of the workbench, read once: the environment first, then `mkdocs.yml`.

    variable                  mkdocs.yml (extra: livedocs:)   default
    LIVEDOCS_ENGINE           engine                          auto      (auto | live | replay)
    LIVEDOCS_ENGINES          -                               DOCKER_HOST, else the engines `make engine`
                                                              started (.cache/livedocs/engines), else the
                                                              local socket (comma-separated addresses)
    DOCKER_HOST               -                               the local socket
    LIVEDOCS_ENGINE_TIMEOUT   engine_timeout                  30        (seconds per engine call)
    LIVEDOCS_IMAGE_MAP        image_map                       none      (official ref -> stand-in, YAML)
    LIVEDOCS_WORKERS          workers                         cores, at most 4 (0: no threads)
    LIVEDOCS_TIMING_ROUNDS    timing_rounds                   1         (builds of each image whose
                                                                        durations a claim compares)
    LIVEDOCS_PLATFORMS        platforms                       each engine's own (comma-separated,
                                                                        e.g. linux/amd64,linux/arm64)
    LIVEDOCS_SERVE            -                               detected  (1: problems shown, not fatal)

An environment variable wins over `mkdocs.yml`, so a contributor or CI can override the
site's own choice for one build. Nothing else in `macros/` reads the environment: the
docker clients (engine.py, buildkit.py) get theirs from `docker_environment`, which
points DOCKER_HOST at the engine they talk to.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LivedocsError

MODES = ("auto", "live", "replay")
RECORD = "examples/measurements.json"
CACHE = ".cache/livedocs"

# setting -> (environment variable, key under `extra: livedocs:` in mkdocs.yml)
_SOURCES = {
    "mode": ("LIVEDOCS_ENGINE", "engine"),
    "timeout": ("LIVEDOCS_ENGINE_TIMEOUT", "engine_timeout"),
    "image_map": ("LIVEDOCS_IMAGE_MAP", "image_map"),
    "workers": ("LIVEDOCS_WORKERS", "workers"),
    "timing_rounds": ("LIVEDOCS_TIMING_ROUNDS", "timing_rounds"),
    "platforms": ("LIVEDOCS_PLATFORMS", "platforms"),
    "serve": ("LIVEDOCS_SERVE", None),
}


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    root: Path
    mode: str = "auto"
    engines: tuple[str | None, ...] = (None,)  # engine addresses; None: the local socket
    timeout: float = 30.0
    image_map: str = ""  # a path, relative to `root` or the working folder; "" for none
    workers: int = 1
    timing_rounds: int = 1  # builds of each `together` image, alternately; the median one is shown
    platforms: tuple[str, ...] = ()  # what to build for, on every engine; (): each engine's own platform
    serve: bool = False

    @property
    def record_path(self) -> Path:
        return self.root / RECORD

    @property
    def record_lock(self) -> Path:
        """The one lock every writer of the record takes: site builds and `merge_records.py`."""
        return self.cache_dir / "record.lock"

    @property
    def cache_dir(self) -> Path:
        """Locks and other working files: outside examples/, which `mkdocs serve` watches."""
        return self.root / CACHE

    @property
    def build_lock(self) -> Path:
        """Held by every build, on any engine, from any checkout of this machine: a build runs
        alone, so its durations are its own and its listing holds only its own steps."""
        return Path(tempfile.gettempdir()) / "livedocs-engines" / "build.lock"

    def engine_dir(self, engine_id: str) -> Path:
        """What every build on this machine shares of one engine, whatever its checkout: the
        per-tag build locks and the measurements made under them (in the system's temp folder)."""
        return (
            Path(tempfile.gettempdir()) / "livedocs-engines" / re.sub(r"[^A-Za-z0-9_.-]", "_", engine_id or "unknown")
        )

    @classmethod
    def load(
        cls,
        root: Path,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        serve: bool | None = None,
    ) -> Settings:
        """The settings for a site at `root`; LivedocsError naming the setting if one is wrong.

        `config` is the `extra: livedocs:` mapping of mkdocs.yml (if any); `serve` is what
        the generator knows about the command (the environment may still override it).
        """
        environ = os.environ if environ is None else environ
        config = config or {}
        unknown = set(config) - {key for _, key in _SOURCES.values() if key}
        if unknown:
            known = ", ".join(sorted(key for _, key in _SOURCES.values() if key))
            raise LivedocsError(f"mkdocs.yml extra.livedocs: unknown setting(s) {', '.join(sorted(unknown))} ({known})")

        def raw(name: str) -> tuple[str, Any] | None:
            variable, key = _SOURCES[name]
            if environ.get(variable, "").strip():
                return variable, environ[variable].strip()
            if key and config.get(key) not in (None, ""):
                return f"mkdocs.yml extra.livedocs.{key}", config[key]
            return None

        mode = "auto"
        if found := raw("mode"):
            mode = str(found[1]).strip().lower()
            if mode not in MODES:
                raise LivedocsError(f"{found[0]}={found[1]!r}: expected one of {', '.join(MODES)}")
        timeout = 30.0
        if found := raw("timeout"):
            timeout = _number(found, 0, 3600, "seconds")
        workers = default_workers()
        if found := raw("workers"):
            workers = int(_number(found, 0, 64, "threads", integer=True))
        image_map = str(found[1]) if (found := raw("image_map")) else ""
        timing_rounds = 1
        if found := raw("timing_rounds"):
            timing_rounds = int(_number(found, 1, 9, "rounds", integer=True))
        platforms: tuple[str, ...] = ()
        if found := raw("platforms"):
            platforms = _platforms(found)
        if found := raw("serve"):
            serve = str(found[1]).lower() not in ("0", "false", "no")
        return cls(
            root=root.resolve(),
            mode=mode,
            engines=_engines(root, environ),
            timeout=timeout,
            image_map=image_map,
            workers=workers,
            timing_rounds=timing_rounds,
            platforms=platforms,
            serve=bool(serve),
        )


def docker_environment(host: str | None, keep_context: bool = False) -> dict[str, str]:
    """This process's environment for a docker client of the engine at `host` (None: the
    local socket): DOCKER_HOST names `host`, or is unset; DOCKER_CONTEXT, which would name
    an engine of its own, is dropped unless `keep_context` (the docker SDK's connection in
    engine.py keeps it, and with no `host` follows it)."""
    dropped = ("DOCKER_HOST",) if keep_context else ("DOCKER_HOST", "DOCKER_CONTEXT")
    environment = {key: value for key, value in os.environ.items() if key not in dropped}
    if host:
        environment["DOCKER_HOST"] = host
    return environment


def _number(found: tuple[str, Any], low: float, high: float, unit: str, integer: bool = False) -> float:
    where, value = found
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise LivedocsError(f"{where}={value!r}: expected a number of {unit}") from None
    inside = low <= number <= high if integer else low < number <= high
    if not inside:
        raise LivedocsError(f"{where}={value!r}: expected between {low:g} and {high:g} {unit}")
    return number


def _platforms(found: tuple[str, Any]) -> tuple[str, ...]:
    """`linux/amd64,linux/arm64` (or a YAML list): each an OS/architecture pair, once."""
    where, value = found
    listed = value if isinstance(value, list) else str(value).split(",")
    platforms = tuple(dict.fromkeys(str(item).strip().lower() for item in listed if str(item).strip()))
    wrong = [p for p in platforms if not re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+(/v[0-9]+)?", p)]
    if wrong or not platforms:
        raise LivedocsError(f"{where}={value!r}: expected platforms such as linux/amd64,linux/arm64")
    return platforms


def _engines(root: Path, environ: Mapping[str, str]) -> tuple[str | None, ...]:
    """The engines to measure on: LIVEDOCS_ENGINES, else DOCKER_HOST (one engine chosen by
    hand), else the list `make engine` wrote, else the local socket."""
    listed = [address.strip() for address in environ.get("LIVEDOCS_ENGINES", "").split(",") if address.strip()]
    if listed:
        return tuple(dict.fromkeys(listed))
    if environ.get("DOCKER_HOST"):
        return (environ["DOCKER_HOST"],)
    started = root / CACHE / "engines"
    if started.is_file():
        found = [line.split()[-1] for line in started.read_text(encoding="utf-8").splitlines() if line.strip()]
        if found:
            return tuple(dict.fromkeys(found))
    return (None,)
