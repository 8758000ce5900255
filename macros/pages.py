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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import claims, render
from . import measurement as measured_as
from .errors import LivedocsError
from .logs import log, problems
from .measurement import (
    Measurement,
    NotMeasuredHere,
    content_size_of,
    context_bytes_of,
    failure_of,
    image_of,
    secret_layers_of,
)
from .sources import Facts
from .units import human_seconds, human_size, percent, reduction, short_id

MACROS: dict[str, str] = {}  # macro name -> Pages method name


def macro(kind: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register a `Pages` method as a page macro, under its own name.

    `kind` says how it shows several image stores: "inline" (a figure in a sentence:
    each store's value, named, unless they agree), "block" (a table or listing: linked
    content tabs, one per store, unless they agree) or "page" (the method sees every
    store itself). An inline or block method renders one store: it takes the store's
    `Facts` first. The macro's first argument locates it in the page; a LivedocsError
    becomes a problem at that line.
    """

    def register(method: Callable[..., str]) -> Callable[..., str]:
        MACROS[method.__name__] = method.__name__

        @functools.wraps(method)
        def guarded(self: Pages, *args: Any, **kwargs: Any) -> str:
            self.line = self.locate(str(args[0])) if args else self.locate_call(method.__name__)
            try:
                if kind == "page":
                    return method(self, *args, **kwargs)
                shown, elsewhere = [], []
                for view in self.views:
                    try:
                        shown.append((self.where(view), method(self, view, *args, **kwargs)))
                    except NotMeasuredHere as error:
                        elsewhere.append(error)
                if not shown:
                    call = f"{method.__name__}({', '.join(map(str, args))})"
                    return self.not_this_builds(call, elsewhere, claim=False)
                return render.per_store(shown, inline=kind == "inline", named=len(shown) < len(self.views))
            except LivedocsError as error:
                return self.problem(self.line, error)

        return guarded

    return register


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
    """What the macros do, page by page, over one `Facts` per image store."""

    def __init__(
        self,
        views: Sequence[Facts],
        docs_dir: str = "docs",
        complete: bool = False,
    ) -> None:
        self.views = views
        # The build that must check everything (the replay of the merged record, the site job):
        # a figure or claim no store of it measures is a problem. Any other build (a leg of the
        # scheduled rebuild measures one store) leaves it to the store that measures it.
        self.complete = complete
        self.docs_dir = docs_dir  # pages are named by their path from the repository root
        self.problems: list[Problem] = []
        self.page_path = "?"
        self.line: int | None = None  # where the macro being rendered stands
        self._source_lines: list[str] = []
        self._seen: Counter[str] = Counter()
        self._page_images: dict[str, list[str]] = {}

    def where(self, view: Facts) -> render.Where:
        """How the pages name where a view's figures were measured: its store, and its
        platform when the views cover more than one."""
        several = len({other.platform for other in self.views}) > 1
        return render.Where(view.store, view.platform if several else None)

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
            problems.error("livedocs: %s", found.report(indent="").lstrip())
        return render.problem_box(str(found), detail)

    def not_this_builds(self, what: str, errors: Sequence[NotMeasuredHere], claim: bool) -> str:
        """A figure or claim no store of this build measures: the store that does checks it.

        Outside the complete build, when every store that lacks it names the store that has
        it, the page says so and the build goes on (an INFO line); otherwise it is a problem
        (a figure of one store: that store's own message)."""
        stores = ", ".join(self.where(view).name() for view in self.views)
        others = sorted({error.measured_on for error in errors if error.measured_on})
        if self.complete or not errors or any(error.measured_on is None for error in errors):
            if len(errors) == 1 and not claim:
                raise errors[0]
            raise LivedocsError(f"{what} is not measured on {stores}")
        where = " or ".join(render.store_name(store) for store in others)
        message = f"{what} is {'checked' if claim else 'measured'} on the {where}, not in this build ({stores})"
        log.info("livedocs: %s:%s: %s", self.page_path, self.line, message)
        return render.claim_unchecked(message) if claim else render.measured_elsewhere(message, where)

    def measured(self, view: Facts, tag: str) -> Measurement:
        """A measurement, noted as shown on this page (the provenance box lists it)."""
        found = view.measurement(tag)
        self._use(tag)
        return found

    def image(self, view: Facts, tag: str) -> Measurement:
        """An image's measurement (not a build meant to fail), noted as shown on this page."""
        return image_of(self.measured(view, tag), tag)

    def _use(self, *tags: str) -> None:
        used = self._page_images.setdefault(self.page_path, [])
        used += [t for t in tags if t not in used]

    # -- macros -------------------------------------------------------------------

    @macro("inline")
    def size(self, view: Facts, tag: str) -> str:
        """What `docker images` prints as SIZE on this store."""
        return human_size(self.image(view, tag).size_bytes or 0)

    @macro("inline")
    def content_size(self, view: Facts, tag: str) -> str:
        """What `docker images --tree` prints as CONTENT SIZE (the containerd store only)."""
        return human_size(content_size_of(self.image(view, tag), tag, view.store))

    @macro("inline")
    def context_size(self, view: Facts, tag: str) -> str:
        """What BuildKit's `transferring context:` said it sent of the build context."""
        return human_size(context_bytes_of(self.image(view, tag), tag, view.store))

    @macro("inline")
    def step_seconds(self, view: Facts, tag: str, text: str) -> str:
        """How long BuildKit took for the step whose instruction contains `text` (`DONE 17.2s`);
        marked when the platform was emulated (not a duration a machine of the platform gives)."""
        measured = self.image(view, tag)
        emulated = " under emulation" if measured.engine is not None and measured.engine.emulated_on else ""
        return human_seconds(claims.step_seconds(measured, tag, text)) + emulated

    @macro("inline")
    def layer_size(self, view: Facts, tag: str, text: str) -> str:
        """The size `docker history` gives the newest layer whose CREATED BY contains `text`."""
        return human_size(claims.layer_size(self.image(view, tag), tag, text))

    @macro("inline")
    def uid(self, view: Facts, tag: str) -> str:
        """The uid the image's container ran its main process as, in its run check (`docker top`)."""
        self.image(view, tag)
        return str(view.process_uid(tag))

    @macro("inline")
    def image_id(self, view: Facts, tag: str) -> str:
        return short_id(self.image(view, tag).image_id)

    @macro("inline")
    def reduction(self, view: Facts, before: str, after: str) -> str:
        old, new = self.image(view, before).size_bytes or 0, self.image(view, after).size_bytes or 0
        return percent(reduction(old, new))

    @macro("block")
    def images_table(self, view: Facts, *tags: str) -> str:
        """`docker images` on this store: Docker 29's default view, then the classic table."""
        return render.images_table([(tag, self.image(view, tag)) for tag in tags], view.store)

    @macro("block")
    def images_tree(self, view: Facts, *tags: str) -> str:
        """`docker images --tree` on this store, as Docker 29 prints it: a row per platform."""
        return render.images_tree([(tag, self.image(view, tag)) for tag in tags], view.store)

    @macro("inline")
    def platform_size(self, view: Facts, tag: str, platform: str) -> str:
        """DISK USAGE of one platform's row under the tag (`docker images --tree`, containerd store)."""
        return human_size(measured_as.platform_row_of(self.image(view, tag), tag, platform, view.store).disk_bytes)

    @macro("inline")
    def platform_content_size(self, view: Facts, tag: str, platform: str) -> str:
        """CONTENT SIZE of one platform's row under the tag (`docker images --tree`, containerd store)."""
        return human_size(measured_as.platform_row_of(self.image(view, tag), tag, platform, view.store).content_bytes)

    @macro("inline")
    def platform_id(self, view: Facts, tag: str, platform: str) -> str:
        """The ID of the tag's image for `platform` (`docker image inspect --platform`), short."""
        return short_id(measured_as.platform_id_of(self.image(view, tag), tag, platform, view.store))

    @macro("inline")
    def media_type(self, view: Facts, tag: str) -> str:
        """`docker image inspect --format '{{.Descriptor.MediaType}}'` (the containerd store only)."""
        return measured_as.media_type_of(self.image(view, tag), tag, view.store)

    @macro("inline")
    def architecture(self, view: Facts, tag: str) -> str:
        """The image's platform, as `docker image inspect` gives its Os and Architecture."""
        return measured_as.architecture_of(self.image(view, tag), tag)

    @macro("inline")
    def build_output(self, view: Facts, tag: str, text: str) -> str:
        """What the build step whose instruction contains `text` printed."""
        return "; ".join(
            f"`{line}`" for line in measured_as.build_output(self.image(view, tag), tag, text).splitlines()
        )

    @macro("block")
    def layers(self, view: Facts, tag: str) -> str:
        return render.layers_table(self.image(view, tag).layers)

    @macro("block")
    def size_chart(self, view: Facts, *tags: str, title: str = "Image sizes") -> str:
        return render.size_chart([(tag, self.image(view, tag).size_bytes or 0) for tag in tags], title)

    @macro("block")
    def response(self, view: Facts, tag: str, path: str = "/") -> str:
        self.image(view, tag)
        answer = view.response(tag, path)
        return render.fenced(answer.curl(path))

    @macro("block")
    def build_error(self, view: Facts, tag: str) -> str:
        return render.fenced(failure_of(self.measured(view, tag), tag))

    @macro("block")
    def build_steps(self, view: Facts, tag: str) -> str:
        measurement = self.image(view, tag)
        engine = measurement.engine
        emulated = engine is not None and engine.emulated_on
        title = f"built for {engine.platform} under QEMU emulation on {engine.emulated_on}" if emulated else ""
        return render.fenced(render.steps_block(measurement), title=title)

    @macro("inline")
    def cached_steps(self, view: Facts, tag: str) -> str:
        cached, total = self.image(view, tag).cached_steps()
        return f"{cached} of {total}"

    @macro("inline")
    def secret_layers(self, view: Facts, tag: str, secret: str) -> str:
        """How many of the image's layers hold the bytes of its secret `secret` (`secrets:` in livedocs.yml)."""
        return str(secret_layers_of(self.image(view, tag), tag, secret))

    @macro("inline")
    def by_provenance(self, view: Facts, tag: str, standins: str, official: str) -> str:
        """A sentence that depends on where the site was built: `standins` where this store's
        figures of `tag` came from stand-ins for its base images (an offline build), else `official`."""
        bases = self.measured(view, tag).base_images.values()
        return standins if any(base.standin for base in bases) else official

    @macro("page")
    def provenance(self) -> str:
        tags = self._page_images.get(self.page_path, [])
        stores = [
            (view.store, view.notice, [(t, view.measurement(t)) for t in tags if self._measures(view, t)])
            for view in self.views
        ]
        return render.provenance_box(stores)

    @staticmethod
    def _measures(view: Facts, tag: str) -> bool:
        """Whether `view` has figures of `tag` (not failed, not measured elsewhere only)."""
        if tag in view.problems:
            return False
        try:
            view.measurement(tag)
        except NotMeasuredHere:
            return False
        return True

    @macro("page")
    def claim(self, source: str) -> str:
        try:
            parsed = claims.parse(source)
        except LivedocsError as error:
            raise LivedocsError(f'malformed claim "{source}": {error.message}') from None
        verdicts, elsewhere = [], []
        for view in self.views:
            try:
                verdict = claims.check(parsed, view)
            except NotMeasuredHere as error:
                elsewhere.append(error)
                continue
            except LivedocsError as error:
                raise LivedocsError(f'claim "{source}" cannot be checked: {error}') from None
            verdicts.append((self.where(view).name(), verdict))
        if not verdicts:  # e.g. content_size on a build that measured overlay2 only: not false, not checked here
            return self.not_this_builds(f'claim "{source}"', elsewhere, claim=True)
        self._use(*parsed.images())
        several = len(self.views) > 1
        for store, verdict in verdicts:
            if not verdict.holds:
                self.problem(self.line, verdict.summary(store))  # the store named, even in a one-store build
        holds = all(verdict.holds for _, verdict in verdicts)
        summary = "; ".join(verdict.summary(store if several else None) for store, verdict in verdicts)
        return render.claim_mark(holds, summary)

    # -- the end ------------------------------------------------------------------

    def unreported(self) -> list[Problem]:
        """Example failures no page showed: still problems of the site."""
        shown = {p.message for p in self.problems}
        extra = []
        several = len(self.views) > 1
        for view in self.views:
            for tag, error in sorted(view.problems.items()):
                if not any(str(error) in message for message in shown):
                    where = f" on {self.where(view).name()}" if several else ""
                    message = f"{tag}{where}: {error.message}"
                    extra.append(Problem(error.path or "examples", error.line, message, error.detail))
                    shown.add(str(error))
        return extra

    def finish_page(self, markdown: str) -> str:
        """The page's Markdown once its macros ran: one mark per run of claims that hold, and the
        replay banner, if any, on top."""
        return self.replay_banner() + render.merged_marks(markdown)

    def replay_banner(self) -> str:
        """A notice for the top of a page whose figures are not what its sources give now: a
        build that wanted an engine and fell back to the record, or a replay of images whose
        examples changed since they were measured. A replay of a current record shows none."""
        shown = self._page_images.get(self.page_path, [])
        notices = list(dict.fromkeys(view.notice for view in self.views if view.notice))
        if notices and shown:
            return render.replay_banner("; ".join(notices))
        stale = {view.stale[tag]: None for view in self.views for tag in shown if tag in view.stale}
        return render.stale_banner(list(stale)) if stale else ""

    def report(self) -> list[Problem]:
        return [*self.problems, *self.unreported()]


def macros(pages: Pages) -> dict[str, Callable[..., str]]:
    """The functions a page can call, by name: every `@macro` of `Pages`."""
    return {name: getattr(pages, method) for name, method in MACROS.items()}
