"""Chapter 3's settings, without an engine: an image's own platforms, the machine it is measured
on, an outcome per image store, `docker run --platform`; the stand-ins of a cross-compiling
Dockerfile; what a view that does not measure an image says of it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from macros import claims
from macros.context import Contexts, cache_key
from macros.dockerfile import rewrite_images
from macros.errors import LivedocsError
from macros.examples import load_example
from macros.measurement import NotMeasuredHere, PlatformRow, Step, build_output, failure_of, image_of
from macros.record import Record
from macros.sources import ReplaySource
from tests.fakes import FakeFacts, chapter_facts

from .test_context import make_example

HOST_MAP = {"golang:1.21-alpine3.19": "standin/golang:1.21-alpine3.19", "alpine:3.19": "standin/alpine:3.19"}
ARM_MAP = {"golang:1.21-alpine3.19": "standin/golang:1.21-alpine3.19-arm64", "alpine:3.19": "standin/alpine:3.19-arm64"}
CROSS = (
    "FROM --platform=$BUILDPLATFORM golang:1.21-alpine3.19 AS build\n"
    "RUN go build -o /out/webapp .\n"
    "FROM alpine:3.19\n"
    "COPY --from=build /out/webapp ./webapp\n"
)
OUTCOMES = {"overlay2": True, "containerd": False}  # store -> the build fails there
MANIFEST = """images:
  arm:
    platforms: [linux/arm64]
    machine: linux/amd64
    run: {port: 8080, platform: linux/arm64}
  both:
    platforms: [linux/amd64, linux/arm64]
    expect: {overlay2: failure, containerd: success}
