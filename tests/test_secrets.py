"""Secrets: declared in livedocs.yml, kept out of the context, counted in the image's layers,
recorded, claimed and shown; all without an engine (tests/test_secrets_engine.py builds for real)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from macros.archive import layers_holding
from macros.claims import check, parse
from macros.context import build_context, cache_key, source_digest
from macros.errors import ClaimSyntaxError, LivedocsError
from macros.examples import load_example
from macros.measurement import Measurement
from macros.pages import Pages
from tests.fakes import FakeFacts, chapter_facts, image

from .test_context import make_example, sent

TOKEN = "API_TOKEN=not-a-real-token-42\n"
MOUNT = "FROM alpine:3.19\nCOPY . .\nRUN --mount=type=secret,id=api_token . /run/secrets/api_token\n"
MANIFEST = "images:\n  ctx-secret:\n    dockerfile: Dockerfile.secret\n    secrets: {api_token: .env}\n"


def test_a_secret_is_passed_not_sent_and_its_bytes_are_in_the_key(tmp_path: Path) -> None:
    """Dockerfile.secret's own ignore file keeps `.env` out of the context (and the folder's
    `.dockerignore` is not read for it); the secret's file is named for `--secret`; a new token
    changes the cache key and the source digest, though not one byte of the context."""
    files = {
        "Dockerfile.secret": MOUNT,
        "Dockerfile.secret.dockerignore": ".env\nDockerfile*\n",
        ".dockerignore": "app.sh\n",
        ".env": TOKEN,
        "app.sh": "echo hi\n",
    }
    folder = make_example(tmp_path, files, MANIFEST)
    (spec,) = load_example(folder, tmp_path)
    context = build_context(spec, tmp_path, {})
    assert set(sent(context.tar)) == {".dockerignore", "Dockerfile.secret", "Dockerfile.secret.dockerignore", "app.sh"}
    assert dict(context.secrets) == {"api_token": folder / ".env"}
    key, digest = cache_key(spec, context, {}, "buildkit"), source_digest(tmp_path, spec)
    (folder / ".env").write_text("API_TOKEN=another\n")
    again = build_context(spec, tmp_path, {})
    assert again.digest == context.digest
    assert cache_key(spec, again, {}, "buildkit") != key and source_digest(tmp_path, spec) != digest


def test_a_mounted_secret_whose_file_is_sent_too_is_refused(tmp_path: Path) -> None:
    """No ignore rule for `.env`: the Dockerfile that mounts the secret would also receive it in
    the context, where a COPY takes it into a layer. The manifest's line is named."""
    folder = make_example(tmp_path, {"Dockerfile.secret": MOUNT, ".env": TOKEN}, MANIFEST)
    (spec,) = load_example(folder, tmp_path)
    with pytest.raises(LivedocsError, match=r"secret api_token: Dockerfile.secret mounts it, but its file") as raised:
        build_context(spec, tmp_path, {})
    assert (raised.value.path, raised.value.line) == ("examples/ctx/livedocs.yml", 2)
    assert "exclude it in ctx/.dockerignore" in str(raised.value)


def test_a_pitfall_that_does_not_mount_the_secret_may_send_it(tmp_path: Path) -> None:
    """The pitfall shown beside the remedy copies `.env` with the sources and declares the secret
    only to have its layers searched: that is allowed."""
    manifest = "images:\n  ctx-copied:\n    secrets: {api_token: .env}\n"
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\nCOPY . .\n", ".env": TOKEN}, manifest)
    (spec,) = load_example(folder, tmp_path)
    assert ".env" in sent(build_context(spec, tmp_path, {}).tar)


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ("[.env]", "secrets must map secret ids"),
        ("{'bad id': .env}", "secrets must map secret ids"),
        ("{api_token: missing.env}", "secrets: api_token's file is not there: ctx/missing.env"),
        ("{api_token: ../outside.env}", "secrets: api_token's file '../outside.env' is outside the example folder"),
    ],
)
def test_a_bad_secrets_setting_names_the_manifest_line(tmp_path: Path, secrets: str, message: str) -> None:
    manifest = f"images:\n  ctx-secret:\n    dockerfile: Dockerfile.secret\n    secrets: {secrets}\n"
    folder = make_example(tmp_path, {"Dockerfile.secret": MOUNT}, manifest)
    with pytest.raises(LivedocsError, match=message) as raised:
        load_example(folder, tmp_path)
    assert (raised.value.path, raised.value.line) == ("examples/ctx/livedocs.yml", 2)


