"""Pages and renderers in-process, over a `Facts` given by hand: fast, no engine.

The figures here are fixed so that the formatting and the bookkeeping (page and line
of each problem, which images a page shows) can be checked exactly; the real-engine
tests (test_site_live, test_chapter) check that real figures reach the page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from macros import render
from macros.errors import LivedocsError
from macros.measurement import Step
from macros.pages import MACROS, Pages, macros
from tests.fakes import chapter_facts

PAGE = """\
# Sizes

The single-stage image is {{ size("go-app-single") }}.
{{ claim("size(go-app-single) > 100MB") }}
The multi-stage image is {{ size("go-app-multi") }}. {{ claim("size(go-app-multi) < 8MB") }}
{{ images_table("go-app-single", "go-app-multi") }}
{{ size("no-such-image") }}
{{ provenance() }}
"""


def _render(pages: Pages, path: str = "docs/sizes.md") -> list[str]:
    """Call the macros as the page above does, in page order; what each returns."""
    pages.begin_page(path, PAGE)
    return [
        pages.size("go-app-single"),
        pages.claim("size(go-app-single) > 100MB"),
        pages.size("go-app-multi"),
        pages.claim("size(go-app-multi) < 8MB"),
        pages.images_table("go-app-single", "go-app-multi"),
        pages.size("no-such-image"),
        pages.provenance(),
    ]


def test_every_macro_is_registered_once_under_its_name() -> None:
    """One registration per macro: the page functions are exactly the @macro methods."""
    pages = Pages([chapter_facts()])
    functions = macros(pages)
    assert set(functions) == set(MACROS) == {
        "size", "content_size", "context_size", "step_seconds", "layer_size", "uid", "image_id", "reduction",
        "images_table", "images_tree", "platform_size", "platform_content_size", "media_type", "architecture",
        "platform_id",
        "build_output",
        "layers", "size_chart", "response",
        "build_error", "build_steps", "cached_steps", "secret_layers", "by_provenance", "provenance", "claim",
    }  # fmt: skip
    assert functions["size"]("go-app-multi") == "8.7MB"


def test_figures_are_formatted_as_the_docker_cli_does() -> None:
    pages = Pages([chapter_facts()])
    shown = _render(pages)
    assert shown[0] == "269MB" and shown[2] == "8.7MB"
    tree, classic = shown[4].split("\n\n")
    assert tree.splitlines()[1:3] == [
        "IMAGE                  ID             DISK USAGE   CONTENT SIZE   EXTRA",
        "go-app-multi:latest    00000084c060        8.7MB             0B        ",
    ]
    assert classic.splitlines()[1] == "REPOSITORY      TAG       IMAGE ID       CREATED             SIZE"
    # created 11:00, measured 12:00: what `docker images` printed when the image was measured
    assert classic.splitlines()[2].endswith("   About an hour ago   269MB")


def test_created_reads_as_the_cli_prints_it_at_the_time_given() -> None:
    """CREATED is relative to the `now` the page is given, never to the day the test runs."""
    created = "2026-11-27T11:00:00.123456789Z"
    at = datetime(2026, 11, 27, 11, 0, 30, tzinfo=UTC)
    assert render.created_ago(created, at) == "30 seconds ago"
    assert render.created_ago(created, at + timedelta(days=6)) == "6 days ago"
    assert render.created_ago(created, at + timedelta(days=14)) == "2 weeks ago"
    assert render.created_ago(created, at + timedelta(days=400)) == "13 months ago"
    assert render.created_ago("", at) == ""


def test_problems_carry_page_and_line() -> None:
    """A false claim and an unknown image are problems at their own lines; true claims are not."""
    pages = Pages([chapter_facts()])
    _render(pages)
    assert [str(p) for p in pages.report()] == [
        'docs/sizes.md:5: claim "size(go-app-multi) < 8MB" is false on overlay2: size(go-app-multi) is 8.7MB',
        "docs/sizes.md:7: unknown image 'no-such-image'",
    ]


def test_a_rerendered_page_replaces_its_problems() -> None:
    pages = Pages([chapter_facts()])
    _render(pages)
    _render(pages)
    assert len(pages.report()) == 2


def test_claim_marks_say_what_was_measured() -> None:
    shown = _render(Pages([chapter_facts()]))
    assert 'title="claim &quot;size(go-app-single) &gt; 100MB&quot; holds: size(go-app-single) is 269MB"' in shown[1]
    assert "livedocs-false" in shown[3]


def test_a_malformed_claim_is_a_problem_not_an_exception() -> None:
    pages = Pages([chapter_facts()])
    pages.begin_page("docs/x.md", '{{ claim("size(go-app-multi) <") }}\n')
    shown = pages.claim("size(go-app-multi) <")
    assert "livedocs-problem" in shown
    assert str(pages.report()[0]).startswith('docs/x.md:1: malformed claim "size(go-app-multi) <": ')


def test_provenance_names_the_images_the_page_showed() -> None:
    shown = _render(Pages([chapter_facts()]))[6]
    assert "**Images:** `go-app-single`, `go-app-multi`" in shown
    assert "Measured on offline stand-ins" in shown
    assert "checked the claims on this page on the stand-ins only" in shown, "what an offline build checked"
    assert "hold for both" not in shown, "an offline build cannot check the official images"
    assert "    - **Engine:** Docker Engine 28.5.2, overlay2, linux/amd64, the classic builder\n" in shown


def test_provenance_shows_what_a_readers_docker_version_shows_and_no_socket_or_host() -> None:
    """Engine version, store, platform, buildx version: what a reader can compare with their own
    `docker version`. Not the socket or the host name (the record keeps them), not Debian's
    BuildKit placeholder version, nothing where a version is unknown."""
    from dataclasses import replace

    from tests.fakes import ENGINE, FakeFacts

    debian = replace(
        ENGINE,
        version="28.5.2+dfsg4",
        builder="buildkit",
        builder_version="0.29.1+ds1",
        buildkit_version="v0.0.0+unknown",
        host="tcp://build-host.example:2376",
        name="build-host",
    )
    overlay2 = chapter_facts()
    containerd = FakeFacts(
        {tag: replace(m, engine=replace(debian, store="containerd")) for tag, m in overlay2.measurements.items()},
        store="containerd",
    )
    unknown = replace(debian, version="", builder_version="", buildkit_version="")
    overlay2 = FakeFacts({tag: replace(m, engine=unknown) for tag, m in overlay2.measurements.items()})
    pages = Pages([containerd, overlay2])
    pages.begin_page("docs/x.md", '{{ size("go-app-multi") }}\n{{ provenance() }}\n')
    pages.size("go-app-multi")
    shown = pages.provenance()
    engines = [line.strip() for line in shown.splitlines() if "**Engine:**" in line]
    assert engines == [
        "- **Engine:** Docker Engine 28.5.2+dfsg4, containerd image store, linux/amd64,"
        " BuildKit through buildx 0.29.1+ds1",
        "- **Engine:** Docker Engine, overlay2, linux/amd64, BuildKit",
    ]
    for hidden in ("build-host", "2376", "tcp://", "unix://", "/var/run", "v0.0.0", "unknown", "API"):
        assert hidden not in shown, hidden
    recorded = containerd.measurement("go-app-multi").to_json()["engine"]
    assert (recorded["host"], recorded["name"]) == ("tcp://build-host.example:2376", "build-host"), "in the record"
    assert recorded["buildkit_version"] == "v0.0.0+unknown"
    assert render.known_version("v0.13.2") and render.known_version("0.29.1+ds1")
    assert not any(map(render.known_version, ("", " ", "v0.0.0+unknown", "0.0.0", "unknown")))


def test_replay_banner_only_on_pages_with_figures() -> None:
    facts = chapter_facts()
    facts.notice = "no Docker engine answers"
    pages = Pages([facts])
    _render(pages)
    banner = " ".join(pages.replay_banner().split())
    assert "Recorded figures" in banner and "no Docker engine answered" in banner
    provenance = pages.provenance()
    assert provenance.startswith("??? ") and "no Docker engine answers" in provenance, "collapsed, with the reason"
    pages.begin_page("docs/prose.md", "# Only words\n")
    assert pages.replay_banner() == ""


def test_a_replay_warns_only_on_pages_showing_a_stale_image() -> None:
    """No fallback notice: a page showing an image whose example changed warns, naming its folder."""
    facts = chapter_facts()
    pages = Pages([facts])
    _render(pages)
    assert pages.replay_banner() == ""
    facts.stale["go-app-multi"] = "examples/go-app"
    _render(pages)
    assert "Figures older than the examples" in pages.replay_banner() and "`examples/go-app`" in pages.replay_banner()
    pages.begin_page("docs/other.md", '{{ size("go-app-single") }}\n')
    pages.size("go-app-single")
    assert pages.replay_banner() == ""


def test_build_error_and_cached_steps() -> None:
    pages = Pages([chapter_facts()])
    pages.begin_page("docs/x.md", "")
    assert "invalid from flag value bulider" in pages.build_error("typo-stage")
    assert pages.cached_steps("deps-first-edited") == "4 of 6"
    assert "expected-failure build" in pages.size("typo-stage")


def test_example_failures_no_page_showed_are_still_reported() -> None:
    facts = chapter_facts()
    facts.problems["go-app-broken"] = LivedocsError(
        "building go-app-broken failed", path="examples/x/Dockerfile", line=3
    )
    pages = Pages([facts])
    pages.begin_page("docs/x.md", "")
    assert [str(p) for p in pages.report()] == ["examples/x/Dockerfile:3: go-app-broken: building go-app-broken failed"]


def test_layers_table_reads_newest_first_as_docker_history_and_hides_site_labels() -> None:
    layers = chapter_facts().measurement("go-app-multi").layers
    table = render.layers_table(layers)
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[2].strip() for row in rows] == ["`RUN layer 0`", "`RUN layer 1`", "`RUN layer 2`"]


@pytest.mark.parametrize(("size", "shown"), [(0, "0B"), (7_380_000, "7.38MB"), (221_700_000, "222MB")])
def test_size_chart_labels(size: int, shown: str) -> None:
    svg = render.size_chart([("x", size)], "Sizes")
    assert f">{shown}</text>" in svg and "<title" in svg


def _two_stores() -> Pages:
    from dataclasses import replace

    from tests.fakes import FakeFacts

    overlay2 = chapter_facts()
    bigger = {tag: replace(m, size_bytes=(m.size_bytes or 0) * 2, content_size_bytes=(m.size_bytes or 0) * 3 // 4)
              for tag, m in overlay2.measurements.items() if m.size_bytes}  # fmt: skip
    containerd = FakeFacts({**overlay2.measurements, **bigger}, store="containerd")
    return Pages([containerd, overlay2])


def test_two_stores_inline_figures_name_their_store() -> None:
    pages = _two_stores()
    pages.begin_page("docs/x.md", '{{ size("go-app-multi") }}\n{{ image_id("go-app-multi") }}\n')
    assert pages.size("go-app-multi") == "17.4MB (containerd) / 8.7MB (overlay2)"


def test_two_stores_blocks_are_linked_tabs() -> None:
    pages = _two_stores()
    pages.begin_page("docs/x.md", '{{ images_table("go-app-multi") }}\n{{ build_error("typo-stage") }}\n')
    table = pages.images_table("go-app-multi")
    assert table.startswith('=== "containerd image store"\n\n    ```text title="Docker 29"\n')
    assert '\n=== "overlay2"\n\n    ```text title="Docker 29"\n' in table
    assert not pages.build_error("typo-stage").startswith("==="), "the same on both stores: shown once"


def test_a_claim_false_on_one_store_names_that_store() -> None:
    pages = _two_stores()
    pages.begin_page("docs/x.md", '{{ claim("size(go-app-multi) < 10MB") }}\n')
    pages.claim("size(go-app-multi) < 10MB")
    assert [str(p) for p in pages.report()] == [
        'docs/x.md:1: claim "size(go-app-multi) < 10MB" is false on containerd: size(go-app-multi) is 17.4MB'
    ]


def test_content_size_is_checked_where_it_is_measured() -> None:
    """overlay2 has no content size: a claim about it is checked on the containerd store only."""
    pages = _two_stores()
    pages.begin_page("docs/x.md", '{{ claim("content_size(go-app-multi) < size(go-app-multi)") }}\n')
    mark = pages.claim("content_size(go-app-multi) < size(go-app-multi)")
    assert pages.report() == [] and "holds on containerd" in mark and "overlay2" not in mark
    only_overlay2 = Pages([chapter_facts()])
    only_overlay2.begin_page("docs/y.md", '{{ claim("content_size(go-app-multi) < 1GB") }}\n')
    mark = only_overlay2.claim("content_size(go-app-multi) < 1GB")
    assert only_overlay2.report() == [], "not measured here is not false (a runner of one store)"
    assert "livedocs-unchecked" in mark
    assert "is checked on the containerd image store, not in this build (overlay2)" in mark


def test_a_figure_only_another_store_has_is_left_to_that_store_outside_the_complete_build(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A leg of the scheduled rebuild measures one store: a content size (containerd's only) is not
    its to show or check; the page says which store has it, an INFO line too, and the leg goes on.
    The complete build (the replay of the merged record) finds it on no store: that is a problem."""
    page = '{{ content_size("go-app-multi") }}\n{{ claim("content_size(go-app-multi) < 1GB") }}\n'
    leg = Pages([chapter_facts()])
    leg.begin_page("docs/x.md", page)
    with caplog.at_level("INFO", logger="mkdocs.livedocs"):
        figure = leg.content_size("go-app-multi")
        leg.claim("content_size(go-app-multi) < 1GB")
    assert leg.report() == []
    assert "(measured on the containerd image store)" in figure
    assert [r.levelname for r in caplog.records if r.name == "mkdocs.livedocs"] == ["INFO", "INFO"]
    assert "docs/x.md:1: content_size(go-app-multi) is measured on the containerd image store" in caplog.text
    assert 'docs/x.md:2: claim "content_size(go-app-multi) < 1GB" is checked on the containerd' in caplog.text

    final = Pages([chapter_facts()], complete=True)
    final.begin_page("docs/x.md", page)
    assert "livedocs-problem" in final.content_size("go-app-multi")
    assert "livedocs-problem" in final.claim("content_size(go-app-multi) < 1GB")
    assert [str(p) for p in final.report()] == [
        "docs/x.md:1: go-app-multi has no content size on the overlay2 store (the containerd image store has one)",
        'docs/x.md:2: claim "content_size(go-app-multi) < 1GB" is not measured on overlay2',
    ]


