"""The copy of the site the benchmark builds, and the engines a build of it measures on."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from macros.engine import LOCAL_SOCKET, Engine
from macros.errors import LivedocsError
from macros.settings import Settings
from scripts.benchmark.config import BUILD_TIMEOUT, NO_MACROS_CONFIG, REPO, BenchError
from scripts.harness.children import ChildRun
from scripts.harness.mkdocs import mkdocs_build

_SUMMARY_LINE = re.compile(r"livedocs: built \d+, cached \d+.*")


def child_env(
    mode: str | None, image_map: str, engines: Sequence[str | None] = (), platforms: Sequence[str] = ()
) -> dict[str, str]:
    """The environment of a site build: LIVEDOCS_ENGINE as given, the image map, no serve
    flag, LIVEDOCS_ENGINES naming `engines` (if any: else the build finds its own), and
    LIVEDOCS_PLATFORMS naming `platforms` (if any: else each engine's own, whatever this
    process's environment says)."""
    unset = ("LIVEDOCS_ENGINE", "LIVEDOCS_ENGINES", "LIVEDOCS_SERVE", "LIVEDOCS_PLATFORMS")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update({"NO_MKDOCS_2_WARNING": "1", "LIVEDOCS_IMAGE_MAP": image_map, "PYTHONUNBUFFERED": "1"})
    if mode is not None:
        env["LIVEDOCS_ENGINE"] = mode
    if engines:
        env["LIVEDOCS_ENGINES"] = ",".join(host or LOCAL_SOCKET for host in engines)
    if platforms:
        env["LIVEDOCS_PLATFORMS"] = ",".join(platforms)
    return env


def listed_engines() -> tuple[str | None, ...]:
    """The engines a site build of this repository measures on (None: the local socket)."""
    return Settings.load(REPO).engines


def listed_facts(host: str | None) -> dict[str, str]:
    """The facts of one engine; BenchError if it does not answer."""
    try:
        engine = Engine.connect(host, timeout=120)
    except LivedocsError as error:
        raise BenchError(f"{error}; run `make engine`") from None
    try:
        return engine.facts().to_json()
    finally:
        engine.close()


class SiteCopy:
    """docs/, examples/ and mkdocs.yml of `source` (the repository, or the site `--site` names)
    copied into a temporary folder, this repository's macros/ and overrides/ (the theme's
    templates mkdocs.yml names) symlinked."""

    def __init__(self, workdir: Path, source: Path, image_map: str, engines: Sequence[str | None]) -> None:
        self.workdir = workdir
        self.source = source
        self.root = workdir / "src"
        self.site_dir = workdir / "site"
        self.image_map = image_map
        self.engines = tuple(engines)  # what its live builds measure on, unless told otherwise
        self.root.mkdir()
        shutil.copytree(source / "docs", self.root / "docs", symlinks=True)
        shutil.copytree(source / "examples", self.root / "examples", symlinks=True)
        shutil.copy2(source / "mkdocs.yml", self.root / "mkdocs.yml")
        (self.root / "macros").symlink_to(REPO / "macros", target_is_directory=True)
        (self.root / "overrides").symlink_to(REPO / "overrides", target_is_directory=True)
        # The same site without the macros plugin: pages keep their {{ ... }} as text.
        (self.root / NO_MACROS_CONFIG).write_text(
            "# The site without the macros module, for the memory comparison.\n"
            "INHERIT: mkdocs.yml\nstrict: false\nplugins:\n  - search\n",
            encoding="utf-8",
        )

    def env(self, mode: str, engines: Sequence[str | None] = (), platforms: Sequence[str] = ()) -> dict[str, str]:
        return child_env(mode, self.image_map, engines or self.engines, platforms)

    def build(
        self,
        mode: str,
        *,
        macros: bool = True,
        engines: Sequence[str] = (),
        platforms: Sequence[str] = (),
        timeout: float = BUILD_TIMEOUT,
    ) -> ChildRun:
        """`mkdocs build` of the copy into the temporary site folder (--strict with macros),
        measuring on `engines` if given, else on the listed ones, for `platforms` if given,
        else for each engine's own."""
        args = ["--site-dir", str(self.site_dir)]
        args += ["--strict"] if macros else ["--config-file", NO_MACROS_CONFIG]
        run = mkdocs_build(self.root, self.env(mode, engines, platforms), args, timeout=timeout)
        if run.code != 0:
            what = "mkdocs build" + ("" if macros else " (without macros)")
            raise BenchError(f"{what} with LIVEDOCS_ENGINE={mode} failed ({run.code}):\n{run.tail()}")
        return run

    def restore(self, relative: str) -> None:
        """Put one file of the copy back as it is in the source (gone, where the source has none)."""
        if (self.source / relative).exists():
            shutil.copy2(self.source / relative, self.root / relative)
        else:
            (self.root / relative).unlink(missing_ok=True)


def build_summary(run: ChildRun) -> str:
    """The workbench's 'built N, cached M' lines (one per store), or what the log says instead."""
    found = _SUMMARY_LINE.findall(run.output)
    if found:
        return "; ".join(found)
    return "built nothing" if "livedocs: building" not in run.output else "built (no summary line)"
