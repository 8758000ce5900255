"""`docker images` as Docker 29 prints it by default: the collapsed tree view.

The layout is checked against docker/cli's own golden file for the view (the rows its test
feeds in, the text it expects); the figures against this engine's `docker images --tree`,
whose top rows print the same DISK USAGE and CONTENT SIZE, on both image stores.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import replace

import docker
import pytest

from macros import render
from macros.errors import LivedocsError
from macros.pages import Pages
from macros.render import TreeRow, image_tree, tree_rows
from macros.units import human_size, short_id
from tests.fakes import FakeFacts, chapter_facts

from .conftest import TinySite, store_engines
from .helpers import docker_cli

# docker/cli v29.7.2 (a7dcaa6f), cli/command/image/tree_test.go, TestPrintImageTreeGolden case
# "width-calculation-untagged": the view given (sizes as strings, as the test gives them) ...
GOLDEN_ROWS = [
    TreeRow("a:1", "sha256:" + "1" * 64, "5.5 MB", "2.5 MB", in_use=False),
    TreeRow("", "sha256:" + "2" * 64, "3.2 MB", "1.6 MB", in_use=False),
    TreeRow("short:v1", "sha256:" + "3" * 64, "7.1 MB", "3.5 MB", in_use=True),
]
# ... and cli/command/image/testdata/tree-command-success.width-calculation-untagged.golden,
# line by line (each row's cells are padded: the rows end in spaces).
GOLDEN = (
    "IMAGE        ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
    "a:1          111111111111       5.5 MB         2.5 MB        \n"
    "<untagged>   222222222222       3.2 MB         1.6 MB        \n"
    "short:v1     333333333333       7.1 MB         3.5 MB   U    \n"
)


def test_the_view_is_laid_out_as_docker_cli_29_golden_file() -> None:
    """Fed the rows of docker/cli's golden test, the view is its golden text, byte for byte."""
    assert image_tree(GOLDEN_ROWS) == GOLDEN


# docker/cli v29 (28f7560), tree_test.go cases "expanded-view-with-platforms" and
# "untagged-with-platforms" (their views have imageSpacing set), and their golden files
# (testdata/tree-command-success.<case>.golden), line by line.
def _platforms(name: str, ids: str, sizes: list[tuple[str, str]], used: str = "") -> TreeRow:
    """An image and its two platforms' rows as the golden cases give them: IDs of repeated
    letters, (DISK USAGE, CONTENT SIZE) each, `used`: the letters of the rows in use."""
    top, *platforms = [
        TreeRow(label, "sha256:" + letter * 64, disk, content, in_use=letter in used)
        for label, letter, (disk, content) in zip([name, "linux/amd64", "linux/arm64"], ids, sizes, strict=True)
    ]
    return replace(top, children=tuple(platforms))


GOLDEN_PLATFORM_ROWS = [
    _platforms(
        "multiplatform:latest", "abc", [("25.5 MB", "20.2 MB"), ("12.1 MB", "10.0 MB"), ("13.4 MB", "10.2 MB")], "ac"
    )
]
GOLDEN_PLATFORMS = (
    "IMAGE                  ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
    "multiplatform:latest   aaaaaaaaaaaa      25.5 MB        20.2 MB   U    \n"
    "├─ linux/amd64         bbbbbbbbbbbb      12.1 MB        10.0 MB        \n"
    "└─ linux/arm64         cccccccccccc      13.4 MB        10.2 MB   U    \n"
    "\n"
)
GOLDEN_UNTAGGED_ROWS = [_platforms("", "def", [("18.5 MB", "15.2 MB"), ("9.2 MB", "7.6 MB"), ("9.3 MB", "7.6 MB")])]
GOLDEN_UNTAGGED = (
    "IMAGE                ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
    "<untagged>           dddddddddddd      18.5 MB        15.2 MB        \n"
    "├─ linux/amd64       eeeeeeeeeeee       9.2 MB         7.6 MB        \n"
    "└─ linux/arm64       ffffffffffff       9.3 MB         7.6 MB        \n"
    "\n"
)