def test_a_figure_one_store_lacks_shows_the_others() -> None:
    """content_size exists on the containerd store only: the figure is that store's, named."""
    pages = _two_stores()
    pages.begin_page("docs/x.md", '{{ content_size("go-app-multi") }}\n')
    assert pages.content_size("go-app-multi") == "6.53MB (containerd)"
    assert pages.report() == []


def test_a_response_reads_as_curl_i_prints_it() -> None:
    """Status line with its reason phrase, the headers in the order sent, a blank line, the body."""
    from macros.measurement import Response

    answer = Response(200, "hi\n", "OK", (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "3")))
    assert answer.curl("/hello") == (
        "$ curl -i http://127.0.0.1:8080/hello\nHTTP/1.1 200 OK\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Length: 3\n\nhi\n"
    )


def test_durations_and_context_sizes_in_sentences() -> None:
    pages = Pages([chapter_facts()])
    pages.begin_page(
        "docs/x.md", '{{ step_seconds("copy-all-edited", "step 6") }} {{ context_size("go-app-multi") }}\n'
    )
    assert pages.step_seconds("copy-all-edited", "step 6") == "17.2s"
    assert pages.context_size("go-app-multi") == "2.05kB"


def test_a_sentence_follows_where_the_figures_were_measured() -> None:
    """`by_provenance` says what holds for the build that measured: stand-ins or official images,
    per store where they differ."""
    from dataclasses import replace

    from tests.fakes import ALPINE, GO, FakeFacts

    offline = chapter_facts()
    pages = Pages([offline])
    call = '{{ by_provenance("go-app-multi", standins="offline", official="online") }}\n'
    pages.begin_page("docs/x.md", call)
    assert pages.by_provenance("go-app-multi", standins="offline", official="online") == "offline"
    official = {"golang:1.21-alpine3.19": replace(GO, standin=False), "alpine:3.19": replace(ALPINE, standin=False)}
    online = FakeFacts(
        {tag: replace(m, base_images=official) for tag, m in offline.measurements.items()}, store="containerd"
    )
    pages = Pages([online])
    pages.begin_page("docs/x.md", call)
    assert pages.by_provenance("go-app-multi", standins="offline", official="online") == "online"
    both = Pages([online, offline])
    both.begin_page("docs/x.md", call)
    assert both.by_provenance("go-app-multi", standins="offline", official="online") == (
        "online (containerd) / offline (overlay2)"
    )


