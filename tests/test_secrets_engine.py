"""Secret mounts on the real engines: the secret's bytes are in no layer of the image, while
the pitfall next to it, which copies the file with the sources, has them in one layer."""

from __future__ import annotations

import pytest

from macros.buildkit import BuildKitBuilder
from macros.context import BuildRequest, build_context
from macros.engine import Engine
from macros.examples import load_examples
from macros.imagemap import load_image_map

from .conftest import store_engines
from .helpers import IMAGE_MAP, REPO

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("store", ["overlay2", "containerd"])
def test_a_mounted_secret_is_in_no_layer_and_a_copied_one_is(store: str) -> None:
    """`examples/context-secret` built as the site builds it (`--secret id=api_token,src=.env`):
    Dockerfile.secret's own ignore file keeps `.env` out of the context and its RUN step mounts
    it, and no layer of `docker save`'s archive holds the token; the Dockerfile that copies the
    folder and deletes `.env` in a later step leaves it in exactly one layer (the COPY's). On the
    containerd store the layers are exported compressed, on overlay2 not: both are read."""
    host = store_engines(store)[store]
    specs = load_examples(REPO)
    image_map = load_image_map(REPO, str(IMAGE_MAP))
    builder = BuildKitBuilder(host)
    engine = Engine.connect(host)
    token = (REPO / "examples" / "context-secret" / ".env").read_bytes().strip()
    counts = {}
    try:
        for tag in ("secret-mounted", "secret-copied"):
            spec = specs[tag]
            context = build_context(spec, REPO, image_map)
            assert ".env" not in context.sources or tag == "secret-copied"
            log = builder.build(BuildRequest(context, f"fixture-{tag}", {}))
            assert any("token of" in line and "characters" in line for line in log.lines), log.listing()
            counts[tag] = engine.layers_holding(f"fixture-{tag}", {"api_token": token, "absent": b"no such bytes"})
    finally:
        for tag in ("secret-mounted", "secret-copied"):
            engine.remove_image(f"fixture-{tag}")
        engine.close()
    assert counts["secret-mounted"] == {"api_token": 0, "absent": 0}
    assert counts["secret-copied"] == {"api_token": 1, "absent": 0}