def test_the_tree_view_with_platforms_is_laid_out_as_docker_cli_29_golden_files() -> None:
    """`--tree`: a row per platform under its image, `├─`/`└─`, the first column at least the
    platform's length plus 7 (the CLI counts the branch's bytes); byte for byte docker/cli's golden files."""
    assert image_tree(GOLDEN_PLATFORM_ROWS, expanded=True) == GOLDEN_PLATFORMS
    assert image_tree(GOLDEN_UNTAGGED_ROWS, expanded=True) == GOLDEN_UNTAGGED
    # the collapsed view (`docker images`) shows no platform rows, and no blank lines
    assert image_tree(GOLDEN_PLATFORM_ROWS).splitlines()[1:] == [GOLDEN_PLATFORMS.splitlines()[1]]


def test_extra_is_as_wide_as_its_title_when_no_image_is_in_use() -> None:
    """No mark in any row: EXTRA keeps its 5 columns, every row padded to them; names set the first width."""
    rows = [TreeRow("go-app-single-with-a-long-name:latest", "sha256:" + "a" * 64, "270MB", "0B")]
    assert image_tree(rows).splitlines() == [
        "IMAGE                                   ID             DISK USAGE   CONTENT SIZE   EXTRA",
        "go-app-single-with-a-long-name:latest   aaaaaaaaaaaa        270MB             0B        ",
    ]