"""


def test_platforms_machine_an_outcome_per_store_and_run_platform_are_read(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, MANIFEST)
    arm, both = load_example(folder, tmp_path)
    assert (arm.platforms, arm.machine, arm.run and arm.run.platform) == (
        ("linux/arm64",),
        "linux/amd64",
        "linux/arm64",
    )
    assert both.platforms == ("linux/amd64", "linux/arm64")
    assert (both.fails_on("overlay2"), both.fails_on("containerd"), both.varies_by_store) == (True, False, True)
    assert (arm.fails_on("overlay2"), arm.varies_by_store) == (False, False)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("platforms: [arm64]", "arm64: expected a platform such as linux/amd64"),
        ("platforms: linux/arm64", "platforms must be a list of texts"),
        ("machine: [linux/amd64]", "machine must be a text"),
        ("expect: {overlay2: fails}", "expect must be 'success' or 'failure', or map image stores"),
        ("run: {port: 8080, platform: arm}", "arm: expected a platform"),
    ],
)
def test_a_wrong_platform_setting_is_named_with_its_line(tmp_path: Path, setting: str, message: str) -> None:
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, f"images:\n  ok: {{}}\n  bad:\n    {setting}\n")
    with pytest.raises(LivedocsError) as raised:
        load_example(folder, tmp_path)
    assert message in str(raised.value)
    assert raised.value.line == 3


def test_a_cross_compiling_dockerfile_takes_its_build_stage_from_the_machines_stand_ins() -> None:
    """Built for arm64, the `FROM --platform=$BUILDPLATFORM` stage runs on the machine: its
    image is the machine's stand-in, the other stages' the arm64 ones (overlay2 holds one
    platform per tag)."""
    lines = rewrite_images(CROSS, ARM_MAP, HOST_MAP).splitlines()
    assert lines[0] == "FROM --platform=$BUILDPLATFORM standin/golang:1.21-alpine3.19 AS build"
    assert lines[2] == "FROM standin/alpine:3.19-arm64"
    braced = CROSS.replace("$BUILDPLATFORM", "${BUILDPLATFORM}")
    assert rewrite_images(braced, ARM_MAP, HOST_MAP).splitlines()[0].endswith("standin/golang:1.21-alpine3.19 AS build")
    assert rewrite_images(CROSS, ARM_MAP).splitlines()[0].endswith("standin/golang:1.21-alpine3.19-arm64 AS build")


def test_an_image_for_one_other_platform_is_sent_with_that_platforms_stand_ins(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, MANIFEST)
    arm, both = load_example(folder, tmp_path)
    contexts = Contexts(tmp_path, HOST_MAP, {"linux/arm64": ARM_MAP})
    assert contexts.of(arm).dockerfile_text.splitlines()[2] == "FROM standin/alpine:3.19-arm64"
    # two platforms: the machine's map (on the containerd store its stand-ins hold both)
    assert contexts.of(both).dockerfile_text.splitlines()[2] == "FROM standin/alpine:3.19"
    assert HOST_MAP in contexts.all_maps() and ARM_MAP in contexts.all_maps()


def test_a_view_of_another_platform_runs_its_build_platform_stages_from_the_machines_stand_ins(
    tmp_path: Path,
) -> None:
    """LIVEDOCS_PLATFORMS=linux/arm64 on an amd64 machine: every image is built for arm64 from the
    arm64 stand-ins, but a `FROM --platform=$BUILDPLATFORM` stage runs on the machine."""
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, "images:\n  plain: {}\n")
    (plain,) = load_example(folder, tmp_path)
    lines = Contexts(tmp_path, ARM_MAP, build_map=HOST_MAP).of(plain).dockerfile_text.splitlines()
    assert lines[0] == "FROM --platform=$BUILDPLATFORM standin/golang:1.21-alpine3.19 AS build"
    assert lines[2] == "FROM standin/alpine:3.19-arm64"


def test_the_platforms_are_part_of_the_key(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, MANIFEST)
    arm, _ = load_example(folder, tmp_path)
    context = Contexts(tmp_path, HOST_MAP).of(arm)
    plain = cache_key(replace(arm, platforms=()), context, {}, "buildkit")
    assert cache_key(arm, context, {}, "buildkit", "linux/arm64") != plain
    assert cache_key(arm, context, {}, "buildkit", "linux/amd64,linux/arm64") != cache_key(
        arm, context, {}, "buildkit", "linux/arm64"
    )


def test_a_view_of_another_machine_does_not_measure_the_image(tmp_path: Path) -> None:
    """`machine: linux/amd64`: the arm64 view skips the image (NotMeasuredHere, which pages and
    claims pass over), and never reports it missing from the record."""
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, MANIFEST)
    specs = {spec.tag: spec for spec in load_example(folder, tmp_path)}
    record = Record(tmp_path / "record.json", tmp_path / "record.lock", "record.json")
    arm64 = ReplaySource(tmp_path, "containerd", "linux/arm64", specs, record)
    arm64.prepare(["arm"], lambda line: None)
    assert "arm" not in arm64.problems
    with pytest.raises(NotMeasuredHere, match="measured on linux/amd64 machines"):
        arm64.measurement("arm")
    amd64 = ReplaySource(tmp_path, "containerd", "linux/amd64", specs, record)
    with pytest.raises(LivedocsError, match="no recorded figures for arm"):
        amd64.measurement("arm")


def test_a_build_that_fails_on_one_store_only_is_not_measured_there() -> None:
    """An outcome per store: the failing store has no image (its figures pass over it) and the
    store that built it has no error (the error block and `fails with` pass over it)."""
    base = chapter_facts().measurements["go-app-multi"]
    built = replace(base, expect_by_store=OUTCOMES)
    failed = replace(
        base, size_bytes=None, error="ERROR: Multi-platform build is not supported", expect_by_store=OUTCOMES
    )
    with pytest.raises(NotMeasuredHere) as no_image:
        image_of(failed, "both")
    assert no_image.value.measured_on == "containerd"  # where the image is
    with pytest.raises(NotMeasuredHere) as no_error:
        failure_of(built, "both")
    assert no_error.value.measured_on == "overlay2"  # where the error is
    with pytest.raises(LivedocsError) as raised:  # declared to fail everywhere: a plain error
        image_of(replace(failed, expect_by_store={}), "both")
    assert not isinstance(raised.value, NotMeasuredHere)


def _multi_facts() -> tuple[FakeFacts, FakeFacts]:
    base = chapter_facts().measurements["go-app-multi"]
    rows = (
        PlatformRow("linux/amd64", "sha256:" + "a" * 64, 13_000_000, 6_000_000),
        PlatformRow("linux/arm64", "sha256:" + "b" * 64, 5_800_000, 5_800_000),
    )
    containerd = replace(
        base,
        platform_rows=rows,
        media_type="application/vnd.oci.image.index.v1+json",
        content_size_bytes=12_000_000,
        image_platform="linux/amd64",
        expect_by_store=OUTCOMES,
    )
    failed = replace(base, size_bytes=None, error="ERROR: failed to build: Multi-platform build is not supported")
    return (
        FakeFacts({"both": containerd}, store="containerd"),
        FakeFacts({"both": replace(failed, expect_by_store=OUTCOMES)}, store="overlay2"),
    )


@pytest.mark.parametrize(
    ("claim", "holds"),
    [
        ("content_size(both) > 1.8 * platform_content_size(both, 'linux/amd64')", True),
        ("platform_size(both, 'linux/arm64') < platform_size(both, 'linux/amd64')", True),
        ("media_type(both) == 'application/vnd.oci.image.index.v1+json'", True),
        ("architecture(both) == 'arm64'", False),
        ("architecture(both) == 'amd64'", True),
        ("platform_id(both, 'linux/arm64') == 'sha256:" + "b" * 64 + "'", True),
    ],
)
def test_per_platform_claims_are_checked_on_the_containerd_store_and_skip_overlay2(claim: str, holds: bool) -> None:
    containerd, overlay2 = _multi_facts()
    assert claims.check(claims.parse(claim), containerd).holds is holds
    with pytest.raises(NotMeasuredHere):
        claims.check(claims.parse(claim), overlay2)
    fails = claims.parse("build(both) fails with /Multi-platform build is not supported/")
    assert claims.check(fails, overlay2).holds
    with pytest.raises(NotMeasuredHere):
        claims.check(fails, containerd)


def test_a_platforms_id_on_a_graph_driver_is_the_images_own_if_it_is_of_that_platform() -> None:
    arm = replace(chapter_facts().measurements["go-app-multi"], image_platform="linux/arm64")
    overlay2 = FakeFacts({"arm": arm}, store="overlay2")
    assert claims.check(claims.parse(f"platform_id(arm, 'linux/arm64') == '{arm.image_id}'"), overlay2).holds
    with pytest.raises(LivedocsError, match="arm is a linux/arm64 image on the overlay2 store, not linux/amd64"):
        claims.check(claims.parse("platform_id(arm, 'linux/amd64') == 'x'"), overlay2)


def test_a_platform_the_image_does_not_hold_is_an_error_naming_those_it_holds() -> None:
    containerd, _ = _multi_facts()
    with pytest.raises(LivedocsError, match=r"holds no linux/s390x image \(it holds linux/amd64, linux/arm64\)"):
        claims.check(claims.parse("platform_size(both, 'linux/s390x') > 1MB"), containerd)


def test_build_output_is_the_text_a_step_printed_after_its_time() -> None:
    step = Step(7, "RUN go build -o /out/webapp .", cached=False, label="build 4/5", seconds=1.2)
    base = replace(chapter_facts().measurements["go-app-multi"], steps=(step,))
    listing = (
        f"#{step.step} [build 4/5] RUN go build\n#{step.step} 0.231 building on linux/amd64\n#{step.step} DONE 1.2s"
    )
    measured = replace(base, listing=listing)
    assert build_output(measured, "m", "go build") == "building on linux/amd64"
    assert claims.check(
        claims.parse("build_output(m, 'go build') contains 'linux/amd64'"), FakeFacts({"m": measured})
    ).holds
    with pytest.raises(LivedocsError, match="no build step containing 'no such step'"):
        build_output(measured, "m", "no such step")
    with pytest.raises(LivedocsError, match="printed nothing"):
        build_output(replace(base, listing=""), "m", "go build")


def test_no_run_check_on_a_store_where_the_build_fails_by_design(tmp_path: Path) -> None:
    """`docker run` of webapp-multi on overlay2, where its build fails as declared: nothing is
    run and nothing is missing (NotMeasuredHere: the response is the containerd store's)."""
    folder = make_example(tmp_path, {"Dockerfile": CROSS}, MANIFEST)
    specs = {spec.tag: spec for spec in load_example(folder, tmp_path)}
    record = Record(tmp_path / "record.json", tmp_path / "record.lock", "record.json")
    base = chapter_facts().measurements["go-app-multi"]
    failed = replace(
        base, size_bytes=None, error="ERROR: Multi-platform build is not supported", expect_by_store=OUTCOMES
    )
    record.put("both", "overlay2", failed)
    overlay2 = ReplaySource(tmp_path, "overlay2", failed.platform, specs, record)
    with pytest.raises(NotMeasuredHere):
        overlay2.response("both", "/")
    with pytest.raises(NotMeasuredHere):
        overlay2.process_uid("both")


def test_a_one_store_build_passes_over_what_only_the_other_store_has() -> None:
    """A leg of the scheduled rebuild measures one store: on overlay2 the multi-platform image's
    figures, on containerd its error, are the other store's (an INFO note in the page), not
    problems; the complete build of the merged record checks both."""
    from macros.pages import Pages

    containerd, overlay2 = _multi_facts()
    for view, call in ((overlay2, "images_tree"), (containerd, "build_error")):
        pages = Pages([view])
        pages.begin_page("docs/x.md", f'{{{{ {call}("both") }}}}\n')
        shown = getattr(pages, call)("both")
        assert "livedocs-elsewhere" in shown, shown
        assert pages.report() == [], [str(p) for p in pages.report()]
    complete = Pages([overlay2], complete=True)
    complete.begin_page("docs/x.md", '{{ images_tree("both") }}\n')
    complete.images_tree("both")
    assert [p.message for p in complete.report()]
