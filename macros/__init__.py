"""The mkdocs-macros adapter: the only part of the project that knows about MkDocs.

`define_env` builds (or replays) every example through the workbench and registers
the page macros; `on_pre_page_macros` tells them which page they are in; and
`on_post_build` saves the record, prints drift lines and, under `mkdocs build`,
fails the build listing every problem with its page and line.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from .errors import LivedocsError
from .pages import Pages, macros
from .workbench import Workbench

log = logging.getLogger("mkdocs.livedocs")

# The replay notice is a warning a reader of the log must see, but it must not turn a
# replay build into a failure under --strict (strict counts warnings of `mkdocs.*`).
notice = logging.getLogger("livedocs.notice")
if not notice.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("WARNING -  %(message)s"))
    notice.addHandler(_handler)
    notice.propagate = False

_current: dict[str, Pages] = {}


def serving() -> bool:
    """Under `mkdocs serve` a problem is shown in the page, not fatal."""
    flag = os.environ.get("LIVEDOCS_SERVE")
    if flag is not None:
        return flag not in ("", "0", "false")
    return len(sys.argv) > 1 and sys.argv[1] == "serve"


def _same_setting(bench: Workbench, root: Path) -> bool:
    mode = os.environ.get("LIVEDOCS_ENGINE", "auto").strip().lower() or "auto"
    return (
        bench.root == root.resolve()
        and bench.requested_mode == mode
        and bench.engine_host == os.environ.get("DOCKER_HOST")
    )


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def define_env(env: Any) -> None:
    root = Path(env.project_dir)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM ends a build as SIGINT does: containers removed, nothing half-written.
        signal.signal(signal.SIGTERM, _terminate)
    previous = _current.pop("pages", None)
    try:
        if previous is not None and _same_setting(previous.bench, root):
            # A rebuild under `mkdocs serve`: keep the engine and every unchanged figure.
            bench = previous.bench
            bench.refresh()
        else:
            if previous is not None:
                previous.bench.close()
            bench = Workbench(root)
            bench.connect()
            if bench.notice:
                notice.warning("livedocs: %s", bench.notice)
        bench.prepare()
    except LivedocsError as error:
        raise PluginError(f"livedocs: {error}") from None
    except KeyboardInterrupt:
        raise PluginError("livedocs: interrupted; running builds were stopped, nothing was recorded") from None
    pages = Pages(bench, docs_dir=os.path.relpath(env.conf["docs_dir"], root))
    _current["pages"] = pages
    for name, function in macros(pages).items():
        env.macro(function, name)


def on_pre_page_macros(env: Any) -> None:
    pages = _current.get("pages")
    if pages is None:
        return
    pages.begin_page(Path(pages.docs_dir, env.page.file.src_path).as_posix(), env.markdown)


def on_post_page_macros(env: Any) -> None:
    pages = _current.get("pages")
    if pages is not None:
        banner = pages.replay_banner()
        if banner:
            env.markdown = banner + env.markdown


def on_post_build(env: Any) -> None:
    pages = _current.get("pages")
    if pages is None:
        return
    bench = pages.bench
    try:
        for line in bench.finish():
            log.info("livedocs drift: %s", line)
    except LivedocsError as error:
        raise PluginError(f"livedocs: {error}") from None
    problems = pages.report()
    if problems and not serving():
        listing = "\n".join(problem.report() for problem in problems)
        raise PluginError(f"livedocs: {len(problems)} problem(s); the site is not true as written:\n{listing}")
