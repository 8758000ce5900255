"""Whole tiny sites built with the real mkdocs CLI on the real engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import docker
import pytest

from scripts.probes import container_events

from .conftest import TinySite, now, store_engines
from .helpers import by_store
from .helpers import docker_cli as cli

pytestmark = pytest.mark.engine

PAGE = """\
# Tiny

The fixture weighs {{ size("fixture-hello") }}. {{ claim("size(fixture-hello) < 30MB") }}

{{ images_table("fixture-hello") }}

{{ response("fixture-hello", "/") }}

{{ claim("status(fixture-hello, '/missing') == 404") }}
{{ claim("body(fixture-hello, '/') contains 'hello from a fixture'") }}

{{ build_error("fixture-typo") }}
{{ claim("build(fixture-typo) fails with /failed to resolve source metadata for docker.io.library.wirter/") }}

{{ layers("fixture-hello") }}

{{ provenance() }}
"""


def build_cache() -> list[tuple[str, ...]]:
    """`docker buildx du`: each cache record's ID, reclaimable flag and size (not its age)."""
    rows = [line.split() for line in cli("buildx", "du").splitlines()[1:]]
    return sorted(tuple(row[:3]) for row in rows if row)


def test_figures_equal_the_engine_and_a_second_build_does_nothing(
    site: TinySite, docker_client: docker.DockerClient
) -> None:
    """Sizes and IDs are the engine's; the second build builds nothing, starts no container, adds no cache."""
    folder = site.example("hello")
    # new to every cache: a fixture-hello built by an earlier test of the run is not this one
    (folder / "message.txt").write_text(f"hello from a fixture\n{uuid.uuid4()}\n")
    site.write(PAGE)
    first = site.build()
    assert first.code == 0, first.output
    assert "livedocs: built" in first.output or "livedocs: building" in first.output

    record = by_store(first.record()["images"])["fixture-hello"]["overlay2"]
    assert record["engine"]["builder"] == "buildkit" and record["engine"]["store"] == "overlay2"
    listed = cli("images", "--no-trunc", "--format", "{{.ID}}", "fixture-hello")
    image_id = cli("image", "inspect", "--format", "{{.Id}}", "fixture-hello")
    assert record["size_bytes"] == int(cli("image", "inspect", "--format", "{{.Size}}", "fixture-hello"))
    assert record["image_id"] == image_id == listed
    assert record["base_images"]["alpine:3.19"]["standin"] is True
    html = first.page()
    shown = cli("images", "--format", "{{.Size}}", "fixture-hello")
    assert f"The fixture weighs {shown}." in html
    assert "hello from a fixture" in html
    assert "failed to resolve source metadata for docker.io/library/wirter:latest" in html
    assert "did you mean" in html

    cache_before = build_cache()
    since = now()
    second = site.build()
    until = now()
    assert second.code == 0, second.output
    assert "livedocs: building" not in second.output
    assert container_events(docker_client, since, until) == [], "a second build must start no container"
    assert second.record() == first.record(), "nothing changed, so the record is not rewritten"
    assert build_cache() == cache_before, "a warm build adds nothing to the build cache"


def test_images_table_and_sizes_equal_the_docker_cli_on_both_stores(site: TinySite) -> None:
    """Per store, the page's table is what that engine's `docker images --format table ...` prints
    (CREATED aside), and every size in the page is the CLI's SIZE for that store."""
    from macros.render import classic_images_table
    from macros.settings import Settings
    from macros.workbench import Workbench

    engines = store_engines("containerd", "overlay2")
    site.example("hello")
    site.write("# t\nThe fixture weighs {{ size('fixture-hello') }}.\n\n{{ images_table('fixture-hello') }}\n")
    built = site.build(engines=engines)
    assert built.code == 0, built.output
    bench = Workbench(Settings.load(site.root, environ={"LIVEDOCS_ENGINE": "replay"}))
    bench.connect()
    assert [view.store for view in bench.views] == ["containerd", "overlay2"]
    html = built.page()
    sizes = []
    for view in bench.views:
        host = ["-H", engines[view.store]]
        ours = classic_images_table([("fixture-hello", view.measurement("fixture-hello"))], created=False)
        table = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"
        assert ours == cli(*host, "images", "--format", table, "fixture-hello"), view.store
        size = cli(*host, "images", "--format", "{{.Size}}", "fixture-hello")
        sizes.append(f"{size} ({view.store})")
    assert f"The fixture weighs {' / '.join(sizes)}." in html


