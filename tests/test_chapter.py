"""The real site, built on the real engine from the stand-ins: true as written."""

from __future__ import annotations

import html as htmllib
import itertools
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import MKDOCS, REPO, RealSite, store_engines
from .helpers import AMD64, by_store, mkdocs_env
from .helpers import docker_cli as docker

pytestmark = pytest.mark.engine

CHAPTER = "multi-stage"


def mkdocs_build(root: Path, site_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(site_dir)],
        cwd=root,
        env=mkdocs_env(**extra),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def cli_size(tag: str, host: str | None = None) -> str:
    return docker("images", "--format", "{{.Size}}", latest(tag), host=host)


def cli_id(tag: str, host: str | None = None) -> str:
    return docker("images", "--format", "{{.ID}}", latest(tag), host=host)


def latest(tag: str) -> str:
    """`name:latest`, the image the pages show: `docker images NAME` lists every tag of NAME (an
    engine that built other platforms' figures holds `NAME:latest-linux-arm64` beside it)."""
    return tag if ":" in tag else f"{tag}:latest"


@pytest.fixture(scope="module")
def engines() -> dict[str, str]:
    """The chapter is measured on both image stores: store -> engine address."""
    return store_engines("containerd", "overlay2")


@pytest.fixture(scope="module")
def chapter(real_site: RealSite) -> str:
    return real_site.page(CHAPTER)


# How a content tab names the image store whose figures it holds, and the platform where the
# record holds more than one: `overlay2`, `containerd image store, linux/arm64 (Apple Silicon)`.
STORE_TAB = re.compile(
    r"(?P<store>containerd image store|overlay2)(?:, (?P<platform>[a-z0-9]+/[a-z0-9/]+)(?: \(.+\))?)?"
)
STORE_NAMES = {"containerd image store": "containerd", "overlay2": "overlay2"}


