"""The record: two builds saving at once both keep their figures (lock + merge on save)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from macros.record import Record
from tests.fakes import image

REPO = Path(__file__).resolve().parent.parent
AMD64, ARM64 = "linux/amd64", "linux/arm64"

# One build: load the record, measure one image, wait until the other build has measured
# too (both now hold a copy read before either saved), then save at the same moment.
WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from macros.record import Record
    from tests.fakes import image

    root, tag, size, merge = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == "merge"
    record = Record(root / "examples" / "measurements.json", root / ".cache" / "record.lock")
    record.put(tag, "overlay2", image(size))
    (root / f"{tag}.ready").touch()
    while not all((root / f"{t}.ready").exists() for t in ("one", "two")):
        time.sleep(0.01)
    record.save(declared={"one", "two", "kept"}, merge=merge)
    """
)


def _seed(root: Path) -> Record:
    (root / "examples").mkdir()
    record = Record(root / "examples" / "measurements.json", root / ".cache" / "record.lock")
    record.put("kept", "overlay2", image(1_000_000))
    record.put("gone", "overlay2", image(2_000_000))
    record.save()
    return record


def _two_builds_at_once(root: Path, merge: bool) -> dict[str, int]:
    _seed(root)
    mode = "merge" if merge else "last-writer-wins"
    builds = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(REPO), str(root), tag, str(size), mode])
        for tag, size in (("one", 11_000_000), ("two", 22_000_000))
    ]
    assert [build.wait(timeout=60) for build in builds] == [0, 0]
    images = json.loads((root / "examples" / "measurements.json").read_text())["images"]
    return {tag: stores["overlay2"][AMD64]["size_bytes"] for tag, stores in images.items()}


def test_two_builds_saving_at_once_both_keep_their_figures(tmp_path: Path) -> None:
    """Each build's image is in the file, the other images come from the file, undeclared ones go."""
    assert _two_builds_at_once(tmp_path, merge=True) == {"one": 11_000_000, "two": 22_000_000, "kept": 1_000_000}


def test_without_the_merge_the_last_writer_wins(tmp_path: Path) -> None:
    """The same two builds without the merge lose one figure: the test above is not vacuous."""
    sizes = _two_builds_at_once(tmp_path, merge=False)
    assert len({"one", "two"} & set(sizes)) == 1, sizes


def test_the_lock_is_a_file_of_its_own_outside_examples(tmp_path: Path) -> None:
    """The lock must survive the record's atomic replacement, and serve must not watch it."""
    from macros.settings import Settings
    from macros.workbench import Workbench

    (tmp_path / "examples").mkdir()
    bench = Workbench(Settings.load(tmp_path, environ={"LIVEDOCS_ENGINE": "replay"}))
    assert bench.record.lock_path == tmp_path.resolve() / ".cache" / "livedocs" / "record.lock"
    assert bench.record.lock_path != bench.record.path


def test_an_unchanged_figure_keeps_its_date_and_the_file(tmp_path: Path) -> None:
    """Saving the same figures again writes nothing and prints no drift line."""
    record = _seed(tmp_path)
    before = record.path.read_bytes()
    again = Record(record.path, record.lock_path)
    again.put("kept", "overlay2", image(1_000_000))
    assert again.save() == []
    assert record.path.read_bytes() == before


def test_a_changed_figure_prints_a_drift_line(tmp_path: Path) -> None:
    record = _seed(tmp_path)
    again = Record(record.path, record.lock_path)
    again.put("kept", "overlay2", image(1_100_000))
    assert again.save() == ["kept  1MB -> 1.1MB  (+10.0%)"]


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"schema": 2}', '{"schema": 9, "images": {}}', '{"schema": 2, "images": {"x": {"overlay2": 3}}}'],
)
def test_an_unreadable_record_is_reported_and_left_alone(tmp_path: Path, text: str) -> None:
    from macros.errors import RecordError

    (tmp_path / "examples").mkdir()
    path = tmp_path / "examples" / "measurements.json"
    path.write_text(text)
    with pytest.raises(RecordError):
        Record(path, tmp_path / "lock")
    assert path.read_text() == text


