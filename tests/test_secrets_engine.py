"""Secret mounts on the real engines: the secret's bytes are in no layer of the image, while
the pitfall next to it, which copies the file with the sources, has them in one layer."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

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
            builder.build(BuildRequest(context, f"fixture-{tag}", {}))
            counts[tag] = engine.layers_holding(f"fixture-{tag}", {"api_token": token, "absent": b"no such bytes"})
    finally:
        for tag in ("secret-mounted", "secret-copied"):
            engine.remove_image(f"fixture-{tag}")
        engine.close()
    assert counts["secret-mounted"] == {"api_token": 0, "absent": 0}
    assert counts["secret-copied"] == {"api_token": 1, "absent": 0}


def test_the_context_secret_folder_as_committed_keeps_the_token_out(tmp_path: Path) -> None:
    """A reader's own `docker buildx build --secret id=api_token,src=.env -f Dockerfile.secret .`
    in a copy of `examples/context-secret` (FROM mapped to the stand-in): BuildKit reads
    `Dockerfile.secret.dockerignore`, so `COPY . .` brings `app.sh` and the folder's
    `.dockerignore` only, the step (run: `--no-cache`) reads the token, and no file of the result
    holds it."""
    from macros.dockerfile import rewrite_images

    folder = tmp_path / "context-secret"
    shutil.copytree(REPO / "examples" / "context-secret", folder)
    image_map = load_image_map(REPO, str(IMAGE_MAP))
    dockerfile = folder / "Dockerfile.secret"
    dockerfile.write_text(rewrite_images(dockerfile.read_text(), image_map))
    out = tmp_path / "out"
    command = ["docker", "buildx", "build", "--progress=plain", "--no-cache", "--secret", "id=api_token,src=.env"]
    done = subprocess.run(
        [*command, "-f", "Dockerfile.secret", "--output", f"type=local,dest={out}", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    value = (folder / ".env").read_text().strip().removeprefix("API_TOKEN=")
    assert re.search(rf"^#\d+ \d+\.\d+ token of {len(value)} characters$", done.stderr, re.M), done.stderr
    assert sorted(p.name for p in (out / "app").iterdir()) == [".dockerignore", "app.sh"]
    token = (folder / ".env").read_bytes().strip()
    holding = [p for p in out.rglob("*") if p.is_file() and not p.is_symlink() and token in p.read_bytes()]
    assert holding == []