def test_a_block_the_stores_print_alike_but_for_run_to_run_noise_is_shown_once() -> None:
    """Two stores' outputs that differ only in timings, the `Date:` header, step numbers or
    BuildKit's ref IDs are one output: shown once, the first store's, with a note; any other
    difference keeps one tab per store."""
    first = (
        "#8 [4/4] RUN go build\n#8 0.249 go: go.mod file not found\n#8 DONE 0.3s\n"
        "ERROR: failed to calculate checksum of ref v2r7h7ge2odwo::1pkzyw4: not found\n"
        "Date: Sun, 06 Dec 2026 06:14:56 GMT"
    )
    second = (
        "#9 [4/4] RUN go build\n#9 0.151 go: go.mod file not found\n#9 DONE 1.3s\n"
        "ERROR: failed to calculate checksum of ref 87871711-9f71-4f66::kvjv9uo: not found\n"
        "Date: Sun, 06 Dec 2026 06:14:57 GMT"
    )
    shown = render.per_store([("containerd", first), ("overlay2", second)], inline=False)
    assert shown.startswith(first) and second not in shown and '=== "' not in shown
    assert render.ALIKE_NOTE in shown
    other = second.replace("go.mod file not found", "go.sum file not found")
    tabs = render.per_store([("containerd", first), ("overlay2", other)], inline=False)
    assert '=== "containerd image store"' in tabs and '=== "overlay2"' in tabs and render.ALIKE_NOTE not in tabs
    spaced = render.per_store([("containerd", first), ("overlay2", f"\n{second}\n\n")], inline=False)
    assert spaced.startswith(first) and render.ALIKE_NOTE in spaced, "blank lines are no difference"
    sizes = render.per_store([("containerd", "go-app  14.2MB"), ("overlay2", "go-app  8.92MB")], inline=False)
    assert '=== "overlay2"' in sizes, "a size is a figure, not noise"


