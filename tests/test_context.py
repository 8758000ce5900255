"""The build context as sent: .dockerignore, edits, image map, and the cache key."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from macros.context import build_context, cache_key, is_ignored, read_dockerignore
from macros.errors import LivedocsError
from macros.examples import load_example

MAP = {"alpine:3.19": "standin/alpine:3.19"}


def make_example(root: Path, files: dict[str, str], manifest: str = "images:\n  ctx-test: {}\n") -> Path:
    folder = root / "examples" / "ctx"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "livedocs.yml").write_text(manifest)
    return folder


def sent(context_tar: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(context_tar)) as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


@pytest.mark.parametrize(
    ("pattern", "path", "ignored"),
    [
        ("notes", "notes/draft.md", True),
        ("*.tmp", "a.tmp", True),
        ("*.tmp", "sub/a.tmp", False),
        ("**/*.tmp", "sub/deeper/a.tmp", True),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),
    ],
)
def test_dockerignore_patterns(tmp_path: Path, pattern: str, path: str, ignored: bool) -> None:
    (tmp_path / ".dockerignore").write_text(pattern + "\n")
    assert is_ignored(path, read_dockerignore(tmp_path)) is ignored


def test_negation_reincludes(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.md\n!README.md\n")
    rules = read_dockerignore(tmp_path)
    assert is_ignored("notes.md", rules)
    assert not is_ignored("README.md", rules)


def test_context_honours_dockerignore_and_rewrites_from(tmp_path: Path) -> None:
    folder = make_example(
        tmp_path,
        {"Dockerfile": "FROM alpine:3.19\nCOPY a.txt /\n", "a.txt": "a", "secret.env": "x", ".dockerignore": "*.env\n"},
    )
    (spec,) = load_example(folder, tmp_path)
    context = build_context(spec, tmp_path, MAP)
    files = sent(context.tar)
    assert set(files) == {".dockerignore", "Dockerfile", "a.txt"}
    assert files["Dockerfile"].startswith("FROM standin/alpine:3.19\n")
    assert (folder / "Dockerfile").read_text().startswith("FROM alpine:3.19\n"), "the shown Dockerfile never changes"


def test_key_changes_with_content_not_with_time(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n", "a.txt": "a"})
    (spec,) = load_example(folder, tmp_path)
    first = build_context(spec, tmp_path, MAP)
    (folder / "a.txt").touch()
    assert build_context(spec, tmp_path, MAP).digest == first.digest
    (folder / "a.txt").write_text("b")
    assert build_context(spec, tmp_path, MAP).digest != first.digest
    bases = {"alpine:3.19": "sha256:1"}
    assert cache_key(spec, first, bases, "classic") != cache_key(spec, first, {"alpine:3.19": "sha256:2"}, "classic")


def edited_copy(root: Path, name: str, text: str) -> None:
    """The edited copy of the example's `name`, where `edit:` finds it (examples/_edits/ctx/)."""
    path = root / "examples" / "_edits" / "ctx" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_edit_replaces_a_file_in_the_context_only(tmp_path: Path) -> None:
    """The edited copy lives outside the example folder: the reader's folder holds one main.go."""
    manifest = "images:\n  ctx-edited:\n    edit: [main.go]\n"
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n", "main.go": "old"}, manifest)
    edited_copy(tmp_path, "main.go", "new")
    (spec,) = load_example(folder, tmp_path)
    files = sent(build_context(spec, tmp_path, MAP).tar)
    assert files == {"Dockerfile": "FROM standin/alpine:3.19\n", "main.go": "new"}
    assert (folder / "main.go").read_text() == "old"


def test_an_edit_whose_copy_is_missing_is_named(tmp_path: Path) -> None:
    manifest = "images:\n  ctx-edited:\n    edit: [main.go]\n"
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n", "main.go": "old"}, manifest)
    with pytest.raises(LivedocsError, match=r"edited copy of main\.go is not there: examples/_edits/ctx/main\.go"):
        load_example(folder, tmp_path)


def test_the_old_edit_mapping_is_refused_with_the_new_form(tmp_path: Path) -> None:
    manifest = "images:\n  ctx-edited:\n    edit: {main.go: main_edited.go}\n"
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n", "main.go": "old"}, manifest)
    with pytest.raises(LivedocsError, match=r"livedocs.yml:2: image ctx-edited: edit must be a list"):
        load_example(folder, tmp_path)


def test_symlink_out_of_the_context_is_refused(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n"})
    (folder / "passwd").symlink_to("/etc/passwd")
    (spec,) = load_example(folder, tmp_path)
    with pytest.raises(LivedocsError, match="symlink pointing outside the build context"):
        build_context(spec, tmp_path, MAP)


def test_context_escaping_the_example_is_refused(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n"}, "images:\n  ctx-test:\n    context: ../..\n")
    with pytest.raises(LivedocsError) as caught:
        load_example(folder, tmp_path)
    assert (
        str(caught.value)
        == "examples/ctx/livedocs.yml:2: image ctx-test: context '../..' escapes the example folder ctx/"
    )


def test_missing_dockerfile_names_manifest_and_line(tmp_path: Path) -> None:
    folder = make_example(
        tmp_path, {"Dockerfile": "FROM alpine:3.19\n"}, "images:\n  a: {}\n  b:\n    dockerfile: Nope\n"
    )
    with pytest.raises(LivedocsError) as caught:
        load_example(folder, tmp_path)
    assert str(caught.value) == "examples/ctx/livedocs.yml:3: image b: Dockerfile not found: examples/ctx/Nope"


def test_malformed_manifest_names_file_and_line(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n"}, "images:\n  a: {dockerfile: [\n")
    with pytest.raises(LivedocsError) as caught:
        load_example(folder, tmp_path)
    assert str(caught.value).startswith("examples/ctx/livedocs.yml:3: not valid YAML")


def test_unknown_manifest_setting_is_named(tmp_path: Path) -> None:
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n"}, "images:\n  a:\n    dockerfle: Dockerfile\n")
    with pytest.raises(LivedocsError, match=r"livedocs.yml:2: image a: unknown setting\(s\) dockerfle"):
        load_example(folder, tmp_path)


def test_a_nonce_makes_an_edit_new_to_the_engine(tmp_path: Path) -> None:
    """Edited Go files end with a comment holding the nonce; nothing else changes."""
    manifest = "images:\n  ctx-edited:\n    edit: [main.go]\n"
    folder = make_example(tmp_path, {"Dockerfile": "FROM alpine:3.19\n", "main.go": "old", "a.txt": "a"}, manifest)
    edited_copy(tmp_path, "main.go", "new")
    (spec,) = load_example(folder, tmp_path)
    plain = sent(build_context(spec, tmp_path, MAP).tar)
    marked = sent(build_context(spec, tmp_path, MAP, nonce="n0nce").tar)
    assert marked["main.go"] == "new\n// livedocs edit n0nce\n"
    assert {k: v for k, v in marked.items() if k != "main.go"} == {k: v for k, v in plain.items() if k != "main.go"}


def test_a_dockerignore_that_lists_itself_keeps_itself_out(tmp_path: Path) -> None:
    """BuildKit does not send a `.dockerignore` that lists itself (checked against the engine in
    test_context_engine.py). This is the case where the docker SDK's PatternMatcher, which always
    re-includes `.dockerignore`, differs from the CLI; so the site keeps its own matcher."""
    (tmp_path / ".dockerignore").write_text(".dockerignore\n*.md\n")
    rules = read_dockerignore(tmp_path)
    assert is_ignored(".dockerignore", rules)
    assert is_ignored("a.md", rules)
    assert not is_ignored("Dockerfile", rules)
