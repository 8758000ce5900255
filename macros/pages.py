"""Pages: the macros' behaviour, independent of the site generator.

A `Pages` object owns one workbench and the problems found while rendering. Each
macro locates itself in the page source (so every problem carries page and line),
asks the workbench for figures, and returns Markdown. Problems never escape as
exceptions: they are rendered in the page and collected, and the adapter decides
whether they end the build (`mkdocs build`) or not (`mkdocs serve`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import claims, render
from .errors import LivedocsError
from .units import human_size, percent, short_id
from .workbench import Workbench, is_site_label

# Problems are printed as they are found, on a logger of their own: under `mkdocs serve`
# (strict or not) a false claim must show, not stop the server; under `mkdocs build` the
# adapter ends the build with the full list.
log = logging.getLogger("livedocs.problems")
if not log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("ERROR   -  %(message)s"))
    log.addHandler(_handler)
    log.propagate = False


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str
    detail: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def report(self, indent: str = "  ", lines: int = 15) -> str:
        """The problem, then the last lines of the engine's own output, indented."""
        text = f"{indent}{self}"
        if self.detail:
            tail = self.detail.strip().splitlines()[-lines:]
            text += "".join(f"\n{indent}  | {line}" for line in tail)
        return text


class Pages:
    """What the macros do, page by page, over one workbench."""

    def __init__(self, bench: Workbench, docs_dir: str = "docs") -> None:
        self.bench = bench
        self.docs_dir = docs_dir  # pages are named by their path from the repository root
        self.problems: list[Problem] = []
        self.page_path = "?"
        self._source_lines: list[str] = []
        self._seen: Counter[str] = Counter()
        self._page_images: dict[str, list[str]] = {}
        self.claims_checked = 0

    # -- page bookkeeping ---------------------------------------------------------

    def begin_page(self, path: str, source: str) -> None:
        self.page_path = path
        self._source_lines = source.splitlines()
        self._seen = Counter()
        self._page_images[path] = []
        self.problems = [p for p in self.problems if p.path != path]  # a re-render replaces them

    def locate(self, argument: str) -> int | None:
        """The line of the n-th macro call whose first argument is `argument`.

        Macros render in page order, so the n-th call with an argument is the n-th
        place the argument stands quoted in the source.
        """
        self._seen[argument] += 1
        wanted = self._seen[argument]
        quoted = (f'"{argument}"', f"'{argument}'")
        count = 0
        for number, line in enumerate(self._source_lines, start=1):
            count += sum(line.count(q) for q in quoted)
            if count >= wanted:
                return number
        return None

    def _use(self, *tags: str) -> None:
        used = self._page_images.setdefault(self.page_path, [])
        used += [t for t in tags if t not in used]

    def _problem(self, line: int | None, error: LivedocsError | str) -> str:
        if isinstance(error, LivedocsError):
            # An error about an example (manifest, Dockerfile) names that file too.
            message = error.message if error.path is None else f"{error}"
            detail = error.detail
        else:
            message, detail = error, None
        problem = Problem(self.page_path, line, message, detail)
        if problem not in self.problems:
            self.problems.append(problem)
            log.error("livedocs: %s", problem.report(indent="").lstrip())
        return render.problem_box(str(problem), detail)

    def _guard(self, needle: str, produce: Callable[[], str]) -> str:
        line = self.locate(needle)
        try:
            return produce()
        except LivedocsError as error:
            return self._problem(line, error)

    # -- macros -------------------------------------------------------------------

    def size(self, tag: str) -> str:
        def produce() -> str:
            self._use(tag)
            return human_size(self.bench.size_bytes(tag))

        return self._guard(tag, produce)

    def image_id(self, tag: str) -> str:
        def produce() -> str:
            self._use(tag)
            return short_id(self.bench.image_entry(tag)["image_id"])

        return self._guard(tag, produce)

    def reduction(self, before: str, after: str) -> str:
        def produce() -> str:
            self._use(before, after)
            old, new = self.bench.size_bytes(before), self.bench.size_bytes(after)
            return percent(100.0 * (old - new) / old if old else 0.0)

        return self._guard(before, produce)

    def images_table(self, *tags: str) -> str:
        def produce() -> str:
            self._use(*tags)
            entries = [(tag, self.bench.image_entry(tag)) for tag in tags]
            return render.fenced(render.images_table(entries), "text")

        return self._guard(tags[0] if tags else "", produce)

    def layers(self, tag: str) -> str:
        def produce() -> str:
            self._use(tag)
            layers = self.bench.image_entry(tag)["layers"]
            shown = [layer for layer in layers if not is_site_label(str(layer.get("created_by", "")))]
            return render.layers_table(shown, hidden=len(layers) - len(shown))

        return self._guard(tag, produce)

    def size_chart(self, *tags: str, title: str = "Image sizes") -> str:
        def produce() -> str:
            self._use(*tags)
            return render.size_chart([(tag, self.bench.size_bytes(tag)) for tag in tags], title)

        return self._guard(tags[0] if tags else "", produce)

    def response(self, tag: str, path: str = "/") -> str:
        def produce() -> str:
            self._use(tag)
            answer = self.bench.response(tag, path)
            return render.fenced(
                f"$ curl -i http://127.0.0.1:8080{path}\nHTTP/1.1 {answer.status}\n\n{answer.body}",
                "text",
            )

        return self._guard(tag, produce)

    def build_error(self, tag: str) -> str:
        def produce() -> str:
            self._use(tag)
            return render.fenced(self.bench.build_error(tag), "text")

        return self._guard(tag, produce)

    def build_steps(self, tag: str) -> str:
        def produce() -> str:
            self._use(tag)
            entry = self.bench.image_entry(tag)
            standins = {b["ref"]: name for name, b in entry.get("base_images", {}).items() if b.get("ref") != name}
            return render.fenced(render.steps_block(self.bench.steps(tag), standins), "text")

        return self._guard(tag, produce)

    def cached_steps(self, tag: str) -> str:
        def produce() -> str:
            self._use(tag)
            cached, total = self.bench.build_steps(tag)
            return f"{cached} of {total}"

        return self._guard(tag, produce)

    def provenance(self) -> str:
        line = next(
            (n for n, text in enumerate(self._source_lines, 1) if "provenance(" in text),
            None,
        )
        try:
            tags = self._page_images.get(self.page_path, [])
            entries = [(t, self.bench.entry(t)) for t in tags if t not in self.bench.problems]
            return render.provenance_box(entries, self.bench.notice)
        except LivedocsError as error:
            return self._problem(line, error)

    def claim(self, source: str) -> str:
        line = self.locate(source)
        self.claims_checked += 1
        try:
            parsed = claims.parse(source)
        except LivedocsError as error:
            return self._problem(line, f'malformed claim "{source}": {error.message}')
        self._use(*parsed.images())
        try:
            verdict = claims.check(parsed, self.bench)
        except LivedocsError as error:
            return self._problem(line, f'claim "{source}" cannot be checked: {error}')
        if not verdict.holds:
            self._problem(line, verdict.summary())
        return render.claim_mark(verdict.holds, verdict.summary())

    # -- the end ------------------------------------------------------------------

    def unreported(self) -> list[Problem]:
        """Example failures no page showed: still problems of the site."""
        shown = {p.message for p in self.problems}
        extra = []
        for tag, error in sorted(self.bench.problems.items()):
            if not any(str(error) in message for message in shown):
                extra.append(
                    Problem(
                        error.path or "examples",
                        error.line,
                        f"{tag}: {error.message}",
                        error.detail,
                    )
                )
        return extra

    def replay_banner(self) -> str:
        """A notice for the top of a page that shows figures when no engine measured them."""
        if not self.bench.notice or not self._page_images.get(self.page_path):
            return ""
        return render.replay_banner(self.bench.notice)

    def report(self) -> list[Problem]:
        return [*self.problems, *self.unreported()]


def macros(pages: Pages) -> dict[str, Any]:
    """The functions a page can call, by name."""
    return {
        "size": pages.size,
        "image_id": pages.image_id,
        "reduction": pages.reduction,
        "images_table": pages.images_table,
        "layers": pages.layers,
        "size_chart": pages.size_chart,
        "response": pages.response,
        "build_error": pages.build_error,
        "build_steps": pages.build_steps,
        "cached_steps": pages.cached_steps,
        "provenance": pages.provenance,
        "claim": pages.claim,
    }


def project_root(config_file: str | None, fallback: str) -> Path:
    return Path(config_file).parent if config_file else Path(fallback)
