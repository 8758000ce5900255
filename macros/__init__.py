"""The mkdocs-macros adapter: the only part of the project that knows about MkDocs.

`define_env` builds (or replays) every example through the workbench and registers
the page macros; `on_pre_page_macros` tells them which page they are in; and
`on_post_build` saves the record, prints drift lines and, under `mkdocs build`,
fails the build listing every problem with its page and line.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from .errors import LivedocsError
from .logs import log, notice
from .pages import Pages, macros
from .settings import Settings
from .workbench import Workbench

_current: dict[str, Pages] = {}
_benches: dict[str, Workbench] = {}  # kept between rebuilds under `mkdocs serve`


def _serving(config: Any) -> bool:
    """Whether this is `mkdocs serve`: it points `site_url` at its own address before building."""
    address = str(config.get("dev_addr") or "")
    return bool(address) and str(config.get("site_url") or "").startswith(f"http://{address}/")


def _settings(env: Any) -> Settings:
    extra = env.conf.get("extra") or {}
    return Settings.load(Path(env.project_dir), config=extra.get("livedocs"), serve=_serving(env.conf))


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def define_env(env: Any) -> None:
    if threading.current_thread() is threading.main_thread():
        # SIGTERM ends a build as SIGINT does: containers removed, nothing half-written.
        signal.signal(signal.SIGTERM, _terminate)
    previous = _benches.pop("bench", None)
    try:
        settings = _settings(env)
        bench = previous
        if bench is not None and bench.settings == settings:
            bench.refresh()  # a rebuild under `mkdocs serve`: keep the engine and every unchanged figure
        else:
            if bench is not None:
                bench.close()
            bench = Workbench(settings)
            bench.connect()
            for line in bench.notices:
                notice.warning("livedocs: %s", line)
        _benches["bench"] = bench
        bench.prepare()
    except LivedocsError as error:
        raise PluginError(f"livedocs: {error}") from None
    except KeyboardInterrupt:
        raise PluginError("livedocs: interrupted; running builds were stopped, nothing was recorded") from None
    pages = Pages(
        bench.views,
        docs_dir=os.path.relpath(env.conf["docs_dir"], settings.root),
        complete=settings.mode == "replay",  # the site job's build of the merged record checks everything
    )
    _current["pages"] = pages
    for name, function in macros(pages).items():
        env.macro(function, name)


def on_pre_page_macros(env: Any) -> None:
    pages = _current.get("pages")
    if pages is not None:
        pages.begin_page(Path(pages.docs_dir, env.page.file.src_path).as_posix(), env.markdown)


def on_post_page_macros(env: Any) -> None:
    pages = _current.get("pages")
    if pages is not None:
        env.markdown = pages.finish_page(env.markdown)


def on_post_build(env: Any) -> None:
    pages, bench = _current.get("pages"), _benches.get("bench")
    if pages is None or bench is None:
        return
    try:
        for line in bench.finish():
            log.info("livedocs drift: %s", line)
    except LivedocsError as error:
        raise PluginError(f"livedocs: {error}") from None
    problems = pages.report()
    if problems and not bench.settings.serve:
        listing = "\n".join(problem.report() for problem in problems)
        raise PluginError(f"livedocs: {len(problems)} problem(s); the site is not true as written:\n{listing}")