def test_a_schema_1_record_is_migrated_once_nothing_lost(tmp_path: Path) -> None:
    """Each schema-1 entry becomes the figure of its engine's store and platform; the next save
    writes schema 3."""
    (tmp_path / "examples").mkdir()
    path = tmp_path / "examples" / "measurements.json"
    old = {"go-app-multi": image(8_924_856).to_json(), "go-app-single": image(269_726_693).to_json()}
    path.write_text(json.dumps({"schema": 1, "images": old}))
    record = Record(path, tmp_path / "lock")
    assert record.stores() == ["overlay2"]
    assert record.save() == []  # no figure changed
    data = json.loads(path.read_text())
    assert data["schema"] == 3
    assert {tag: stores["overlay2"][AMD64] for tag, stores in data["images"].items()} == old


def test_records_of_two_runners_merge_store_by_store(tmp_path: Path) -> None:
    """The scheduled rebuild's last job: each runner's file gives the figures of its own store."""
    from macros.record import merge_records

    def record_file(name: str, entries: dict[tuple[str, str], int]) -> Path:
        path = tmp_path / name
        record = Record(path, tmp_path / "lock")
        for (tag, store), size in entries.items():
            record.put(tag, store, image(size))
        record.save()
        return path

    target = record_file("measurements.json", {("x", "containerd"): 10, ("x", "overlay2"): 20})
    containerd = record_file("containerd.json", {("x", "containerd"): 11, ("x", "overlay2"): 20})
    overlay2 = record_file("overlay2.json", {("x", "containerd"): 10, ("x", "overlay2"): 22})
    measured = [(containerd, ("containerd", AMD64)), (overlay2, ("overlay2", AMD64))]
    drift = merge_records(target, tmp_path / "lock", measured)
    assert drift == ["x on containerd  10B -> 11B  (+10.0%)", "x on overlay2    20B -> 22B  (+10.0%)"]
    merged = json.loads(target.read_text())["images"]["x"]
    assert (merged["containerd"][AMD64]["size_bytes"], merged["overlay2"][AMD64]["size_bytes"]) == (11, 22)


def test_a_merge_waits_for_a_build_holding_the_record(tmp_path: Path) -> None:
    """`scripts/merge_records.py` takes the lock site builds take (`Settings.record_lock`): while
    a build holds it, the merge waits; once it is released, the merge writes."""
    from macros.files import locked
    from macros.settings import Settings

    settings = Settings(root=tmp_path)
    target = settings.record_path
    target.parent.mkdir(parents=True)
    Record(target, settings.record_lock).save()
    measured = tmp_path / "overlay2.json"
    record = Record(measured, tmp_path / "other.lock")
    record.put("x", "overlay2", image(20))
    record.save()
    command = [sys.executable, str(REPO / "scripts" / "merge_records.py"), str(target), f"overlay2={measured}"]
    with locked(settings.record_lock):
        merge = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            merge.wait(timeout=2)
        assert json.loads(target.read_text())["images"] == {}
    output, _ = merge.communicate(timeout=30)
    assert merge.returncode == 0, output
    assert json.loads(target.read_text())["images"]["x"]["overlay2"][AMD64]["size_bytes"] == 20


def test_merge_records_names_a_target_that_is_no_sites_record(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "merge_records.py"), str(tmp_path / "x.json"), "overlay2=a.json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "expected a site's examples/measurements.json" in done.stderr


def test_a_record_without_process_uids_loads_and_keeps_them_once_measured(tmp_path: Path) -> None:
    """An entry written before run checks recorded the process's uid loads with none; a uid
    measured since is written as `process_uid` and read back."""
    from dataclasses import replace

    from macros.measurement import Measurement

    (tmp_path / "examples").mkdir()
    path = tmp_path / "examples" / "measurements.json"
    old = image(6_720_000).to_json()
    assert "process_uid" not in old
    path.write_text(json.dumps({"schema": 2, "images": {"go-app-scratch": {"overlay2": old}}}))
    record = Record(path, tmp_path / "lock")
    loaded = record.get("go-app-scratch", "overlay2", AMD64)
    assert loaded is not None and loaded.process_uid is None
    record.put("go-app-scratch", "overlay2", replace(loaded, process_uid=65532))
    assert record.save() == ["go-app-scratch  same figures; recorded details changed: process_uid"]
    saved = json.loads(path.read_text())["images"]["go-app-scratch"]["overlay2"][AMD64]
    assert saved["process_uid"] == 65532
    assert Measurement.from_json(saved).process_uid == 65532