def test_false_claim_fails_the_build_with_page_and_line(site: TinySite) -> None:
    """Every false claim is listed at once, with page:line and the measured value."""
    site.example("hello")
    site.write(
        """\
        # t

        Tiny, they said. {{ claim("size(fixture-hello) < 1MB") }}
        And it is not a 404. {{ claim("status(fixture-hello, '/') == 404") }}
        """
    )
    built = site.build()
    assert built.code == 1
    assert re.search(
        r'docs/index.md:3: claim "size\(fixture-hello\) < 1MB" is false on overlay2: size\(fixture-hello\) is [\d.]+MB',
        built.output,
    )
    assert (
        "docs/index.md:4: claim \"status(fixture-hello, '/') == 404\" is false on overlay2:"
        " status(fixture-hello, '/') is 200" in built.output
    )
    assert "2 problem(s)" in built.output
    assert "Traceback" not in built.output


def test_a_run_check_measures_the_uid_its_process_runs_as(site: TinySite) -> None:
    """The uid of the container's main process, as the engine's `docker top` gives it: the
    Dockerfile's numeric `USER`, root without one; a claim that the server is not root fails
    once the `USER` line is gone."""
    example = site.example("user")
    site.example("hello")
    site.write(
        """\
        # t

        It runs as uid {{ uid("fixture-user") }}. {{ claim("uid(fixture-user) != 0") }}
        {{ claim("uid(fixture-hello) == 0") }}
        """
    )
    built = site.build()
    assert built.code == 0, built.output
    assert cli("image", "inspect", "--format", "{{.Config.User}}", "fixture-user") == "1234:1234"
    assert built.entry("fixture-user")["process_uid"] == 1234
    assert built.entry("fixture-hello")["process_uid"] == 0
    assert "It runs as uid 1234." in built.page()

    dockerfile = example / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER 1234:1234\n", ""))
    rebuilt = site.build()
    assert rebuilt.code == 1, rebuilt.output
    assert 'docs/index.md:3: claim "uid(fixture-user) != 0" is false on overlay2: uid(fixture-user) is 0' in (
        rebuilt.output
    )
    assert rebuilt.entry("fixture-user")["process_uid"] == 0


def test_editing_one_example_rebuilds_that_example_only(site: TinySite) -> None:
    site.example("hello")
    other = site.example("broken")
    (other / "Dockerfile").write_text("FROM alpine:3.19\nRUN echo other > /other.txt\n")
    site.write("# t\n{{ size('fixture-hello') }} {{ size('fixture-broken') }}\n")
    assert site.build().code == 0
    (site.root / "examples" / "hello" / "message.txt").write_text("edited\n")
    again = site.build()
    assert again.code == 0, again.output
    assert "building fixture-hello" in again.output
    assert "building fixture-broken" not in again.output


def test_replay_on_a_dead_socket_builds_with_a_notice(site: TinySite) -> None:
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }} {{ claim('size(fixture-hello) < 30MB') }}\n\n{{ provenance() }}\n")
    live = site.build()
    assert live.code == 0, live.output
    assert "were not measured in this build" not in live.page()
    replay = site.build(docker_host="unix:///tmp/no-such-docker.sock")
    assert replay.code == 0, replay.output
    assert "WARNING -  livedocs: no Docker engine answers at unix:///tmp/no-such-docker.sock" in replay.output
    page = replay.page()
    assert "Recorded figures" in page
    assert "were not measured in this build" in page


def test_a_replay_warns_only_where_an_example_changed_since_it_was_measured(site: TinySite) -> None:
    """A replay of the record a live build just wrote shows no warning on any page; after one
    example is edited, the pages showing its images warn (naming its folder), the others do not."""
    site.example("hello")
    other = site.example("broken")
    (other / "Dockerfile").write_text("FROM alpine:3.19\nRUN echo other > /other.txt\n")
    site.write("# Hello\n{{ size('fixture-hello') }}\n\n{{ provenance() }}\n")
    site.write("# Other\n{{ size('fixture-broken') }}\n\n{{ provenance() }}\n", name="other.md")
    live = site.build()
    assert live.code == 0, live.output
    recorded = live.record()
    assert all(entry["sources"] for images in by_store(recorded["images"]).values() for entry in images.values())

    current = site.build(mode="replay")
    assert current.code == 0, current.output
    for page in (current.page(), current.page("other")):
        assert "fixture-" in page
        assert "admonition warning" not in page and "Recorded figures" not in page
        assert "Figures older than the examples" not in page

    (site.root / "examples" / "hello" / "message.txt").write_text("edited\n")
    edited = site.build(mode="replay")
    assert edited.code == 0, edited.output
    assert "Figures older than the examples" in edited.page() and "<code>examples/hello</code>" in edited.page()
    assert "Figures older than the examples" not in edited.page("other")
    assert edited.record() == recorded, "a replay writes nothing"


