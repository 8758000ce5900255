"""The real site in a real browser: Debian's Chromium, driven by Playwright, reading what a reader reads.

The site is the session's one live build (conftest `real_site`, as `make site` builds it, stand-ins
mapped in), served from 127.0.0.1 and opened in headless Chromium (`make browser` installs it; Playwright's own browser
downloads are never used). Nothing leaves the machine: the browser resolves no host name but
127.0.0.1, and every request for another host is answered here with an empty 200 and recorded: no
page may make one (the theme's web fonts are off, `font: false`, and no `repo_url` asks GitHub's API).
Every page, in both palettes, is checked with axe-core (npm, package-lock.json; `make browser` runs
`npm ci`), with each of its content tabs shown. Screenshots go to tests/artifacts/ (git-ignored) for
a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

from macros.render import run_to_run_masked
from macros.units import human_size, percent, reduction, short_id

from .conftest import REPO, RealSite, store_engines
from .helpers import AMD64
from .test_chapter import CHAPTER

pytestmark = [pytest.mark.engine, pytest.mark.browser, pytest.mark.network]

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # No name resolves but the loopback address: nothing the page or the browser asks for can leave.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
ARTIFACTS = REPO / "tests" / "artifacts"
CHAPTER_SOURCE = REPO / "docs" / f"{CHAPTER}.md"
FAST_BUILDS = "fast-builds"  # the second chapter: BuildKit's listings, timed
FAST_BUILDS_SOURCE = REPO / "docs" / f"{FAST_BUILDS}.md"
MULTI_PLATFORM = "multi-platform"  # the third chapter: its images are measured on amd64 machines only
VIEWPORT = {"width": 1280, "height": 900}
SCHEMES = {"light": "default", "dark": "slate"}  # prefers-color-scheme -> Material's data-md-color-scheme
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"  # `make browser`: npm ci, from package-lock.json
# The image stores every figure is measured on, in the order the pages show them, and how a content
# tab names each one (a block figure on which the stores disagree is one tab per store).
STORE_NAMES = {"containerd": "containerd image store", "overlay2": "overlay2"}
STORES = tuple(STORE_NAMES)
# Where the record holds figures of several platforms (linux/amd64, built here, and others replayed
# from it), each store's figures are shown per platform, and a tab names the platform too, as a
# reader knows their machine: `overlay2, linux/arm64 (Apple Silicon)`.
PLATFORM_NAMES = {AMD64: "linux/amd64 (Intel, AMD)", "linux/arm64": "linux/arm64 (Apple Silicon)"}
# Any label of a store's tab, with or without a platform: a set of them is a set of store tabs,
# whose labels must then be the views' own.
STORE_LABEL = re.compile(rf"(?:{'|'.join(map(re.escape, STORE_NAMES.values()))})(?:, .*)?")


def store_tabs_among(labels: list[str]) -> bool:
    """Whether a set of content tabs with these labels is one of image store tabs."""
    return any(STORE_LABEL.fullmatch(label) for label in labels)


class _Handler(http.server.SimpleHTTPRequestHandler):
    extra_headers: ClassVar[dict[str, str]] = {}

    def end_headers(self) -> None:
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up early is no error
            super().handle_error(request, client_address)


@contextmanager
def serve_site(directory: Path, headers: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve a built site from 127.0.0.1 on a free port, as GitHub Pages would (dir/ -> dir/index.html)."""
    handler = type("Handler", (_Handler,), {"extra_headers": dict(headers or {})})
    server = _Server(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Site:
    root: Path
    url: str
    record: dict[str, Any]  # examples/measurements.json as this build left it


@dataclass(frozen=True)
class View:
    """Where figures on a page were measured: an image store and a platform."""

    store: str
    platform: str


@dataclass(frozen=True)
class Views:
    """The views the pages show the figures of, in their order (each store's, its linux/amd64
    figures first), and how the pages name each: by its store alone where every view is of one
    platform, else by store and platform."""

    all: tuple[View, ...]

    @classmethod
    def of(cls, record: dict[str, Any]) -> Views:
        """A build of the site shows a view for each store and platform its record holds."""
        places = {
            View(store, platform)
            for stores in record["images"].values()
            for store, platforms in stores.items()
            for platform in platforms
        }
        return cls(tuple(sorted(places, key=lambda v: (STORES.index(v.store), v.platform != AMD64, v.platform))))

    @property
    def several_platforms(self) -> bool:
        return len({view.platform for view in self.all}) > 1

    def label(self, view: View) -> str:
        """The label of the view's content tab: `overlay2`; `overlay2, linux/amd64 (Intel, AMD)`."""
        name = STORE_NAMES[view.store]
        return f"{name}, {PLATFORM_NAMES[view.platform]}" if self.several_platforms else name

    @property
    def labels(self) -> list[str]:
        return [self.label(view) for view in self.all]

    def short(self, view: View) -> str:
        """How a sentence names the view after a figure: `overlay2`; `overlay2, arm64`."""
        return f"{view.store}, {view.platform.rpartition('/')[2]}" if self.several_platforms else view.store

    def slug(self, view: View) -> str:
        """The view in a file name: `overlay2`; `overlay2-arm64`."""
        return self.short(view).replace(", ", "-")


@pytest.fixture(scope="module")
def served(real_site: RealSite) -> Iterator[Site]:
    """The session's live build of the real site, served on 127.0.0.1."""
    assert set(store_engines(*STORES)) == set(STORES), "the site is measured on exactly these image stores"
    assert real_site.record["schema"] == 3, "the record keeps each image's figures per image store and platform"
    views = Views.of(real_site.record).all
    assert {view.store for view in views} == set(STORES), f"the record holds the figures of {views}"
    assert all(View(store, AMD64) in views for store in STORES), "each store's linux/amd64 figures, built here"
    assert {view.platform for view in views} <= set(PLATFORM_NAMES), f"the record holds the figures of {views}"
    with serve_site(real_site.root) as url:
        yield Site(real_site.root, url, real_site.record)


@pytest.fixture(scope="module")
def views(served: Site) -> Views:
    """The views the pages of the build show: one per store and platform of its record."""
    return Views.of(served.record)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Reader:
    page: Page
    problems: list[str]  # console errors and uncaught exceptions, as they happened
    outside: list[str]  # requests for other hosts, answered empty here


@pytest.fixture
def reader(browser: Browser, served: Site) -> Iterator[Callable[..., Reader]]:
    """Open a page of the site in a fresh browser context (no stored palette, no cache)."""
    contexts = []

    def open_page(path: str = "", scheme: str = "light") -> Reader:
        context = browser.new_context(color_scheme=scheme, viewport=VIEWPORT)
        contexts.append(context)
        outside: list[str] = []

        def route(route: Route) -> None:
            if route.request.url.startswith(served.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.fulfill(status=200, body="")

        context.route("**/*", route)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        page.goto(served.url + path, wait_until="networkidle")
        return Reader(page, problems, outside)

    yield open_page
    for context in contexts:
        context.close()


def chart_tags() -> list[str]:
    """The images the chapter's `size_chart(...)` call names, in order."""
    calls = re.findall(r"\{\{\s*size_chart\(([^)]*)\)\s*\}\}", CHAPTER_SOURCE.read_text())
    assert len(calls) == 1, "the chapter draws one size chart (one per image store when they disagree)"
    return re.findall(r'"([^"]+)"', calls[0])


def table_tags() -> list[str]:
    """The images the chapter's `images_table(...)` calls list, in order."""
    calls = re.findall(r"\{\{\s*images_table\(([^)]*)\)\s*\}\}", CHAPTER_SOURCE.read_text())
    assert calls, "the chapter shows a docker images table"
    return [tag for call in calls for tag in re.findall(r'"([^"]+)"', call)]


def entry(record: dict[str, Any], tag: str, view: View) -> dict[str, Any]:
    """One image's recorded figures on one image store, for one platform."""
    stores = record["images"][tag]
    assert view.platform in stores.get(view.store, {}), f"{tag} is not recorded on the {view} image store"
    return stores[view.store][view.platform]


def tabs_expected(record: dict[str, Any], views: Views, tags: list[str], *keys: str) -> list[str | None]:
    """Where a block figure of these images' `keys` is shown: one tab per view (by label) where the
    views' figures differ, else one block in no tab (None)."""
    per_view = {tuple(entry(record, tag, view)[key] for tag in tags for key in keys) for view in views.all}
    return views.labels if len(per_view) > 1 else [None]


def inline_figure(views: Views, figures: Mapping[View, str]) -> str:
    """A figure in a sentence as a reader must read it: one value where every view agrees on it,
    else each view's value named (`531MB (containerd) / 270MB (overlay2)`; where the views cover
    several platforms, `17MB (containerd, amd64) / 16MB (containerd, arm64) / ...`), in their order."""
    shown = [(view, figures[view]) for view in views.all if view in figures]
    assert shown, "a figure no view has"
    if len(shown) == len(views.all) and len({figure for _, figure in shown}) == 1:
        return shown[0][1]
    return " / ".join(f"{figure} ({views.short(view)})" for view, figure in shown)


def tab_sets(page: Page) -> list[tuple[list[str], Locator]]:
    """Every set of content tabs in the article: its own labels (not those of sets nested in it), and the set."""
    sets = page.locator("article .tabbed-set")
    return [
        (sets.nth(i).locator(":scope > .tabbed-labels > label").all_inner_texts(), sets.nth(i))
        for i in range(sets.count())
    ]


def store_tab_sets(page: Page, views: Views, every: bool = True) -> list[Locator]:
    """The sets of image store tabs: exactly one tab per view, in the views' order. Not `every`: a
    set may leave views out (a figure only some views measure: chapter 3's, of amd64 machines),
    the others in order."""
    found = []
    for labels, tab_set in tab_sets(page):
        if store_tabs_among(labels):
            shown = [label for label in views.labels if label in labels]
            assert labels == (views.labels if every else shown), f"store tabs labelled {labels}"
            found.append(tab_set)
    return found


def tab_of(figure: Locator) -> str | None:
    """The label of the content tab a figure is in (None: in no tab)."""
    return figure.evaluate(
        """e => {
          const block = e.closest('.tabbed-block');
          if (!block) return null;
          const set = block.closest('.tabbed-set');
          const blocks = [...set.querySelector(':scope > .tabbed-content').children];
          return set.querySelectorAll(':scope > .tabbed-labels > label')[blocks.indexOf(block)].textContent;
        }"""
    )


def shown_on(figures: Locator, views: Views, view: View) -> list[Locator]:
    """The figures a reader of this view's tab gets: those in its tab, and those in no tab."""
    return [figure for figure in figures.all() if tab_of(figure) in (views.label(view), None)]


def expect_view_shown(tab_set: Locator, views: Views, view: View) -> None:
    """The set shows this view's tab (its radio checked, its block visible) and hides the other ones."""
    radios = tab_set.locator(":scope > input")
    blocks = tab_set.locator(":scope > .tabbed-content > .tabbed-block")
    expect(blocks).to_have_count(len(views.all))
    for index, other in enumerate(views.all):
        if other == view:
            expect(radios.nth(index)).to_be_checked()
            expect(blocks.nth(index)).to_be_visible()
        else:
            expect(radios.nth(index)).not_to_be_checked()
            expect(blocks.nth(index)).to_be_hidden()


def choose_view(page: Page, views: Views, view: View) -> None:
    """Select this view's tab in every set of store tabs that does not show it yet (set by set:
    this does not rely on the tabs being linked, which a test of its own checks)."""
    index = views.all.index(view)
    for tab_set in store_tab_sets(page, views):
        if not tab_set.locator(":scope > input").nth(index).is_checked():
            tab_set.locator(".tabbed-labels > label").nth(index).click()
        expect_view_shown(tab_set, views, view)


def chart_figures(chart: Locator) -> tuple[list[str], list[str], list[str]]:
    """A chart's labels, values and bar tooltips (SVG text has no innerText: its textContent)."""
    return (
        chart.locator(".livedocs-chart-label").all_text_contents(),
        chart.locator(".livedocs-chart-value").all_text_contents(),
        chart.locator(".livedocs-chart-bar > title").all_text_contents(),
    )


def assert_chart_is_the_record(chart: Locator, record: dict[str, Any], view: View) -> None:
    labels, values, tooltips = chart_figures(chart)
    assert labels == chart_tags()
    for tag, value, tooltip in zip(labels, values, tooltips, strict=True):
        size = entry(record, tag, view)["size_bytes"]
        assert value == human_size(size), f"{tag} on {view}"
        assert tooltip == f"{tag}: {human_size(size)} ({size:,} bytes)", f"{tag} on {view}"


DOCKER_IMAGES_HEADER = re.compile(r"^REPOSITORY\s+TAG\s+IMAGE ID")


def images_tables(page: Page) -> Locator:
    return page.locator("article pre").filter(has_text=DOCKER_IMAGES_HEADER)


def assert_tables_are_the_record(tables: list[Locator], record: dict[str, Any], view: View) -> None:
    """The `docker images` tables shown: a row per image the chapter lists, with that view's ID and SIZE."""
    rows = []
    for table in tables:
        expect(table).to_be_visible()
        rows += [line.split() for line in table.inner_text().splitlines()[1:] if line.strip()]
    assert [row[0] for row in rows] == table_tags(), f"the {view} tables list {rows}"
    for row in rows:
        repository, tag, image_id, size = row[0], row[1], row[2], row[-1]
        assert tag == "latest"
        assert image_id == short_id(entry(record, repository, view)["image_id"]), f"{repository} on {view}"
        assert size == human_size(entry(record, repository, view)["size_bytes"]), f"{repository} on {view}"


DOCKER_29_HEADER = re.compile(r"^IMAGE\s+ID\s+DISK USAGE\s+CONTENT SIZE\s+EXTRA")


def tree_views(page: Page) -> Locator:
    """The listings of `docker images` as Docker 29 prints them by default."""
    return page.locator("article pre").filter(has_text=DOCKER_29_HEADER)


def title_of(listing: Locator) -> str:
    """The title bar of a code block (Material's `.filename`), empty if it has none."""
    return listing.evaluate("e => e.closest('.highlight')?.querySelector('.filename')?.textContent ?? ''")


def assert_tree_views_are_the_record(listings: list[Locator], record: dict[str, Any], view: View) -> None:
    """Docker 29's listing of the images each table lists, titled, above the classic table that is
    titled as what prints it: a row per tag in order of name, with that view's ID, DISK USAGE (the
    size) and CONTENT SIZE (the content on the containerd store, none on overlay2), nothing in use."""
    rows = []
    for listing in listings:
        expect(listing).to_be_visible()
        assert title_of(listing) == "Docker 29"
        classic = listing.locator(
            "xpath=ancestor::div[contains(@class, 'highlight')][1]/following-sibling::div[1]//pre"
        )
        expect(classic).to_have_text(DOCKER_IMAGES_HEADER)
        assert title_of(classic) == "Docker 28, or --format table"
        shown = [line.split() for line in listing.inner_text().splitlines()[1:] if line.strip()]
        assert [row[0] for row in shown] == sorted(row[0] for row in shown)
        rows += shown
    assert sorted(row[0] for row in rows) == sorted(f"{tag}:latest" for tag in table_tags()), f"{view}: {rows}"
    for name, image_id, disk_usage, content_size, *extra in rows:
        recorded = entry(record, name.removesuffix(":latest"), view)
        assert image_id == short_id(recorded["image_id"]), f"{name} on {view}"
        assert disk_usage == human_size(recorded["size_bytes"]), f"{name} on {view}"
        assert content_size == human_size(recorded.get("content_size_bytes", 0)), f"{name} on {view}"
        assert ("content_size_bytes" in recorded) == (view.store == "containerd"), f"{name} on {view}"
        assert extra == [], f"{name} on {view}: listed before any container ran, so not in use"


def instruction_lines(dockerfile: Path) -> list[str]:
    """What the reader must see of a Dockerfile: every line but comments (annotation markers) and blanks."""
    lines = [line.rstrip() for line in dockerfile.read_text().splitlines()]
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _rgba(css: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    assert len(numbers) in (3, 4), css
    return (numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 1.0)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of a CSS colour (alpha blended) on an opaque background colour."""
    fr, fg, fb, alpha = _rgba(foreground)
    br, bg, bb, _ = _rgba(background)
    blended = (fr * alpha + br * (1 - alpha), fg * alpha + bg * (1 - alpha), fb * alpha + bb * (1 - alpha))

    def luminance(rgb: tuple[float, float, float]) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(blended), luminance((br, bg, bb))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_chapter_loads_without_console_errors(reader: Callable[..., Reader]) -> None:
    """The chapter renders with the theme's styles and scripts, and logs no error and throws nothing."""
    chapter = reader(f"{CHAPTER}/")
    page = chapter.page
    expect(page).to_have_title(re.compile(r"^Multi-stage builds - Docker, Measured$"))
    expect(page.locator("article h1")).to_have_text(re.compile(r"^Multi-stage builds and image optimisation"))
    # The theme's CSS is applied (a sticky header) and its JavaScript ran (the palette toggle is shown).
    assert page.locator("header.md-header").evaluate("e => getComputedStyle(e).position") == "sticky"
    expect(page.locator("form[data-md-component=palette] label:visible")).to_have_count(1)
    assert page.locator(".livedocs-problem, .livedocs-false").count() == 0, "no livedocs problem in the page"
    assert chapter.problems == []
    # The page asks no other host for anything (answered empty here): it would need the Internet.
    assert chapter.outside == []


def test_the_dockerfile_tabs_switch(reader: Callable[..., Reader], views: Views) -> None:
    """Clicking a tab shows that tab's Dockerfile, as in the repository, and hides the other ones.

    (The image store tabs are the figures' own: `test_the_store_tabs_are_linked` clicks those.)
    """
    chapter = reader(f"{CHAPTER}/")
    dockerfile_sets = [(names, tabs) for names, tabs in tab_sets(chapter.page) if not store_tabs_among(names)]
    assert ["Single-stage", "Multi-stage"] in [names for names, _ in dockerfile_sets]
    for names, tabs in dockerfile_sets:
        blocks = tabs.locator(".tabbed-content > .tabbed-block")
        assert blocks.count() == len(names) >= 2
        expect(blocks.nth(0)).to_be_visible()
        # The last tab first (it starts hidden), then back to the first one.
        for shown in range(len(names) - 1, -1, -1):
            tabs.locator(".tabbed-labels > label").nth(shown).click()
            for other in range(len(names)):
                if other == shown:
                    expect(blocks.nth(other)).to_be_visible()
                else:
                    expect(blocks.nth(other)).to_be_hidden()
            block = blocks.nth(shown)
            filename = block.locator(".filename").inner_text()
            code = block.locator("pre > code").inner_text()
            for line in instruction_lines(REPO / filename):
                assert line in code, f"tab {names[shown]!r}: {filename} line {line!r} not shown"
    assert chapter.problems == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_size_charts_are_visible_and_readable(
    reader: Callable[..., Reader], served: Site, views: Views, scheme: str
) -> None:
    """One SVG chart per image store tab (per store and platform, where the record holds several);
    the chart of the selected tab is drawn with one label per image, inside its frame and legible
    on the palette, and the other tabs' charts are hidden."""
    ARTIFACTS.mkdir(exist_ok=True)
    chapter = reader(f"{CHAPTER}/", scheme=scheme)
    page = chapter.page
    assert page.locator("body").get_attribute("data-md-color-scheme") == SCHEMES[scheme]
    charts = page.locator("article svg.livedocs-chart")
    expected = tabs_expected(served.record, views, chart_tags(), "size_bytes")
    expect(charts).to_have_count(len(expected))
    assert [tab_of(chart) for chart in charts.all()] == expected, "one chart per image store tab"

    for view in views.all:
        store = views.short(view)  # in the messages below
        choose_view(page, views, view)
        (chart,) = shown_on(charts, views, view)
        for other in charts.all():
            if tab_of(other) not in (views.label(view), None):
                expect(other).to_be_hidden()
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_visible()
        expect(chart.locator(".livedocs-chart-label")).to_have_text(chart_tags())  # SVG text: textContent
        box = chart.bounding_box()
        assert box is not None and box["width"] >= 600, (store, box)

        drawn = chart.evaluate(
            """svg => {
              const background = getComputedStyle(document.body).backgroundColor;
              const frame = svg.getBoundingClientRect();
              const items = [...svg.querySelectorAll('text, rect')].map(e => {
                const r = e.getBoundingClientRect();
                return {kind: e.getAttribute('class'), text: e.textContent, fill: getComputedStyle(e).fill,
                        inside: r.left >= frame.left - 0.5 && r.right <= frame.right + 0.5
                                && r.top >= frame.top - 0.5 && r.bottom <= frame.bottom + 0.5,
                        width: r.width, height: r.height, fontSize: parseFloat(getComputedStyle(e).fontSize)};
              });
              return {background, items};
            }"""
        )
        texts = [item for item in drawn["items"] if item["kind"] != "livedocs-chart-bar"]
        bars = [item for item in drawn["items"] if item["kind"] == "livedocs-chart-bar"]
        assert len(bars) == len(chart_tags()), store
        for item in drawn["items"]:
            assert item["inside"], f"{store}: {item['kind']} {item['text']!r} is cut off by the chart's frame"
            assert item["width"] > 0 and item["height"] > 0, f"{store}: {item['kind']} {item['text']!r} is not drawn"
        for item in texts:
            ratio = contrast(item["fill"], drawn["background"])
            assert ratio >= 4.5, (
                f"{store}: {item['kind']} {item['text']!r}: contrast {ratio:.1f} on the {scheme} palette"
            )
            assert item["fontSize"] >= 12, f"{store}: {item['kind']} {item['text']!r}: {item['fontSize']}px"
        for bar in bars:
            ratio = contrast(bar["fill"], drawn["background"])
            assert ratio >= 3, f"{store}: bar {bar['text']!r}: contrast {ratio:.1f} on the {scheme} palette"
        chart.screenshot(path=ARTIFACTS / f"chart-{views.slug(view)}-{scheme}.png")
    assert chapter.problems == []


def test_the_store_tabs_are_linked(reader: Callable[..., Reader], served: Site, views: Views) -> None:
    """Choosing an image store (and platform) in one set of store tabs chooses it in every set of
    the page (`content.tabs.link`), and the chart and `docker images` table in view are then its."""
    chapter = reader(f"{CHAPTER}/")
    page = chapter.page
    sets = store_tab_sets(page, views)
    assert len(sets) >= 2, "the chapter shows several block figures per image store"
    charts = page.locator("article svg.livedocs-chart")
    tables = images_tables(page)
    assert [tab_of(chart) for chart in charts.all()] == views.labels, (
        "the stores' charts differ, so each is in its store's tab"
    )
    assert {tab_of(table) for table in tables.all()} == set(views.labels), (
        "the stores' docker images tables differ, so each is in its store's tab"
    )
    # (`has` looks inside each set: the figures' locators relative to it)
    chart_set = page.locator("article .tabbed-set").filter(has=page.locator("svg.livedocs-chart"))
    table_set = page.locator("article .tabbed-set").filter(has=page.locator("pre", has_text=DOCKER_IMAGES_HEADER))
    expect(chart_set).to_have_count(1)
    expect(table_set).to_have_count(1)

    def everywhere(view: View) -> None:
        for tab_set in sets:
            expect_view_shown(tab_set, views, view)
        (chart,) = charts.filter(visible=True).all()
        assert_chart_is_the_record(chart, served.record, view)
        assert_tables_are_the_record(tables.filter(visible=True).all(), served.record, view)

    everywhere(views.all[0])  # a fresh reader sees the first store's tabs (containerd, linux/amd64)
    # One click on a label of one set (the chart's), and every set follows; then one in another
    # set (the table's), and so on, each view in turn (overlay2's last) and back to the first.
    for number, view in enumerate([*views.all[:0:-1], views.all[0]]):
        clicked = (chart_set, table_set)[number % 2]
        clicked.locator(".tabbed-labels > label", has_text=re.compile(rf"^{re.escape(views.label(view))}$")).click()
        everywhere(view)
    assert chapter.problems == []


def test_the_figures_are_the_recorded_ones(reader: Callable[..., Reader], served: Site, views: Views) -> None:
    """Chart, `docker images` tables and sentences show, store by store (and platform by platform,
    where the record holds several), the sizes and IDs examples/measurements.json holds; a sentence
    names each one's figure where they differ."""
    page = reader(f"{CHAPTER}/").page
    record = served.record

    charts = page.locator("article svg.livedocs-chart")
    tables = images_tables(page)
    assert [tab_of(chart) for chart in charts.all()] == tabs_expected(record, views, chart_tags(), "size_bytes")
    tables_expected = tabs_expected(record, views, table_tags(), "image_id", "size_bytes")
    assert {tab_of(table) for table in tables.all()} == set(tables_expected), "a table per store where they differ"
    for view in views.all:
        choose_view(page, views, view)
        (chart,) = shown_on(charts, views, view)
        expect(chart).to_be_visible()
        assert_chart_is_the_record(chart, record, view)
        assert_tables_are_the_record(shown_on(tables, views, view), record, view)
        assert_tree_views_are_the_record(shown_on(tree_views(page), views, view), record, view)

    def figure(name: str, tags: list[str], view: View) -> str | None:
        found = [entry(record, tag, view) for tag in tags]
        if name == "size":
            return human_size(found[0]["size_bytes"])
        if name == "content_size":  # recorded on the containerd store only
            containerd = view.store == "containerd"
            assert ("content_size_bytes" in found[0]) == containerd, f"{tags[0]} on {view}"
            return human_size(found[0]["content_size_bytes"]) if containerd else None
        assert name == "reduction"
        return percent(reduction(found[0]["size_bytes"], found[1]["size_bytes"]))

    text = " ".join(page.locator("article").inner_text().split())
    source = CHAPTER_SOURCE.read_text()
    calls = re.findall(r"(\S+)\s+\{\{ (size|content_size|reduction)\(([^)]*)\) \}\}(?:([^\s{]+)|\s+(\w+))", source)
    assert len(calls) == len(re.findall(r"\{\{\s*(?:size|content_size|reduction)\(", source)) >= 6, calls
    for before, name, arguments, punctuation, after in calls:
        tags = re.findall(r'"([^"]+)"', arguments)
        figures = {view: shown for view in views.all if (shown := figure(name, tags, view)) is not None}
        sentence = f"{before.strip('`*')} {inline_figure(views, figures)}" + (punctuation or f" {after}")
        assert sentence in text, f"{name}({', '.join(tags)}): the page should read {sentence!r}"


def test_search_finds_the_chapter(reader: Callable[..., Reader]) -> None:
    """From the home page, `s` opens the search; the chapter's instruction finds the chapter, which opens.

    The query is "COPY from", not "COPY --from": the theme hands the query to lunr, whose query
    syntax reads a leading `-` as "must not contain", so "--from" is a syntax error there and the
    search shows "No matching documents" (and logs a QueryParseError warning).
    """
    home = reader("")
    page = home.page
    page.keyboard.press("s")
    query = page.locator("input.md-search__input")
    expect(query).to_be_focused()
    page.keyboard.type("COPY from")
    results = page.locator(".md-search-result__item")
    expect(results.first).to_be_visible()
    expect(page.locator(".md-search-result__meta")).to_have_text(re.compile(r"^\d+ matching documents?$"))
    links = results.locator("a.md-search-result__link")
    hrefs = links.evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert any(re.search(rf"/{CHAPTER}/(\?|#|$)", href) for href in hrefs), hrefs
    links.first.click()
    expect(page).to_have_url(re.compile(rf"/{CHAPTER}/"))
    expect(page.locator("article h1")).to_have_text(re.compile(r"^Multi-stage builds and image optimisation"))
    assert home.problems == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_full_page_screenshot(reader: Callable[..., Reader], scheme: str) -> None:
    """tests/artifacts/chapter.png (light) and chapter-dark.png: the whole chapter, for a person to look at.

    The dark one is reached with the header's palette toggle, as a reader would switch. (The theme
    turns the toggles' titles into tooltips, so they are found by the palette each one selects.)
    """
    ARTIFACTS.mkdir(exist_ok=True)
    chapter = reader(f"{CHAPTER}/")
    page = chapter.page
    if scheme == "dark":
        toggles = page.locator("form[data-md-component=palette] label")
        expect(toggles.filter(visible=True)).to_have_attribute("for", "__palette_1")  # to the dark palette
        toggles.filter(visible=True).click()
        expect(page.locator("body")).to_have_attribute("data-md-color-scheme", "slate")
        expect(toggles.filter(visible=True)).to_have_attribute("for", "__palette_0")  # and back
        page.mouse.move(VIEWPORT["width"] / 2, VIEWPORT["height"] - 1)  # no toggle tooltip in the picture
        page.evaluate("document.activeElement.blur()")
        expect(page.locator(".md-tooltip--active")).to_have_count(0)
    assert page.locator("body").get_attribute("data-md-color-scheme") == SCHEMES[scheme]
    path = ARTIFACTS / ("chapter.png" if scheme == "light" else "chapter-dark.png")
    page.screenshot(path=path, full_page=True)
    width, height = png_size(path)
    assert width == VIEWPORT["width"]
    assert height == page.evaluate("document.documentElement.scrollHeight") > 5 * VIEWPORT["height"]
    assert chapter.problems == []


def listing_tags() -> list[str]:
    """The images whose BuildKit listing the second chapter shows (`build_steps(...)`), in page order."""
    tags = re.findall(r"\{\{\s*build_steps\(\"([^\"]+)\"\)", FAST_BUILDS_SOURCE.read_text())
    assert len(tags) >= 4, "the chapter shows the listings of its rebuilds"
    return tags


def listing(record: dict[str, Any], tag: str, view: View) -> str:
    """A recorded listing as the page shows it: Markdown expands tabs (`go test`'s columns) to stops of 4."""
    return "\n".join(line.expandtabs(4) for line in entry(record, tag, view)["build"]["listing"].splitlines())


def cached_of(record: dict[str, Any], tag: str, view: View) -> str:
    """`3 of 6`: the steps taken from the cache, of every step but FROM, as the chapter prints them."""
    steps = [s for s in entry(record, tag, view)["build"]["steps"] if not s["instruction"].upper().startswith("FROM ")]
    return f"{sum(s['cached'] for s in steps)} of {len(steps)}"


def test_the_fast_builds_chapter_loads_without_console_errors(reader: Callable[..., Reader]) -> None:
    """The second chapter renders with the theme, shows no livedocs problem, logs no error and asks no other host."""
    chapter = reader(f"{FAST_BUILDS}/")
    page = chapter.page
    expect(page).to_have_title(re.compile(r"^Fast builds - Docker, Measured$"))
    expect(page.locator("article h1")).to_have_text(
        re.compile(r"^Fast builds: the layer cache, cache mounts and the build context")
    )
    assert page.locator(".livedocs-problem, .livedocs-false").count() == 0, "no livedocs problem in the page"
    assert page.locator(".livedocs-claim").count() >= 15, "the chapter's sentences are checked"
    # The Dockerfiles' annotations became the theme's annotation buttons.
    assert page.locator("article .md-annotation").count() >= 6
    assert chapter.problems == []
    assert chapter.outside == []


def test_the_fast_builds_listings_are_the_recorded_ones(
    reader: Callable[..., Reader], served: Site, views: Views
) -> None:
    """Every BuildKit listing of the second chapter is, store by store (and platform by platform,
    where the record holds several), the one examples/measurements.json holds: in its tab where the
    listings differ by more than timings and step numbers; choosing a store in one set of store
    tabs chooses it in every set; and each `N of M` cached-steps figure in a sentence is the record's."""
    page = reader(f"{FAST_BUILDS}/").page
    record = served.record
    blocks = page.locator("article pre").filter(has_text=re.compile(r"^#\d+ \["))
    expected: list[tuple[str, str | None]] = []  # (listing, store tab label or None: in no store tab)
    for tag in listing_tags():
        listings = {view: listing(record, tag, view) for view in views.all}
        if len({run_to_run_masked(text) for text in listings.values()}) == 1:  # alike: shown once
            expected.append((listings[views.all[0]], None))
        else:
            expected += [(listings[view], views.label(view)) for view in views.all]
    shown = blocks.all()
    assert len(shown) == len(expected), f"{len(shown)} listings shown, {len(expected)} recorded"
    for block, (text, label) in zip(shown, expected, strict=True):
        assert (block.text_content() or "").strip() == text.strip()
        tab = tab_of(block)
        assert tab == label if label else tab is None or not store_tabs_among([tab]), (tab, label)

    # Some store tabs sit inside a hidden tab of their own ("Everything first"): those are checked by their
    # radio button, the ones a reader sees by what is visible. One click in one set moves them all: in
    # the last set, then the first, each view in turn (overlay2's last) and back to the first.
    sets = store_tab_sets(page, views)
    assert len(sets) >= len(listing_tags()), "each listing differs between the stores (durations, digests)"
    for number, view in enumerate([*views.all[:0:-1], views.all[0]]):
        index = views.all.index(view)
        sets[-1 if number % 2 == 0 else 0].locator(":scope > .tabbed-labels > label").nth(index).click()
        for other in sets:
            if other.is_visible():
                expect_view_shown(other, views, view)
            else:
                expect(other.locator(":scope > input").nth(index)).to_be_checked()

    text = " ".join(page.locator("article").inner_text().split())
    calls = re.findall(r"(\S+)\s+\{\{ cached_steps\(\"([^\"]+)\"\) \}\}", FAST_BUILDS_SOURCE.read_text())
    assert len(calls) >= 2, calls
    for before, tag in calls:
        figure = inline_figure(views, {view: cached_of(record, tag, view) for view in views.all})
        assert f"{before.strip('`*')} {figure}" in text, f"cached_steps({tag}): the page should read {figure!r}"


def test_the_multi_platform_chapter_shows_the_figures_of_amd64_machines_only(
    reader: Callable[..., Reader], served: Site, views: Views
) -> None:
    """The third chapter's images are measured only where the machine is linux/amd64 (`machine:`
    in their livedocs.yml): its sets of store tabs hold the linux/amd64 views' tabs, labelled as
    every store tab of the site (with the platform where the record holds several), and no other
    platform's; the image IDs in its sentences are the record's, each named by its view where the
    record holds other views too; and the page shows no livedocs problem."""
    chapter = reader(f"{MULTI_PLATFORM}/")
    page = chapter.page
    assert page.locator(".livedocs-problem, .livedocs-false").count() == 0, "no livedocs problem in the page"
    amd64 = [view for view in views.all if view.platform == AMD64]
    labels = [views.label(view) for view in amd64]
    sets = [names for names, _ in tab_sets(page) if store_tabs_among(names)]
    assert labels in sets, "the figures of both stores, side by side"
    for names in sets:
        assert names == [label for label in labels if label in names], f"store tabs labelled {names}"

    text = " ".join(page.locator("article").inner_text().split())
    for tag in ("webapp-arm64-emulated", "webapp-arm64-cross"):
        figure = inline_figure(views, {view: short_id(entry(served.record, tag, view)["image_id"]) for view in amd64})
        assert f"{tag} the ID {figure}" in text, f"image_id({tag}): the page should read {figure!r}"
    assert chapter.problems == []


def site_pages() -> list[str]:
    """Every page of the site, as its path under the site's root: the pages of mkdocs.yml's nav, in
    order (`x.md` -> `x/`, `index.md` -> the root), and the theme's 404 page."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())

    def files(items: Any) -> Iterator[str]:
        for item in items if isinstance(items, list) else [items]:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                yield from files(value)  # a section
            elif not re.match(r"^[a-z]+://", value):  # (a link to elsewhere is no page)
                yield value

    pages = [re.sub(r"(^|/)index/$", r"\1", doc.removesuffix(".md") + "/") for doc in files(config["nav"])]
    assert {"", f"{CHAPTER}/", f"{FAST_BUILDS}/", f"{MULTI_PLATFORM}/"} <= set(pages), pages
    return [*pages, "404.html"]


PAGES = site_pages()


def test_every_page_of_the_site_is_checked(served: Site) -> None:
    """The pages the checks below open are all the HTML pages the build wrote: none is left out."""
    built = sorted(str(path.relative_to(served.root)) for path in served.root.rglob("*.html"))
    assert built == sorted(page if page.endswith(".html") else f"{page}index.html" for page in PAGES)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", PAGES)
def test_every_page_asks_no_other_host_and_logs_no_error(reader: Callable[..., Reader], path: str, scheme: str) -> None:
    """Each page, in either palette, is served whole by the site: not one request for another host
    (the reader of a copy on a laptop offline gets the same page), no console error, nothing thrown."""
    opened = reader(path, scheme=scheme)
    assert opened.page.locator("body").get_attribute("data-md-color-scheme") == SCHEMES[scheme]
    assert opened.outside == []
    assert opened.problems == []


def tab_views(page: Page, views: Views) -> list[tuple[int, int]]:
    """The choices of content tabs that together show every tab of the page: (the view's index in
    `views`, the index of the tab chosen in every other set), each view with each other one."""
    others = [len(labels) for labels, _ in tab_sets(page) if not store_tabs_among(labels)]
    stores = len(views.all) if store_tab_sets(page, views, every=False) else 1
    return [(store, other) for store in range(stores) for other in range(max(others, default=1))]


def show_tabs(page: Page, views: Views, store: int, other: int) -> None:
    """Choose, as a reader would (a click on its label), in every set of content tabs that can be seen,
    the tab of the view `views.all[store]` (a set of store tabs without it, of a figure only some
    views measure, is left as it is: its tabs are each chosen with their own view), or in a set of
    other tabs the tab `other` (its last one if it has fewer). Sets in a tab not shown are skipped;
    an outer set comes first in the page, so the sets in its chosen tab are seen by then.
    (`choose_view` clicks every set of store tabs, even one in a tab not shown, which a reader cannot.)"""
    wanted = views.labels[store]
    sets = page.locator("article .tabbed-set")
    for index in range(sets.count()):
        tab_set = sets.nth(index)
        if not tab_set.is_visible():
            continue
        labels = tab_set.locator(":scope > .tabbed-labels > label")
        names = labels.all_inner_texts()
        if store_tabs_among(names):
            if wanted not in names:
                continue
            chosen = names.index(wanted)
        else:
            chosen = min(other, len(names) - 1)
        if not tab_set.locator(":scope > input").nth(chosen).is_checked():
            labels.nth(chosen).click()
        expect(tab_set.locator(":scope > input").nth(chosen)).to_be_checked()


def with_axe(page: Page) -> Page:
    """The page with axe-core in it: node_modules/'s, the version package-lock.json pins."""
    assert AXE.is_file(), f"{AXE.relative_to(REPO)} is missing: run `make browser` (npm ci)"
    page.add_script_tag(path=str(AXE))
    locked = json.loads((REPO / "package-lock.json").read_text())["packages"]["node_modules/axe-core"]["version"]
    assert page.evaluate("axe.version") == locked, "node_modules/ is not what package-lock.json pins: make browser"
    return page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, by every rule axe runs by default."""
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert results["passes"], "axe-core checked nothing"
    return results["violations"]


def describe(violations: list[dict[str, Any]], nodes: int = 3) -> str:
    """axe-core's violations, each with what a developer needs to find and fix it."""
    lines = []
    for violation in violations:
        found = violation["nodes"]
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}: {len(found)} element(s)")
        for node in found[:nodes]:
            html = " ".join(node["html"].split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {html[:160]}{'...' if len(html) > 160 else ''}")
            summary = " ".join(node.get("failureSummary", "").split())
            if summary:
                lines.append(f"      {summary[:300]}")
        lines.append(f"    (see {violation['helpUrl'].split('?')[0]})")
    return "\n".join(lines)


def settle(page: Page) -> None:
    """Wait for the page to be still: a frame drawn (the theme's and livedocs.js's size observers, which
    make a code block or table that scrolls focusable, have run by then) and every transition and
    animation that ends, ended (a colour checked halfway through a fade is not the colour shown)."""
    page.evaluate(
        """async () => {
          await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
          const ending = document.getAnimations().filter(a => a.effect?.getComputedTiming().endTime !== Infinity);
          await Promise.all(ending.map(a => a.finished.catch(() => null)));
        }"""
    )


# The window the pages are checked in: the tests' own, and a phone's width, to which the window is
# narrowed once the page is shown (code blocks and tables that fitted then scroll).
WINDOWS = {"wide": VIEWPORT, "narrow": {"width": 400, "height": VIEWPORT["height"]}}


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_accessible(
    reader: Callable[..., Reader], views: Views, path: str, scheme: str, window: str
) -> None:
    """axe-core (node_modules/, the version package-lock.json pins) finds no violation of any rule it
    runs by default, on each page in each palette, wide and narrow, with every content tab shown once:
    axe skips what is hidden, so the page is checked again for each choice of tabs (each image store
    with each tab of the other sets) until every tab's content has been seen."""
    opened = reader(path, scheme=scheme)
    page = with_axe(opened.page)
    assert page.locator("body").get_attribute("data-md-color-scheme") == SCHEMES[scheme]
    page.set_viewport_size(WINDOWS[window])

    blocks = page.locator("article .tabbed-block")
    seen = [False] * blocks.count()
    failures = []
    for store, other in tab_views(page, views):
        show_tabs(page, views, store, other)
        settle(page)
        shown = blocks.evaluate_all("blocks => blocks.map(block => block.checkVisibility())")
        seen = [before or now for before, now in zip(seen, shown, strict=True)]
        if violations := axe_violations(page):
            view = (
                f"{views.labels[store]} store tabs, tab {other + 1} of the other sets" if blocks.count() else "the page"
            )
            failures.append(f"{path or 'index'} ({scheme} palette, {window} window, {view}):\n{describe(violations)}")
    assert all(seen), f"content tabs never shown, so never checked: {[i for i, s in enumerate(seen) if not s]}"
    assert not failures, "axe-core: accessibility violations\n" + "\n".join(failures)
    assert opened.problems == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_search_results_are_accessible(reader: Callable[..., Reader], scheme: str) -> None:
    """The search, open with results (words found marked in them), has no axe-core violation either."""
    home = reader("", scheme=scheme)
    page = with_axe(home.page)
    page.keyboard.press("s")
    expect(page.locator("input.md-search__input")).to_be_focused()
    page.keyboard.type("COPY from")
    expect(page.locator(".md-search-result__item").first).to_be_visible()
    expect(page.locator(".md-search-result mark").first).to_be_visible()
    settle(page)
    violations = axe_violations(page)
    assert not violations, f"axe-core, the search open ({scheme} palette):\n{describe(violations)}"
    assert home.problems == []
