"""Settings: read once, the environment over mkdocs.yml over the defaults; a bad value named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from macros.errors import LivedocsError
from macros.settings import Settings, default_workers


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    settings = Settings.load(tmp_path, environ={})
    assert (settings.mode, settings.engines, settings.timeout, settings.image_map, settings.serve) == (
        "auto", (None,), 30.0, "", False
    )  # fmt: skip
    assert settings.workers == 3, "a thread per core"
    assert settings.timing_rounds == 1
    assert settings.record_path == tmp_path.resolve() / "examples" / "measurements.json"


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (4, 4), (5, 4), (64, 4), (None, 1)])
def test_the_default_workers_are_the_cores_at_most_four(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int | None, workers: int
) -> None:
    """A thread per core, at most 4; one where Python cannot tell how many cores there are."""
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert default_workers() == workers
    assert Settings.load(tmp_path, environ={}).workers == workers


def test_the_environment_wins_over_mkdocs_yml(tmp_path: Path) -> None:
    config = {"engine": "live", "workers": 2, "engine_timeout": 5}
    settings = Settings.load(
        tmp_path, config=config, environ={"LIVEDOCS_ENGINE": " Replay ", "DOCKER_HOST": "tcp://x:1"}
    )
    assert (settings.mode, settings.workers, settings.timeout, settings.engines) == ("replay", 2, 5.0, ("tcp://x:1",))


def test_timing_rounds_from_mkdocs_yml_or_the_environment(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, config={"timing_rounds": 3}, environ={}).timing_rounds == 3
    environ = {"LIVEDOCS_TIMING_ROUNDS": "5"}
    assert Settings.load(tmp_path, config={"timing_rounds": 3}, environ=environ).timing_rounds == 5


def test_platforms_from_mkdocs_yml_or_the_environment(tmp_path: Path) -> None:
    """None given: each engine builds for its own platform; else the platforms named, each once."""
    assert Settings.load(tmp_path, environ={}).platforms == ()
    config = {"platforms": ["linux/amd64", "linux/arm64"]}
    assert Settings.load(tmp_path, config=config, environ={}).platforms == ("linux/amd64", "linux/arm64")
    environ = {"LIVEDOCS_PLATFORMS": " linux/arm64, linux/arm64 "}
    assert Settings.load(tmp_path, config=config, environ=environ).platforms == ("linux/arm64",)


def test_serve_from_the_generator_or_the_environment(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, environ={}, serve=True).serve
    assert not Settings.load(tmp_path, environ={"LIVEDOCS_SERVE": "0"}, serve=True).serve
    assert Settings.load(tmp_path, environ={"LIVEDOCS_SERVE": "1"}).serve


@pytest.mark.parametrize(
    ("environ", "config", "message"),
    [
        ({"LIVEDOCS_ENGINE": "sometimes"}, {}, "LIVEDOCS_ENGINE='sometimes': expected one of auto, live, replay"),
        ({}, {"engine": "maybe"}, "mkdocs.yml extra.livedocs.engine='maybe': expected one of"),
        ({"LIVEDOCS_ENGINE_TIMEOUT": "soon"}, {}, "expected a number of seconds"),
        ({"LIVEDOCS_ENGINE_TIMEOUT": "0"}, {}, "expected between 0 and 3600 seconds"),
        ({"LIVEDOCS_WORKERS": "-1"}, {}, "expected between 0 and 64 threads"),
        ({}, {"wrokers": 2}, "unknown setting(s) wrokers"),
        ({"LIVEDOCS_TIMING_ROUNDS": "0"}, {}, "LIVEDOCS_TIMING_ROUNDS='0': expected between 1 and 9 rounds"),
        ({}, {"timing_rounds": "many"}, "extra.livedocs.timing_rounds='many': expected a number of rounds"),
        ({"LIVEDOCS_PLATFORMS": "arm64"}, {}, "LIVEDOCS_PLATFORMS='arm64': expected platforms such as linux/amd64"),
    ],
)
def test_a_bad_setting_is_named(
    tmp_path: Path, environ: dict[str, str], config: dict[str, object], message: str
) -> None:
    with pytest.raises(LivedocsError) as caught:
        Settings.load(tmp_path, config=config, environ=environ)
    assert message in str(caught.value)


def test_the_engines_to_measure_on(tmp_path: Path) -> None:
    """LIVEDOCS_ENGINES, else DOCKER_HOST, else the list `make engine` wrote, else the local socket."""
    assert Settings.load(tmp_path, environ={}).engines == (None,)
    listed = tmp_path / ".cache" / "livedocs" / "engines"
    listed.parent.mkdir(parents=True)
    listed.write_text("overlay2 unix:///var/run/docker.sock\ncontainerd unix:///run/ld/docker.sock\n")
    assert Settings.load(tmp_path, environ={}).engines == ("unix:///var/run/docker.sock", "unix:///run/ld/docker.sock")
    assert Settings.load(tmp_path, environ={"DOCKER_HOST": "tcp://h:1"}).engines == ("tcp://h:1",)
    both = {"DOCKER_HOST": "tcp://h:1", "LIVEDOCS_ENGINES": "unix:///a.sock, unix:///b.sock"}
    assert Settings.load(tmp_path, environ=both).engines == ("unix:///a.sock", "unix:///b.sock")