def test_a_schema_2_record_is_filed_under_its_engines_platform_and_written_as_schema_3(tmp_path: Path) -> None:
    """Each schema-2 entry (by image and store) becomes the figure of the platform its engine
    reported; the next save writes schema 3, nothing lost."""
    (tmp_path / "examples").mkdir()
    path = tmp_path / "examples" / "measurements.json"
    old = {"x": {"containerd": image(11).to_json(), "overlay2": image(22, platform=ARM64).to_json()}}
    path.write_text(json.dumps({"schema": 2, "images": old}))
    record = Record(path, tmp_path / "lock")
    assert record.places() == [("containerd", AMD64), ("overlay2", ARM64)]
    assert record.save() == []
    data = json.loads(path.read_text())
    assert data["schema"] == 3
    assert data["images"] == {
        "x": {"containerd": {AMD64: old["x"]["containerd"]}, "overlay2": {ARM64: old["x"]["overlay2"]}}
    }


def test_a_build_on_one_platform_leaves_the_other_platforms_figures_untouched(tmp_path: Path) -> None:
    """A contributor on Apple Silicon measures linux/arm64 on the containerd store: the record
    gains those figures beside the linux/amd64 ones, which stay as they were, byte for byte."""
    record = _seed(tmp_path)
    before = json.loads(record.path.read_text())["images"]["kept"]["overlay2"][AMD64]
    arm = Record(record.path, record.lock_path)
    arm.put("kept", "overlay2", image(900_000, platform=ARM64))
    assert arm.save() == ["kept on overlay2, linux/arm64  new: 900kB"]
    images = json.loads(record.path.read_text())["images"]["kept"]["overlay2"]
    assert images[AMD64] == before and images[ARM64]["size_bytes"] == 900_000
    assert Record(record.path, record.lock_path).get("kept", "overlay2", AMD64) == image(1_000_000)


def test_merge_records_takes_one_platform_of_a_store_from_each_file(tmp_path: Path) -> None:
    """`containerd@linux/arm64=FILE` takes that file's arm64 figures of the containerd store and
    nothing else: its stale copy of the amd64 figures does not replace the target's."""
    from macros.settings import Settings

    settings = Settings(root=tmp_path)
    target = settings.record_path
    target.parent.mkdir(parents=True)
    seeded = Record(target, settings.record_lock)
    seeded.put("x", "containerd", image(10))
    seeded.save()
    runner = tmp_path / "arm64.json"
    measured = Record(runner, tmp_path / "other.lock")
    measured.put("x", "containerd", image(99))  # a stale amd64 copy
    measured.put("x", "containerd", image(12, platform=ARM64))
    measured.save()
    command = [sys.executable, str(REPO / "scripts" / "merge_records.py"), str(target), f"containerd@{ARM64}={runner}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "livedocs drift: x on containerd, linux/arm64  new: 12B\n"
    merged = json.loads(target.read_text())["images"]["x"]["containerd"]
    assert (merged[AMD64]["size_bytes"], merged[ARM64]["size_bytes"]) == (10, 12)


def test_a_replay_shows_each_platform_the_record_holds_as_a_view_of_its_own(tmp_path: Path) -> None:
    """A record with linux/arm64 figures beside the linux/amd64 ones gives one view per store and
    platform, amd64 first; the pages name the platform, and each view has its own figures."""
    from macros.pages import Pages
    from macros.settings import Settings
    from macros.workbench import Workbench

    folder = tmp_path / "examples" / "app"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY note.txt /\n")
    (folder / "note.txt").write_text("a note\n")
    (folder / "livedocs.yml").write_text("images:\n  app: {}\n")
    record = Record(tmp_path / "examples" / "measurements.json", tmp_path / "lock")
    record.put("app", "containerd", image(2_000_000, platform=ARM64))
    record.put("app", "containerd", image(3_000_000))
    record.put("app", "overlay2", image(1_000_000))
    record.save()
    bench = Workbench(Settings.load(tmp_path, environ={"LIVEDOCS_ENGINE": "replay"}))
    bench.connect()
    assert [(view.store, view.platform) for view in bench.views] == [
        ("containerd", AMD64),
        ("containerd", ARM64),
        ("overlay2", AMD64),
    ]
    bench.prepare()
    pages = Pages(bench.views)
    pages.begin_page("docs/x.md", '{{ size("app") }}\n')
    assert pages.size("app") == "3MB (containerd, amd64) / 2MB (containerd, arm64) / 1MB (overlay2, amd64)"