def _two_stores() -> tuple[FakeFacts, FakeFacts]:
    overlay2 = chapter_facts()
    containerd = FakeFacts(
        {
            tag: replace(m, size_bytes=m.size_bytes * 2, content_size_bytes=m.size_bytes // 3)
            for tag, m in overlay2.measurements.items()
            if m.size_bytes
        },
        store="containerd",
    )
    return containerd, overlay2


def test_rows_are_one_per_tag_sorted_by_name_with_each_stores_sizes() -> None:
    """DISK USAGE is the listed size; CONTENT SIZE the containerd store's content, `0B` on a graph
    driver (it lists no manifests for the CLI to add up); nothing is in use; sorted as the CLI sorts."""
    containerd, overlay2 = _two_stores()
    tags = ("go-app-single", "go-app-multi")
    shown = {
        view.store: tree_rows([(t, view.measurement(t)) for t in tags], view.store) for view in (containerd, overlay2)
    }
    for store, view in (("containerd", containerd), ("overlay2", overlay2)):
        assert [row.name for row in shown[store]] == ["go-app-multi:latest", "go-app-single:latest"]
        for row, tag in zip(shown[store], ("go-app-multi", "go-app-single"), strict=True):
            measured = view.measurement(tag)
            assert row.image_id == measured.image_id and not row.in_use
            assert row.disk_usage == human_size(measured.size_bytes or 0)
            expected = human_size(measured.content_size_bytes or 0) if store == "containerd" else "0B"
            assert row.content_size == expected
    assert shown["containerd"][0].content_size == human_size(8_700_000 // 3) == "2.9MB"
    assert shown["overlay2"][0].disk_usage == "8.7MB"


def test_a_containerd_record_without_a_content_size_is_a_problem_not_0B() -> None:
    """`0B` is what the CLI prints on a graph driver; a containerd figure that is missing is not zero."""
    measured = replace(chapter_facts().measurement("go-app-multi"), content_size_bytes=None)
    with pytest.raises(LivedocsError, match="go-app-multi has no recorded content size on the containerd"):
        tree_rows([("go-app-multi", measured)], "containerd")


def test_each_store_tab_shows_docker_29s_view_then_the_classic_table() -> None:
    """In each store's tab: the Docker 29 view, titled, then the classic table, titled as what prints it."""
    containerd, overlay2 = _two_stores()
    pages = Pages([containerd, overlay2])
    pages.begin_page("docs/x.md", '{{ images_table("go-app-single", "go-app-multi") }}\n')
    shown = pages.images_table("go-app-single", "go-app-multi")
    tabs = re.split(r'^=== "([^"]+)"\n', shown, flags=re.M)[1:]
    assert tabs[0::2] == ["containerd image store", "overlay2"]
    for view, body in zip((containerd, overlay2), tabs[1::2], strict=True):
        entries = [(t, view.measurement(t)) for t in ("go-app-single", "go-app-multi")]
        text = "\n".join(line.removeprefix("    ") for line in body.strip("\n").splitlines())
        assert text == (
            '```text title="Docker 29"\n'
            + image_tree(tree_rows(entries, view.store)).rstrip()
            + '\n```\n\n```text title="Docker 28, or --format table"\n'
            + render.classic_images_table(entries)
            + "\n```"
        )
    overlay2_view = tabs[3].splitlines()
    assert overlay2_view[3].split() == [
        "go-app-multi:latest",
        short_id(overlay2.measurement("go-app-multi").image_id),
        "8.7MB",
        "0B",
    ]


# -- the figures, against this engine's CLI --------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cli_tree_row(host: str, name: str) -> tuple[str, ...]:
    """The top row `docker images --tree NAME` prints (28.5.2: the columns Docker 29 prints by
    default): name, ID, DISK USAGE, CONTENT SIZE, then EXTRA's mark if any."""
    lines = [ANSI.sub("", line) for line in docker_cli("images", "--tree", name, host=host).splitlines()]
    header = next(n for n, line in enumerate(lines) if line.startswith("IMAGE "))
    assert lines[header].split() == ["IMAGE", "ID", "DISK", "USAGE", "CONTENT", "SIZE", "EXTRA"]
    tops = [line.split() for line in lines[header + 1 :] if line.strip() and not line.startswith(("├─", "└─"))]
    assert len(tops) == 1, lines
    return tuple(tops[0])


def cli_tree_rows(host: str, name: str) -> list[tuple[str, ...]]:
    """Every row `docker images --tree NAME` prints: the image's, then one per platform
    (`linux/arm64`, ID, DISK USAGE, CONTENT SIZE), their branches left out."""
    lines = [ANSI.sub("", line) for line in docker_cli("images", "--tree", name, host=host).splitlines()]
    header = next(n for n, line in enumerate(lines) if line.startswith("IMAGE "))
    return [tuple(line.removeprefix("├─").removeprefix("└─").split()) for line in lines[header + 1 :] if line.strip()]


def listed_content(host: str, image_id: str) -> int:
    """What the CLI adds up as an image's CONTENT SIZE: the content of every manifest the engine lists for it."""
    api = docker.APIClient(base_url=host, version="1.47", timeout=60)
    try:
        listed = api.get(api._url("/images/json"), params={"manifests": "1"}).json()
    finally:
        api.close()
    (image,) = [image for image in listed if image["Id"] == image_id]
    return sum(int(manifest["Size"]["Content"]) for manifest in image.get("Manifests") or ())


@pytest.mark.engine
def test_docker_29_view_shows_the_cli_figures_on_both_stores(site: TinySite) -> None:
    """Per store, each row of the page's Docker 29 view is the top row of that engine's
    `docker images --tree`: the same name, ID, DISK USAGE and CONTENT SIZE, nothing in use. The
    recorded content is what the CLI adds up (every manifest's), not just the platform image's."""
    from macros.settings import Settings
    from macros.workbench import Workbench

    engines = store_engines("containerd", "overlay2")
    site.example("hello")
    site.example("slow")
    tags = ("fixture-slow", "fixture-hello")
    site.write("# t\n\n{{ images_table('fixture-slow', 'fixture-hello') }}\n")
    built = site.build(engines=engines)
    assert built.code == 0, built.output
    bench = Workbench(Settings.load(site.root, environ={"LIVEDOCS_ENGINE": "replay"}))
    bench.connect()
    assert sorted(view.store for view in bench.views) == ["containerd", "overlay2"]
    page = htmllib.unescape(re.sub(r"<[^>]+>", "", built.page()))
    for view in bench.views:
        host = engines[view.store]
        entries = [(tag, view.measurement(tag)) for tag in tags]
        rows = tree_rows(entries, view.store)
        assert [row.name for row in rows] == ["fixture-hello:latest", "fixture-slow:latest"]
        for row in rows:
            ours = (row.name, short_id(row.image_id), row.disk_usage, row.content_size)
            assert cli_tree_row(host, row.name) == ours, view.store
        for tag, measured in entries:
            content = listed_content(host, measured.image_id)
            if view.store == "containerd":
                assert measured.content_size_bytes == content, f"{tag}: recorded content vs the CLI's sum"
            else:
                assert content == 0, f"{tag}: a graph driver lists no manifests"
        for line in image_tree(rows).splitlines():
            assert line.rstrip() in page, (view.store, line)
