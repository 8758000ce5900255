"""Pages: the macros' behaviour, independent of the site generator.

A `Pages` object reads figures from one `Facts` (live or replayed) and collects the
problems found while rendering. Each macro locates itself in the page source (so every
problem carries page and line), asks for figures, and returns Markdown. Problems never
escape as exceptions: they are rendered in the page and collected, and the adapter
decides whether they end the build (`mkdocs build`) or not (`mkdocs serve`).

A new macro is one method decorated with `@macro`: the decorator registers it under
its name, finds its line in the page and turns a LivedocsError into a problem.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import claims, render
from .errors import LivedocsError
from .logs import own_logger
from .measurement import Measurement, failure_of, image_of
from .sources import Facts
from .units import human_size, percent, reduction, short_id

# Printed as found: under `mkdocs serve` a false claim must show, not stop the server;
# under `mkdocs build` the adapter ends the build with the full list.
log = own_logger("problems", "ERROR")

Macro = TypeVar("Macro", bound=Callable[..., str])
MACROS: dict[str, str] = {}  # macro name -> Pages method name


def macro(method: Macro) -> Macro:
    """Register a `Pages` method as a page macro; its first argument locates it in the page."""
    MACROS[method.__name__] = method.__name__

    @functools.wraps(method)
    def guarded(self: Pages, *args: Any, **kwargs: Any) -> str:
        line = self.locate(str(args[0])) if args else self.locate_call(method.__name__)
        self.line = line
        try:
            return method(self, *args, **kwargs)
        except LivedocsError as error:
            return self.problem(line, error)

    return guarded  # type: ignore[return-value]


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
    """What the macros do, page by page, over one `Facts`."""

    def __init__(self, facts: Facts, docs_dir: str = "docs") -> None:
        self.facts = facts
        self.docs_dir = docs_dir  # pages are named by their path from the repository root
        self.problems: list[Problem] = []
        self.page_path = "?"
        self.line: int | None = None  # where the macro being rendered stands
        self._source_lines: list[str] = []
        self._seen: Counter[str] = Counter()
        self._page_images: dict[str, list[str]] = {}

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

    def locate_call(self, name: str) -> int | None:
        """The line of the first call of a macro that takes no argument."""
        return next((n for n, text in enumerate(self._source_lines, 1) if f"{name}(" in text), None)

    def problem(self, line: int | None, error: LivedocsError | str) -> str:
        """Collect a problem at `line` of the current page; what the page shows instead."""
        if isinstance(error, LivedocsError):
            # An error about an example (manifest, Dockerfile) names that file too.
            message = error.message if error.path is None else f"{error}"
            detail = error.detail
        else:
            message, detail = error, None
        found = Problem(self.page_path, line, message, detail)
        if found not in self.problems:
            self.problems.append(found)
            log.error("livedocs: %s", found.report(indent="").lstrip())
        return render.problem_box(str(found), detail)

    def measured(self, tag: str) -> Measurement:
        """A measurement, noted as shown on this page (the provenance box lists it)."""
        found = self.facts.measurement(tag)
        self._use(tag)
        return found

    def image(self, tag: str) -> Measurement:
        """An image's measurement (not a build meant to fail), noted as shown on this page."""
        return image_of(self.measured(tag), tag)

    def _use(self, *tags: str) -> None:
        used = self._page_images.setdefault(self.page_path, [])
        used += [t for t in tags if t not in used]

    # -- macros -------------------------------------------------------------------

    @macro
    def size(self, tag: str) -> str:
        return human_size(self.image(tag).size_bytes or 0)

    @macro
    def image_id(self, tag: str) -> str:
        return short_id(self.image(tag).image_id)

    @macro
    def reduction(self, before: str, after: str) -> str:
        return percent(reduction(self.image(before).size_bytes or 0, self.image(after).size_bytes or 0))

    @macro
    def images_table(self, *tags: str) -> str:
        return render.fenced(render.images_table([(tag, self.image(tag)) for tag in tags]))

    @macro
    def layers(self, tag: str) -> str:
        return render.layers_table(self.image(tag).layers)

    @macro
    def size_chart(self, *tags: str, title: str = "Image sizes") -> str:
        return render.size_chart([(tag, self.image(tag).size_bytes or 0) for tag in tags], title)

    @macro
    def response(self, tag: str, path: str = "/") -> str:
        self.measured(tag)
        answer = self.facts.response(tag, path)
        return render.fenced(f"$ curl -i http://127.0.0.1:8080{path}\nHTTP/1.1 {answer.status}\n\n{answer.body}")

    @macro
    def build_error(self, tag: str) -> str:
        return render.fenced(failure_of(self.measured(tag), tag))

    @macro
    def build_steps(self, tag: str) -> str:
        measurement = self.image(tag)
        return render.fenced(render.steps_block(measurement.own_steps(), measurement.stand_in_names()))

    @macro
    def cached_steps(self, tag: str) -> str:
        cached, total = self.image(tag).cached_steps()
        return f"{cached} of {total}"

    @macro
    def provenance(self) -> str:
        tags = self._page_images.get(self.page_path, [])
        shown = [(t, self.facts.measurement(t)) for t in tags]  # each measured once already
        return render.provenance_box(shown, self.facts.notice)

    @macro
    def claim(self, source: str) -> str:
        try:
            parsed = claims.parse(source)
        except LivedocsError as error:
            raise LivedocsError(f'malformed claim "{source}": {error.message}') from None
        try:
            verdict = claims.check(parsed, self.facts)
            self._use(*parsed.images())
        except LivedocsError as error:
            raise LivedocsError(f'claim "{source}" cannot be checked: {error}') from None
        if not verdict.holds:
            self.problem(self.line, verdict.summary())
        return render.claim_mark(verdict.holds, verdict.summary())

    # -- the end ------------------------------------------------------------------

    def unreported(self) -> list[Problem]:
        """Example failures no page showed: still problems of the site."""
        shown = {p.message for p in self.problems}
        extra = []
        for tag, error in sorted(self.facts.problems.items()):
            if not any(str(error) in message for message in shown):
                extra.append(Problem(error.path or "examples", error.line, f"{tag}: {error.message}", error.detail))
        return extra

    def replay_banner(self) -> str:
        """A notice for the top of a page that shows figures when no engine measured them."""
        if not self.facts.notice or not self._page_images.get(self.page_path):
            return ""
        return render.replay_banner(self.facts.notice)

    def report(self) -> list[Problem]:
        return [*self.problems, *self.unreported()]


def macros(pages: Pages) -> dict[str, Callable[..., str]]:
    """The functions a page can call, by name: every `@macro` of `Pages`."""
    return {name: getattr(pages, method) for name, method in MACROS.items()}
