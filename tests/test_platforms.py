"""Figures of another platform (linux/arm64, built under emulation) beside the engine's own,
on both image stores: measured with `LIVEDOCS_PLATFORMS` / `platforms:`, never replacing the
other platform's figures, and equal to what each store's `docker images` and `docker images --tree` print."""

from __future__ import annotations

import html as htmllib
import re
import uuid

import pytest

from macros.measurement import Measurement
from macros.render import image_tree, tree_rows
from macros.units import human_size, short_id

from .conftest import TinySite, store_engines
from .helpers import docker_cli
from .test_image_tree import cli_tree_rows

pytestmark = pytest.mark.engine

STORES = ("containerd", "overlay2")
AMD64, ARM64 = "linux/amd64", "linux/arm64"
DOCKERFILE = """\
FROM alpine:3.19
RUN mkdir /srv && uname -m > /srv/arch && echo {nonce} > /srv/nonce
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/srv"]
"""
MANIFEST = """\
images:
  fixture-arch:
    run:
      port: 8080
      paths: ["/arch"]
      timeout: 60
"""
PAGE = (
    "# Arch\n\nIt weighs {{ size('fixture-arch') }}.\n\n{{ response('fixture-arch', '/arch') }}\n\n"
    "{{ images_tree('fixture-arch') }}\n"
)


def platforms(site: TinySite, *names: str) -> None:
    """Set `platforms:` in the site's mkdocs.yml (none: each engine's own)."""
    config = site.root / "mkdocs.yml"
    text = config.read_text().split("extra:\n")[0]
    if names:
        text += f"extra:\n  livedocs:\n    platforms: [{', '.join(names)}]\n"
    config.write_text(text)


def test_arm64_figures_come_beside_the_amd64_ones_on_both_stores(site: TinySite) -> None:
    """A build for linux/arm64 alone adds arm64 figures on each store, leaves the amd64 ones as
    they were, names the reader's tag in its listing, and shows each figure as that store's
    `docker images` prints the arm64 image; the container answers as an aarch64 machine. A
    build for the engines' own platform then keeps the arm64 figures and shows all four."""
    engines = store_engines(*STORES)
    folder = site.root / "examples" / "arch"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE.format(nonce=uuid.uuid4()))  # new to every cache and shelf
    (folder / "livedocs.yml").write_text(MANIFEST)
    site.write(PAGE)
    first = site.build(engines=engines)
    assert first.code == 0, first.output
    before = first.record()["images"]["fixture-arch"]
    assert {store: sorted(by) for store, by in before.items()} == {store: [AMD64] for store in STORES}

    platforms(site, ARM64)
    arm = site.build(engines=engines)
    assert arm.code == 0, arm.output
    assert arm.output.count("livedocs: building fixture-arch from examples/arch/Dockerfile") == 2, arm.output
    after = arm.record()["images"]["fixture-arch"]
    page = arm.page()
    for store in STORES:
        assert after[store][AMD64] == before[store][AMD64], f"{store}: the amd64 figures are untouched"
        entry = after[store][ARM64]
        assert entry["engine"]["platform"] == ARM64
        assert entry["responses"]["/arch"]["body"].strip() == "aarch64"
        assert before[store][AMD64]["responses"]["/arch"]["body"].strip() == "x86_64"
        listing = entry["build"]["listing"]
        assert "naming to docker.io/library/fixture-arch:latest done" in listing and "linux-arm64" not in listing
        host = engines[store]
        tag = "fixture-arch:latest-linux-arm64"  # overlay2 holds one platform per tag
        assert docker_cli("image", "inspect", "--format", "{{.Architecture}}", tag, host=host) == "arm64"
        assert docker_cli("image", "inspect", "--format", "{{.Id}}", tag, host=host) == entry["image_id"]
        listed = docker_cli("images", "--format", "{{.Size}}", tag, host=host)
        assert human_size(entry["size_bytes"]) == listed, store
        assert f"{listed} ({store}, arm64)" in page, page
        # `docker images --tree`: the image's row, and on the containerd store its platform's row
        ours = [
            (short_id(row.image_id), row.disk_usage, row.content_size)
            for top in tree_rows([("fixture-arch", Measurement.from_json(entry))], store)
            for row in (top, *top.children)
        ]
        cli = [row[1:4] for row in cli_tree_rows(host, tag)]
        assert ours == cli, store
        assert [row[0] for row in cli_tree_rows(host, tag)][1:] == (["linux/arm64"] if store == "containerd" else [])
        shown = htmllib.unescape(re.sub(r"<[^>]+>", "", page))
        for line in image_tree(tree_rows([("fixture-arch", Measurement.from_json(entry))], store), True).splitlines():
            assert line.rstrip() in shown, (store, line)

    again = site.build(engines=engines)
    assert again.code == 0, again.output
    assert "livedocs: building" not in again.output, "the arm64 images are current"

    # As `make serve` does by default: each engine's own platform measured, the other replayed.
    platforms(site)
    native = site.build(engines=engines)
    assert native.code == 0, native.output
    assert "livedocs: building" not in native.output, "the amd64 images are current"
    assert native.record()["images"]["fixture-arch"] == after, "the arm64 figures are kept as recorded"
    page = native.page()
    # another platform's figures from the record are no fallback: an INFO line, no banner
    assert "Recorded figures" not in page and "admonition warning" not in page
    assert "not this machine's platform; the figures recorded in examples/measurements.json" in native.output
    assert "WARNING -  livedocs: no engine" not in native.output
    for store in STORES:
        for platform in (AMD64, ARM64):
            figure = human_size(after[store][platform]["size_bytes"])
            assert f"{figure} ({store}, {platform.split('/')[1]})" in page, (store, platform)