def test_claims_that_follow_each_other_in_a_paragraph_carry_one_mark() -> None:
    """Three claims behind one sentence give one ✓ whose tooltip lists all three; a claim in the
    next paragraph, or one that is false, keeps its own mark."""
    a, b, c, d = (render.claim_mark(True, f"claim {n}") for n in "abcd")
    false = render.claim_mark(False, "claim e")
    page = f"One sentence. {a}\n{b} {c}\n\nAnother one. {d} {false}\n"
    merged = render.merged_marks(page)
    assert merged.count("✓") == 2 and merged.count("✗") == 1
    assert 'title="claim a&#10;claim b&#10;claim c">✓</span>\n\nAnother one.' in merged
    assert f"{render.claim_mark(True, 'claim d')} {false}" in merged


def test_a_layer_size_and_a_uid_in_sentences() -> None:
    """`layer_size` is `docker history`'s SIZE of the newest layer created by the text; `uid` the
    run check's process uid; the two stores' values are named where they differ."""
    from dataclasses import replace

    from tests.fakes import FakeFacts

    pages = Pages([chapter_facts()])
    pages.begin_page("docs/x.md", '{{ layer_size("go-app-multi", "layer 0") }} {{ uid("go-app-scratch") }}\n')
    assert pages.layer_size("go-app-multi", "layer 0") == "2.9MB"
    assert pages.uid("go-app-scratch") == "65532"
    assert pages.report() == []
    other = chapter_facts().measurements
    other["go-app-scratch"] = replace(other["go-app-scratch"], process_uid=1000)
    both = Pages([chapter_facts(), FakeFacts(other, store="containerd")])
    both.begin_page("docs/x.md", '{{ uid("go-app-scratch") }} {{ layer_size("go-app-multi", "nothing") }}\n')
    assert both.uid("go-app-scratch") == "65532 (overlay2) / 1000 (containerd)"
    both.layer_size("go-app-multi", "nothing")
    missing = "no layer of go-app-multi was created by anything containing 'nothing'"
    assert [p.message for p in both.report()] == [missing]