def test_the_same_record_gives_byte_identical_pages_a_year_apart(site: TinySite) -> None:
    """Two replay builds of one record, the second with the clock a year ahead (Debian's faketime,
    `make faketime`), write the same pages to the byte: CREATED is the measurement's, not the day's.
    (MkDocs stamps its own build date into each page unless SOURCE_DATE_EPOCH pins it: pinned.)"""
    assert shutil.which("faketime"), "faketime is missing: make faketime"
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }}\n\n{{ images_table('fixture-hello') }}\n\n{{ provenance() }}\n")
    assert site.build().code == 0
    pages = []
    for clock in ("+0", "+1y"):
        built = site.build(mode="replay", wrapper=["env", "SOURCE_DATE_EPOCH=1700000000", "faketime", "-f", clock])
        assert built.code == 0, built.output
        pages.append(built.page())
    assert "fixture-hello" in pages[0] and " ago" in pages[0]
    assert pages[0] == pages[1]


def test_live_mode_on_a_dead_socket_fails_with_one_line(site: TinySite) -> None:
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }}\n")
    built = site.build(mode="live", docker_host="unix:///tmp/no-such-docker.sock")
    assert built.code == 1
    assert "LIVEDOCS_ENGINE=live, but no Docker engine answers at unix:///tmp/no-such-docker.sock" in built.output
    assert "Traceback" not in built.output


def test_unknown_image_and_malformed_claim_are_clear_errors(site: TinySite) -> None:
    site.example("hello")
    site.write(
        """\
        # t

        {{ size("fixture-nope") }}

        {{ claim("size(fixture-hello) <") }}
        """
    )
    built = site.build()
    assert built.code == 1
    assert "docs/index.md:3: unknown image 'fixture-nope'" in built.output
    assert (
        'docs/index.md:5: malformed claim "size(fixture-hello) <": the claim ends where a value was expected'
        in built.output
    )
    assert "Traceback" not in built.output


def test_missing_dockerfile_is_a_clear_error(site: TinySite) -> None:
    folder = site.example("hello")
    (folder / "Dockerfile.typo").unlink()
    site.write("# t\n{{ size('fixture-hello') }}\n")
    built = site.build()
    assert built.code == 1
    assert (
        "examples/hello/livedocs.yml:7: image fixture-typo: Dockerfile not found: examples/hello/Dockerfile.typo"
        in built.output
    )
    assert "Traceback" not in built.output


def test_an_unexpected_build_failure_names_the_dockerfile_line(site: TinySite) -> None:
    site.example("broken")
    site.write("# t\n{{ size('fixture-broken') }}\n")
    built = site.build()
    assert built.code == 1
    assert "examples/broken/Dockerfile:2: building fixture-broken failed: " in built.output
    assert "did not complete successfully: exit code: 1" in built.output
    assert "Traceback" not in built.output


def test_expected_failure_that_succeeds_fails_the_build(site: TinySite) -> None:
    folder = site.example("hello")
    (folder / "Dockerfile.typo").write_text("FROM alpine:3.19\n")
    site.write("# t\n{{ build_error('fixture-typo') }}\n")
    built = site.build()
    assert built.code == 1
    assert "fixture-typo is declared 'expect: failure' but its build succeeded" in built.output


def test_unknown_base_image_is_one_clear_error(site: TinySite) -> None:
    """A base image the engine lacks (and cannot pull here) is reported once, with where it is used."""
    folder = site.example("hello")
    (folder / "Dockerfile").write_text('FROM nosuch-base:1.0\nCMD ["true"]\n')
    site.write("# t\n{{ size('fixture-hello') }}\n")
    built = site.build()
    assert built.code == 1
    assert (
        "livedocs: base images not in the engine: nosuch-base:1.0 (used at examples/hello/Dockerfile:1); "
        "this machine cannot pull" in built.output
    )
    assert built.output.count("nosuch-base") == 1
    assert "Traceback" not in built.output


def kept_list(site: TinySite) -> dict:
    """The image list the last build kept for its one engine (.cache/livedocs/images/)."""
    kept = list((site.root / ".cache" / "livedocs" / "images").glob("*.json"))
    assert len(kept) == 1, kept
    return json.loads(kept[0].read_text())