class _TabbedPieces(HTMLParser):
    """A page's HTML cut where each block of its content tabs (pymdownx.tabbed, alternate style)
    begins and ends: `cuts` holds (offset, the labels of the tabs open there, outermost first)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.starts = [0] + [found.end() for found in re.finditer("\n", page)]
        self.divs: list[str] = []  # the role of each open <div>: "set", "labels", "block" or ""
        self.sets: list[tuple[list[str], list[int]]] = []  # each open set: its labels, its blocks begun
        self.inside: list[str] = []  # the labels of the open blocks
        self.label: list[str] | None = None  # the text of the label being read
        self.cuts: list[tuple[int, tuple[str, ...]]] = [(0, ())]
        self.feed(page)
        self.close()

    def position(self) -> int:
        line, column = self.getpos()
        return self.starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "label" and self.divs[-1:] == ["labels"]:
            self.label = []
        if tag != "div":
            return
        role = next((name for name in ("set", "labels", "block") if f"tabbed-{name}" in classes), "")
        if role == "set":
            self.sets.append(([], [0]))
        elif role == "block":
            labels, begun = self.sets[-1]
            self.inside.append(labels[begun[0]])
            begun[0] += 1
            self.cuts.append((self.position(), tuple(self.inside)))
        self.divs.append(role)

    def handle_data(self, data: str) -> None:
        if self.label is not None:
            self.label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.label is not None:
            self.sets[-1][0].append("".join(self.label).strip())
            self.label = None
        if tag != "div" or not self.divs:
            return
        role = self.divs.pop()
        if role == "block":
            self.inside.pop()
            self.cuts.append((self.position(), tuple(self.inside)))
        elif role == "set":
            self.sets.pop()


def pieces_measured_here(page: str) -> list[tuple[str | None, str]]:
    """The page's HTML in pieces, each with the image store of the innermost store tab it is in
    (None: in no store tab, a figure every store shows alike), but for the tabs of a platform
    other than linux/amd64, the one the tests build on: those figures are replayed from the
    record, not built on these engines (test_browser checks them against the record)."""
    cuts = [*_TabbedPieces(page).cuts, (len(page), ())]
    pieces = []
    for (start, labels), (end, _) in itertools.pairwise(cuts):
        tab = next((found for label in reversed(labels) if (found := STORE_TAB.fullmatch(label))), None)
        if tab and tab["platform"] not in (None, AMD64):
            continue
        pieces.append((STORE_NAMES[tab["store"]] if tab else None, page[start:end]))
    return pieces


def record_platforms(record: dict) -> set[str]:
    """The platforms a record holds figures of, on any store."""
    return {platform for stores in record["images"].values() for places in stores.values() for platform in places}


def shown_text(html: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", "", html))


def store_of(image_id: str, tag: str, tab: str | None, engines: dict[str, str]) -> str | None:
    """The store whose engine gives `tag` this ID: the store of the tab it is shown in, else any."""
    return next((s for s in ([tab] if tab else engines) if cli_id(tag, engines[s]) == image_id), None)


def test_every_docker_images_table_equals_the_engine(chapter: str, engines: dict[str, str]) -> None:
    """Each row of each `docker images` table shows one store's engine's own ID and size (the
    store of its tab, where it is in one); both stores are shown. (The tabs of a platform not built
    here, replayed from the record, are test_browser's.)"""
    rows = [
        (tab, *row)
        for tab, piece in pieces_measured_here(chapter)
        for row in re.findall(r"^(\S+)\s+latest\s+([0-9a-f]{12})\s+.*?\s(\S+B)\s*$", shown_text(piece), re.M)
    ]
    assert rows, "the chapter shows at least one docker images table"
    seen = set()
    for tab, repository, image_id, size in rows:
        store = store_of(image_id, repository, tab, engines)
        assert store is not None, f"{repository} {image_id} is in no engine" + (f" of the {tab} store" if tab else "")
        assert size == cli_size(repository, engines[store]), (repository, store)
        seen.add(store)
    assert seen == set(engines), seen


def test_every_docker_29_listing_equals_the_engines_tree_view(chapter: str, engines: dict[str, str]) -> None:
    """Each row of each Docker 29 `docker images` listing is the top row that one store's engine
    prints for that image with `docker images --tree`: name, ID, DISK USAGE, CONTENT SIZE; both stores shown."""
    from .test_image_tree import cli_tree_row

    rows = [
        (tab, *row)
        for tab, piece in pieces_measured_here(chapter)
        for row in re.findall(r"^(\S+:latest) +([0-9a-f]{12}) +(\S+B) +(\S+B) *$", shown_text(piece), re.M)
    ]
    assert rows, "the chapter shows at least one Docker 29 listing"
    seen = set()
    for tab, name, image_id, disk_usage, content_size in rows:
        store = store_of(image_id, name, tab, engines)
        assert store is not None, f"{name} {image_id} is in no engine" + (f" of the {tab} store" if tab else "")
        assert cli_tree_row(engines[store], name) == (name, image_id, disk_usage, content_size), (name, store)
        seen.add(store)
    assert seen == set(engines), seen


def test_size_chart_values_equal_the_engine(chapter: str, engines: dict[str, str]) -> None:
    """One bar chart per store (of those built here); its labels and values are that store's engine's sizes."""
    charts = [
        (tab, chart)
        for tab, piece in pieces_measured_here(chapter)
        for chart in re.findall(r"<svg class=\"livedocs-chart\".*?</svg>", piece, re.S)
    ]
    assert len(charts) == len(engines)
    matched = []
    for tab, chart in charts:
        labels = re.findall(r'class="livedocs-chart-label">([^<]+)</text>', chart)
        values = re.findall(r'class="livedocs-chart-value">([^<]+)</text>', chart)
        assert len(labels) >= 3 and len(labels) == len(values)
        shown = dict(zip(labels, values, strict=True))
        stores = [tab] if tab else list(engines)
        store = next(s for s in stores if all(cli_size(t, engines[s]) == v for t, v in shown.items()))
        matched.append(store)
    assert sorted(matched) == sorted(engines)


def test_every_claim_in_the_chapter_holds(chapter: str) -> None:
    """The chapter carries claims, each checked and true (a false one fails the build)."""
    marks = re.findall(r'<span class="livedocs-claim( livedocs-false)?" title="([^"]*)"', chapter)
    assert len(marks) >= 8
    assert all(not false for false, _ in marks)
    assert all(" holds" in htmllib.unescape(title) for _, title in marks)


def test_a_heavier_final_stage_fails_the_build_naming_the_claim(
    tmp_path: Path, real_site: RealSite, engines: dict[str, str]
) -> None:
    """Tens of MB added to go-app-multi's final stage make the build fail at the claim, on each store."""
    originals = {}
    for host in engines.values():  # held, so the heavier build cannot remove them
        originals[host] = docker("image", "inspect", "--format", "{{.Id}}", "go-app-multi", host=host)
        docker("tag", originals[host], "fixture-keep:go-app-multi", host=host)
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("docs", "examples", "mkdocs.yml", "overrides"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    (root / "macros").symlink_to(REPO / "macros")
    dockerfile = root / "examples" / "go-app" / "Dockerfile"
    text = dockerfile.read_text()
    cmd = text.rindex("\nCMD")
    dockerfile.write_text(text[:cmd] + "\nRUN head -c 40000000 /dev/zero > /ballast" + text[cmd:])
    try:
        built = mkdocs_build(root, tmp_path / "site", LIVEDOCS_ENGINES=",".join(engines.values()))
    finally:
        for host, original in originals.items():
            heavier = docker("image", "inspect", "--format", "{{.Id}}", "go-app-multi", host=host)
            docker("tag", original, "go-app-multi", host=host)
            docker("rmi", "fixture-keep:go-app-multi", host=host)
            if heavier != original:
                docker("rmi", heavier, host=host)
    output = built.stdout + built.stderr
    assert built.returncode == 1, output
    claim = r'docs/multi-stage\.md:\d+: claim "size\(go-app-multi\) < 30MB" is false on '
    # where the record holds several platforms, the message names the one it is false on
    here = f", {AMD64}: " if len(record_platforms(real_site.record)) > 1 else ": "
    assert re.search(claim + r"overlay2" + here + r"size\(go-app-multi\) is 4\d\.\dMB", output), output
    assert re.search(claim + r"containerd" + here + r"size\(go-app-multi\) is \d+(\.\d+)?MB", output), output


def dockerfile_stages(text: str) -> list[tuple[str, int]]:
    """(the name BuildKit gives each stage, its number of steps): `AS x` names it x, an unnamed
    one is `stage-<index>`. BuildKit numbers the instructions that make a step of the build
    (RUN, COPY, ADD, WORKDIR, and a FROM of an image: not `FROM scratch`, not `FROM <stage>`),
    not those that only set the image's settings (CMD, ENV, EXPOSE...)."""
    from macros.dockerfile import instructions

    stages: list[tuple[str, int]] = []
    for instruction in instructions(text):
        counted = instruction.keyword in ("RUN", "COPY", "ADD", "WORKDIR")
        if instruction.keyword == "FROM":
            words = [word for word in instruction.arguments.split() if not word.startswith("--")]  # --platform=
            named = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else f"stage-{len(stages)}"
            counted = words[0] != "scratch" and words[0] not in {name for name, _ in stages}
            stages.append((named, 0))
        if stages and counted:
            stages[-1] = (stages[-1][0], stages[-1][1] + 1)
    return stages


# A step's label as BuildKit prints it (`[build 3/6]`, `[5/5]`); in a build for several platforms
# each step names the platform it builds for, and a stage that runs on another one (`FROM
# --platform=$BUILDPLATFORM`) both: `[linux/arm64 stage-1 2/3]`, `[linux/amd64->arm64 build 5/5]`.
STEP_LABEL = re.compile(
    r"(?:(?P<platform>[a-z0-9]+/[a-z0-9_]+(?:/v\d+)?)(?:->(?P<target>[a-z0-9_]+(?:/[a-z0-9_]+){0,2}))? )?"
    r"(?:(?P<stage>[a-z][a-z0-9_.-]*) )?(?P<index>\d+)/(?P<count>\d+)"
)


def step_platform(found: re.Match[str]) -> str | None:
    """The platform a step of a build for several platforms builds for (None: a build for one):
    `linux/arm64 ...` builds for linux/arm64, `linux/amd64->arm64 ...` too, on linux/amd64
    (BuildKit gives the target's architecture alone when its OS is the same)."""
    if found["platform"] is None or found["target"] is None:
        return found["platform"]
    if re.match(r"(linux|windows|darwin|freebsd)/", found["target"]):
        return found["target"]
    return f"{found['platform'].split('/')[0]}/{found['target']}"


def test_every_recorded_listing_names_only_its_own_dockerfiles_steps(real_site: RealSite) -> None:
    """Each step label of every recorded build, on every store and platform (`[build 3/6]`), names
    a stage of that image's own Dockerfile and that stage's number of instructions: no build ran
    alongside another one whose steps it shares (builds are made one at a time, machine-wide). A
    build for several platforms (`platforms:`) names in every label one of them, and the platform
    it runs on, that one or the machine's (`[linux/amd64->arm64 build 5/5]`); each platform has
    its steps. A build for one platform names none."""
    from macros.examples import load_examples

    specs = load_examples(REPO)
    wrong = []
    for tag, stores in real_site.record["images"].items():
        for store, places in stores.items():
            for platform, entry in places.items():
                where = f"{tag} on {store}, {platform}"
                stages = dockerfile_stages((REPO / entry["dockerfile"]).read_text())
                declared = set(specs[tag].platforms) if tag in specs else set()
                several = len(declared) > 1
                machine = entry["engine"].get("emulated_on") or entry["engine"]["platform"]
                steps = (entry.get("build") or {}).get("steps", [])
                built_for = set()
                for step in steps:
                    label = step.get("label", "")
                    found = STEP_LABEL.fullmatch(label)
                    assert found, (where, label)
                    count = int(found["count"])
                    if found["stage"] is None:
                        ok = len(stages) == 1 and stages[0][1] == count
                    else:
                        ok = (found["stage"], count) in stages
                    target = step_platform(found)
                    if several:
                        ok = ok and target in declared and found["platform"] in (target, machine)
                    else:
                        ok = ok and target is None
                    if not ok or int(found["index"]) > count:
                        wrong.append(f"{where}: [{label}] {step['instruction'][:40]}")
                    built_for.add(target)
                if several and steps and built_for != declared:
                    wrong.append(f"{where}: steps for {sorted(map(str, built_for))}, not each of {sorted(declared)}")
    assert not wrong, "steps of another Dockerfile in a listing:\n" + "\n".join(wrong)


def test_the_served_page_is_dated_by_its_last_commit(real_site: RealSite) -> None:
    """`Last-Modified` of go-app-static's page, as recorded on every store, is the time of the
    last commit that changed `static/index.html` (the page says so), not a fixed date."""
    from email.utils import formatdate

    page = "examples/go-app-static/static/index.html"
    status = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", page], capture_output=True, text=True, check=True
    )
    assert status.stdout == "", f"{page} is edited: its date is its own, not its commit's"
    committed = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct", "--", page], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = formatdate(int(committed), usegmt=True)
    for store, entry in by_store(real_site.record["images"])["go-app-static"].items():
        headers = dict(entry["responses"]["/"]["headers"])
        assert headers["Last-Modified"] == expected, store