def _two_platforms() -> Pages:
    """Both stores for linux/amd64, and the containerd store for linux/arm64 (an Apple Silicon
    contributor's figures beside the recorded ones)."""
    from dataclasses import replace

    from tests.fakes import FakeFacts

    pages = _two_stores()
    amd64 = pages.views[0]
    smaller = {tag: replace(m, size_bytes=(m.size_bytes or 0) - 400_000)
               for tag, m in amd64.measurements.items() if m.size_bytes}  # fmt: skip
    arm64 = FakeFacts({**amd64.measurements, **smaller}, store="containerd", platform="linux/arm64")
    return Pages([amd64, arm64, pages.views[1]])


def test_figures_of_two_platforms_name_the_platform_and_apple_silicon() -> None:
    """Where the views cover two platforms, a figure names store and platform, a tab names the
    reader's machine (`linux/arm64 (Apple Silicon)`), and a false claim names both."""
    pages = _two_platforms()
    pages.begin_page("docs/x.md", '{{ size("go-app-multi") }}\n{{ images_table("go-app-multi") }}\n')
    assert (
        pages.size("go-app-multi") == "17.4MB (containerd, amd64) / 17MB (containerd, arm64) / 8.7MB (overlay2, amd64)"
    )
    table = pages.images_table("go-app-multi")
    labels = [line for line in table.splitlines() if line.startswith("=== ")]
    assert labels == [
        '=== "containerd image store, linux/amd64 (Intel, AMD)"',
        '=== "containerd image store, linux/arm64 (Apple Silicon)"',
        '=== "overlay2, linux/amd64 (Intel, AMD)"',
    ]
    pages.begin_page("docs/y.md", '{{ claim("size(go-app-multi) > 17.2MB") }}\n')
    pages.claim("size(go-app-multi) > 17.2MB")
    claim = 'docs/y.md:1: claim "size(go-app-multi) > 17.2MB" is false on'
    assert [str(p) for p in pages.report()] == [
        f"{claim} containerd, linux/arm64: size(go-app-multi) is 17MB",
        f"{claim} overlay2, linux/amd64: size(go-app-multi) is 8.7MB",
    ]