def _save(*layers: dict[str, bytes], compress: bool = False) -> io.BytesIO:
    """An archive laid out as `docker save` writes one: manifest.json naming each layer's tar."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        names = []
        for number, files in enumerate(layers):
            layer = io.BytesIO()
            with tarfile.open(fileobj=layer, mode="w") as tar:
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            blob = gzip.compress(layer.getvalue()) if compress else layer.getvalue()
            names.append(f"blobs/sha256/{number:064d}")
            info = tarfile.TarInfo(names[-1])
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
        manifest = json.dumps([{"Config": "config.json", "RepoTags": [], "Layers": names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    out.seek(0)
    return out


@pytest.mark.parametrize("compress", [False, True])
def test_the_layers_holding_a_secret_are_counted_deleted_or_not(compress: bool) -> None:
    """A layer counts once however many of its files hold the bytes; a file a later layer
    deletes (its whiteout) still counts in the layer that added it; gzip layers (the containerd
    store's export) are read as plain ones."""
    token = b"not-a-real-token-42"
    archive = _save(
        {"bin/sh": b"busybox"},
        {"app/.env": b"API_TOKEN=" + token + b"\n", "app/copy.env": token},
        {"app/.wh..env": b""},
        compress=compress,
    )
    assert layers_holding(archive, {"api_token": token, "other": b"absent"}) == {"api_token": 1, "other": 0}


def test_secret_layers_are_recorded_and_old_records_load_without_them() -> None:
    measured = replace(image(8_000_000), secret_layers={"api_token": 0})
    data = measured.to_json()
    assert data["secret_layers"] == {"api_token": 0}
    assert Measurement.from_json(data) == measured
    del data["secret_layers"]
    assert Measurement.from_json(data).secret_layers == {}
    assert "secret_layers" not in image(8_000_000).to_json()


def _facts() -> FakeFacts:
    facts = chapter_facts()
    facts.measurements["secret-mounted"] = replace(image(7_400_000), secret_layers={"api_token": 0})
    facts.measurements["secret-copied"] = replace(image(7_400_000), secret_layers={"api_token": 1})
    return facts


def test_secret_layer_claims_are_checked_and_say_what_was_counted() -> None:
    facts = _facts()
    assert check(parse("secret_layers(secret-mounted, 'api_token') == 0"), facts).holds
    verdict = check(parse("secret_layers(secret-copied, 'api_token') == 0"), facts)
    assert not verdict.holds
    assert verdict.summary() == (
        "claim \"secret_layers(secret-copied, 'api_token') == 0\" is false: "
        "secret_layers(secret-copied, 'api_token') is 1"
    )
    missing = r"secret-mounted was measured with no secret 'ssh' \(declared: api_token\)"
    with pytest.raises(LivedocsError, match=missing):
        check(parse("secret_layers(secret-mounted, 'ssh') == 0"), facts)
    with pytest.raises(ClaimSyntaxError, match="expected a quoted secret id such as 'api_token'"):
        parse("secret_layers(secret-mounted, api_token) == 0")


def test_the_secret_layers_macro_shows_the_count() -> None:
    pages = Pages([_facts()])
    pages.begin_page("docs/x.md", "")
    assert pages.secret_layers("secret-copied", "api_token") == "1"
    assert pages.secret_layers("secret-mounted", "api_token") == "0"


def test_step_status_and_ran_steps_say_what_the_listing_says() -> None:
    """`deps-first-edited` of the fake chapter: steps 2-5 cached, 6 and 7 run (FROM never counts)."""
    facts = chapter_facts()
    assert check(parse("step_status(deps-first-edited, 'step 6') == 'DONE'"), facts).holds
    assert check(parse("step_status(deps-first-edited, 'step 2') == 'CACHED'"), facts).holds
    assert not check(parse("step_status(deps-first-edited, 'step 2') == 'DONE'"), facts).holds
    verdict = check(parse("ran_steps(deps-first-edited) == 2"), facts)
    assert verdict.holds and verdict.measured == ["deps-first-edited ran 2 of 6 steps"]
    with pytest.raises(LivedocsError, match="no step of deps-first-edited contains 'nope'"):
        check(parse("step_status(deps-first-edited, 'nope') == 'DONE'"), facts)


def test_no_cache_filter_is_read_and_keys_the_image(tmp_path: Path) -> None:
    """`no_cache_filter: [build]` is a list of stage names; it is part of the cache key and of the
    source digest (the same folder built with it is another image), and absent it changes neither."""
    files = {"Dockerfile": "FROM alpine:3.19 AS build\nRUN true\n"}
    folder = make_example(tmp_path, files, "images:\n  ctx-a: {}\n  ctx-b:\n    no_cache_filter: [build]\n")
    plain, filtered = load_example(folder, tmp_path)
    assert (plain.no_cache_filter, filtered.no_cache_filter) == ((), ("build",))
    context = build_context(plain, tmp_path, {})
    assert cache_key(plain, context, {}, "buildkit") != cache_key(filtered, context, {}, "buildkit")
    assert source_digest(tmp_path, plain) != source_digest(tmp_path, filtered)
    (folder / "livedocs.yml").write_text("images:\n  ctx-b:\n    no_cache_filter: build\n")
    with pytest.raises(LivedocsError, match="no_cache_filter must be a list of texts"):
        load_example(folder, tmp_path)


def test_the_buildx_command_passes_secrets_and_no_cache_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `docker buildx build` is given (a stand-in `docker` that writes down its arguments):
    `--secret=id=...,src=<the example's file>` and `--no-cache-filter=<stage>`, the secret's file
    itself not laid out in the folder the context is built from."""
    from macros.buildkit import BuildKitBuilder
    from macros.context import BuildRequest

    files = {
        "Dockerfile.secret": "FROM alpine:3.19 AS build\n" + MOUNT.split("\n", 1)[1],
        "Dockerfile.secret.dockerignore": ".env\n",
        ".env": TOKEN,
    }
    manifest = MANIFEST + "    no_cache_filter: [build]\n"
    folder = make_example(tmp_path, files, manifest)
    (spec,) = load_example(folder, tmp_path)
    bin_dir, argv = tmp_path / "bin", tmp_path / "argv"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {argv}\n')
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    request = BuildRequest(
        build_context(spec, tmp_path, {}), "fixture-x", {}, no_cache_filter=spec.no_cache_filter, folder=tmp_path / "f"
    )
    BuildKitBuilder(None).build(request)
    given = argv.read_text().splitlines()
    assert f"--secret=id=api_token,src={folder / '.env'}" in given
    assert "--no-cache-filter=build" in given
    assert not (tmp_path / "f" / ".env").exists()