@pytest.mark.parametrize("store", ["containerd", "overlay2"])
def test_a_warm_build_reuses_the_image_list_only_while_the_engine_logs_no_image_change(
    site: TinySite, store: str, tmp_path: Path
) -> None:
    """A warm build asks no `docker buildx` and lists no image: it keeps the previous build's
    list while the engine's event log shows no image created, tagged or removed; a tag added
    makes it list again, and an image removed behind its back is built again."""
    address = store_engines(store)[store]
    engine = {store: address}
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }}\n")
    first = site.build(engines=engine)
    assert first.code == 0, first.output
    listed = kept_list(site)
    assert "fixture-hello:latest" in listed["listing"]

    # every docker command the warm build runs is logged, then run by the real CLI
    shim, calls = tmp_path / "bin", tmp_path / "docker-calls"
    shim.mkdir()
    real = shutil.which("docker")
    assert real is not None
    (shim / "docker").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
    (shim / "docker").chmod(0o755)
    warm = site.build(engines=engine, path=f"{shim}:{os.environ['PATH']}")
    assert warm.code == 0, warm.output
    assert "livedocs: building" not in warm.output
    assert not calls.exists(), f"a warm build ran docker: {calls.read_text()}"
    assert kept_list(site) == listed, "nothing changed: the kept list is used, not read again"

    extra = "fixture-hello:kept-list-test"
    cli("-H", address, "tag", "fixture-hello", extra)
    try:
        tagged = site.build(engines=engine)
        assert tagged.code == 0, tagged.output
        assert "livedocs: building" not in tagged.output
        again = kept_list(site)
        assert again["since"] > listed["since"] and extra in again["listing"], "a tag was added: listed again"
    finally:
        cli("-H", address, "rmi", extra)

    cli("-H", address, "rmi", "fixture-hello")  # behind the site's back
    removed = site.build(engines=engine)
    assert removed.code == 0, removed.output
    assert "livedocs: building fixture-hello" in removed.output
    assert (
        cli("-H", address, "image", "inspect", "--format", "{{.Id}}", "fixture-hello")
        == removed.entry("fixture-hello", store)["image_id"]
    )


@pytest.mark.parametrize("store", ["containerd", "overlay2"])
def test_the_go_standin_keeps_to_its_own_go_as_the_official_image_does(store: str) -> None:
    """The official golang images set GOTOOLCHAIN=local (a go.mod asking for a newer Go fails
    instead of downloading one): the stand-in sets it too, on every engine `make standins` fills."""
    address = store_engines(store)[store]
    env = cli("-H", address, "image", "inspect", "--format", "{{json .Config.Env}}", "standin/golang:1.21-alpine3.19")
    assert "GOTOOLCHAIN=local" in json.loads(env)


def test_without_buildx_a_build_that_must_build_fails_once_and_a_warm_one_needs_none(
    site: TinySite, tmp_path: Path
) -> None:
    """A docker CLI without its buildx plugin: a build that has an image to build fails with
    one message naming the missing plugin (not one per image) and records nothing; once the
    images are built (with buildx), a build without the plugin needs none and passes."""
    shim = tmp_path / "bin"
    shim.mkdir()
    real = shutil.which("docker")
    assert real is not None
    # the real CLI, but `docker buildx ...` fails as it does where the plugin is not installed
    (shim / "docker").write_text(
        f'#!/bin/sh\n[ "$1" = buildx ] && {{ echo "docker: unknown command: docker buildx" >&2; exit 1; }}\n'
        f'exec {real} "$@"\n'
    )
    (shim / "docker").chmod(0o755)
    path = f"{shim}:{os.environ['PATH']}"
    site.example("hello")
    site.write("# t\n{{ size('fixture-hello') }}\n")
    if cli("images", "-q", "fixture-hello"):
        cli("rmi", "fixture-hello")  # cold: there is an image to build
    failed = site.build(path=path)
    assert failed.code != 0
    assert failed.output.count("`docker buildx version` does not answer") == 1, failed.output
    assert "no buildx plugin" in failed.output and "Traceback" not in failed.output
    assert "livedocs: build" not in failed.output, "nothing is said to build where nothing can"
    built = site.build()
    assert built.code == 0, built.output
    again = site.build(path=path)
    assert again.code == 0, again.output
    assert "livedocs: building" not in again.output
    assert again.record() == built.record()