def test_durations_of_an_emulated_platform_say_so_and_its_sizes_do_not() -> None:
    """Figures of arm64 built under QEMU on an amd64 machine: a duration and a build listing say
    "under emulation" (it is not what an arm64 machine takes), the provenance box names the
    emulation, and a size reads as any other."""
    from dataclasses import replace

    pages = _two_platforms()
    arm64 = pages.views[1]
    step = Step(9, "RUN go build -o /out/webapp .", cached=False, label="build 4/4", seconds=171.3)
    for tag, measured in list(arm64.measurements.items()):
        assert measured.engine is not None
        emulated = replace(measured.engine, platform="linux/arm64", emulated_on="linux/amd64")
        arm64.measurements[tag] = replace(measured, engine=emulated, steps=(step,))
    for view in (pages.views[0], pages.views[2]):
        view.measurements["go-app-multi"] = replace(
            view.measurements["go-app-multi"], steps=(replace(step, seconds=21.0),)
        )
    text = "go build"
    pages.begin_page("docs/x.md", f'{{{{ step_seconds("go-app-multi", "{text}") }}}}\n{{{{ size("go-app-multi") }}}}\n')
    seconds = pages.step_seconds("go-app-multi", text)
    assert "171.3s under emulation (containerd, arm64)" in seconds and seconds.count("under emulation") == 1, seconds
    assert "21.0s (containerd, amd64)" in seconds, seconds
    assert "17MB (containerd, arm64)" in pages.size("go-app-multi")
    pages.begin_page("docs/y.md", '{{ build_steps("go-app-multi") }}\n{{ provenance() }}\n')
    listing = pages.build_steps("go-app-multi")
    assert listing.count('title="built for linux/arm64 under QEMU emulation on linux/amd64"') == 1, listing
    box = pages.provenance()
    assert "linux/arm64 under QEMU emulation on linux/amd64" in box
    assert "**Emulated:** built for linux/arm64 on linux/amd64 with QEMU" in box
