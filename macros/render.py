"""Figures as a reader sees them: Markdown and inline HTML/SVG fragments."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import LivedocsError
from .measurement import BaseImage, EngineFacts, LayerEntry, Measurement, is_site_label
from .units import human_duration, human_size, short_id, tabwriter, unix_nanos


def fenced(text: str, language: str = "text", title: str = "") -> str:
    """A fenced code block that survives any backticks in `text`, with a title bar if given."""
    fence = "```"
    while fence in text:
        fence += "`"
    heading = f' title="{title}"' if title else ""
    return f"{fence}{language}{heading}\n{text.rstrip()}\n{fence}"


def created_ago(created: str, now: datetime) -> str:
    """CREATED as `docker images` prints it at `now`: `3 weeks ago` (empty when unknown)."""
    nanos = unix_nanos(created)
    if nanos is None:
        return ""
    return human_duration(now - datetime.fromtimestamp(nanos // 10**9, UTC)) + " ago"


def split_tag(tag: str) -> tuple[str, str]:
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        return tag, "latest"
    return repository, version


def classic_images_table(entries: Sequence[tuple[str, Measurement]], created: bool = True) -> str:
    """`docker images` for these images in the CLI's classic table (Docker 28, or `--format table`),
    as it printed when each image was measured: CREATED relative to the measurement's own time, so
    that the same record gives the same table on any day."""
    header = ["REPOSITORY", "TAG", "IMAGE ID"] + (["CREATED"] if created else []) + ["SIZE"]
    rows = [header]
    for tag, entry in entries:
        repository, version = split_tag(tag)
        row = [repository, version, short_id(entry.image_id)]
        if created:
            measured = unix_nanos(entry.measured_at)
            at = datetime.fromtimestamp(measured // 10**9, UTC) if measured is not None else None
            row.append(created_ago(entry.created, at) if at is not None else "")
        row.append(human_size(entry.size_bytes or 0))
        rows.append(row)
    return tabwriter(rows)


@dataclass(frozen=True)
class TreeRow:
    """One row of Docker 29's `docker images`: an image under one of its tags, sizes as printed."""

    name: str  # `go-app-multi:latest`; "" for an untagged image (`docker images -a`)
    image_id: str
    disk_usage: str
    content_size: str
    in_use: bool = False  # a container, running or stopped, was made from it: `U` under EXTRA
    children: tuple[TreeRow, ...] = ()  # `--tree`: one row per platform, named by the platform


UNTAGGED = "<untagged>"
_TREE_GAP = "   "


def image_tree(rows: Sequence[TreeRow], expanded: bool = False) -> str:
    """`docker images` as Docker CLI 29 prints it by default, its output not a terminal.

    The collapsed tree view (docker/cli v29 `cli/command/image/tree.go`): IMAGE as wide as the
    widest name, ID 12 wide, DISK USAGE (10) and CONTENT SIZE (12) right-aligned, EXTRA at least
    5 wide, columns 3 apart; every cell padded, so a row ends in spaces. EXTRA holds a letter
    per kind of mark that some row has (only `U`, in use); a row without it has a space. In a
    terminal the CLI adds colours and a legend line above (`U In Use`), nothing else.
    Rows in the order given (the CLI sorts them by name: `tree_rows`).

    `expanded` (`docker images --tree`): under each image, a row per platform, `├─ linux/amd64`
    and `└─ ` before the last; once any image has one, a blank line follows every image. The
    first column is as wide as the widest name, or platform plus 7 (the branch's bytes).
    """
    marks = any(row.in_use or any(child.in_use for child in row.children) for row in rows)
    widest = max([len("IMAGE"), *(len(row.name or UNTAGGED) for row in rows)])
    if expanded:
        # the CLI measures the branch in bytes (len("└─ ") is 7 in Go), the cell in columns
        branch = len("└─ ".encode())
        widest = max([widest, *(len(child.name) + branch for row in rows for child in row.children)])
    spacing = expanded and any(row.children for row in rows)

    def line(name: str, image_id: str, disk: str, content: str, extra: str) -> str:
        cells = [name.ljust(widest), image_id.ljust(12), disk.rjust(10), content.rjust(12), extra.ljust(5)]
        return _TREE_GAP.join(cells) + "\n"

    text = line("IMAGE", "ID", "DISK USAGE", "CONTENT SIZE", "EXTRA")
    for row in rows:
        extra = ("U" if row.in_use else " ") if marks else ""
        text += line(row.name or UNTAGGED, short_id(row.image_id), row.disk_usage, row.content_size, extra)
        children = row.children if expanded else ()
        for number, child in enumerate(children):
            branch = "└─ " if number == len(children) - 1 else "├─ "
            extra = ("U" if child.in_use else " ") if marks else ""
            text += line(branch + child.name, short_id(child.image_id), child.disk_usage, child.content_size, extra)
        if spacing:
            text += "\n"
    return text


def tree_rows(entries: Sequence[tuple[str, Measurement]], store: str) -> list[TreeRow]:
    """The rows Docker 29's `docker images` prints for these images on `store`, sorted by name as it sorts them.

    DISK USAGE is the size the engine lists (the SIZE of the classic table). CONTENT SIZE is the
    compressed content of the image's manifests, which only the containerd image store keeps: a
    graph driver (overlay2) lists no manifests, and the CLI adds up none: `0B`. EXTRA is empty: the
    site lists each image right after building it, before any container is made from it.
    """
    rows = []
    for tag, entry in entries:
        content = 0
        if store == "containerd":
            if entry.content_size_bytes is None:
                raise LivedocsError(f"{tag} has no recorded content size on the containerd image store")
            content = entry.content_size_bytes
        name = tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"
        children = tuple(
            TreeRow(row.platform, row.image_id, human_size(row.disk_bytes), human_size(row.content_bytes))
            for row in entry.platform_rows
        )
        rows.append(
            TreeRow(name, entry.image_id, human_size(entry.size_bytes or 0), human_size(content), False, children)
        )
    return sorted(rows, key=lambda row: (row.name == "", row.name))  # untagged last


DOCKER_29 = "Docker 29"
DOCKER_28 = "Docker 28, or --format table"


def images_tree(entries: Sequence[tuple[str, Measurement]], store: str) -> str:
    """`docker images --tree` for these images on `store`, as Docker 29 prints it: a row per
    platform under each image the containerd store keeps an index of."""
    return fenced(image_tree(tree_rows(entries, store), expanded=True), title="docker images --tree, Docker 29")


def images_table(entries: Sequence[tuple[str, Measurement]], store: str) -> str:
    """`docker images` for these images on `store`: what Docker 29 prints by default, then the
    classic table that Docker 28 prints (and Docker 29 with `--format table`), each titled."""
    return "\n\n".join(
        [
            fenced(image_tree(tree_rows(entries, store)), title=DOCKER_29),
            fenced(classic_images_table(entries), title=DOCKER_28),
        ]
    )


def clean_instruction(created_by: str) -> str:
    """`/bin/sh -c #(nop)  CMD ["./app"]` -> `CMD ["./app"]`; `/bin/sh -c go build` -> `RUN go build`."""
    text = " ".join(created_by.replace("\t", " ").split())
    if text.startswith("/bin/sh -c #(nop)"):
        return text.removeprefix("/bin/sh -c #(nop)").strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text.removeprefix("/bin/sh -c ")
    return text or "(imported)"


def layers_table(all_layers: Sequence[LayerEntry]) -> str:
    """The image's layers, newest first as `docker history` prints them (this site's LABEL layers left out)."""
    layers = [layer for layer in all_layers if not is_site_label(layer.created_by)]
    hidden = len(all_layers) - len(layers)
    lines = ["| # | Created by | From | Size |", "|--:|---|---|--:|"]
    for number, layer in enumerate(layers, start=1):
        instruction = clean_instruction(layer.created_by).replace("|", "\\|")
        if len(instruction) > 90:
            instruction = instruction[:89] + "…"
        origin = "base image" if layer.base else "this Dockerfile"
        lines.append(f"| {number} | `{instruction}` | {origin} | {human_size(layer.size_bytes)} |")
    if hidden:
        lines += [
            "",
            f"*Not shown: {hidden} empty `LABEL` layer(s) this site adds to record what it built.*",
        ]
    return "\n".join(lines)


def steps_block(measurement: Measurement) -> str:
    """What the builder printed for the reader's command (BuildKit: internal steps folded)."""
    if measurement.listing:
        return measurement.listing
    # recorded before listings were kept: the classic builder's own step lines
    total = len(measurement.steps)
    return "\n".join(
        f"Step {step.step}/{total} : {step.instruction}" + ("\n ---> Using cache" if step.cached else "")
        for step in measurement.own_steps()
    )


STORE_NAMES = {"containerd": "containerd image store"}


def store_name(store: str) -> str:
    """How a tab names an image store: `containerd image store`, `overlay2`."""
    return STORE_NAMES.get(store, store)


# Platforms as a reader knows their machine: Docker builds for the machine's own by default.
PLATFORM_NAMES = {"linux/amd64": "linux/amd64 (Intel, AMD)", "linux/arm64": "linux/arm64 (Apple Silicon)"}


@dataclass(frozen=True)
class Where:
    """Where a figure was measured, as a page names it: the image store, and the platform
    when the page's figures come from more than one."""

    store: str
    platform: str | None = None

    def tab(self) -> str:
        """A tab's label: `containerd image store`, `overlay2, linux/arm64 (Apple Silicon)`."""
        name = store_name(self.store)
        return f"{name}, {PLATFORM_NAMES.get(self.platform, self.platform)}" if self.platform else name

    def name(self) -> str:
        """In a message: `containerd`, `containerd, linux/arm64`."""
        return f"{self.store}, {self.platform}" if self.platform else self.store

    def short(self) -> str:
        """In a sentence, after a figure: `containerd`, `containerd, arm64`."""
        return f"{self.store}, {self.platform.rpartition('/')[2]}" if self.platform else self.store


# What differs between two runs of the same build on any engine: the time each step took or
# printed at, the HTTP `Date:` header, BuildKit's step numbers (the order steps started in) and
# the IDs of its internal refs. Outputs equal once these are masked are the same output.
_RUN_TO_RUN = (
    (re.compile(r"^Date: .*$", re.M), "Date: *"),
    (re.compile(r"^(#\d+ )?\d+\.\d+ ", re.M), r"\1* "),  # a line's time in its step: `#8 0.249 go: ...`
    (re.compile(r"\b\d+(\.\d+)?s\b"), "*s"),  # `DONE 11.1s`, `0.0s`
    (re.compile(r"^#\d+\b", re.M), "#*"),
    (re.compile(r"\bref [0-9a-z-]+::[0-9a-z]+"), "ref *"),
)
ALIKE_NOTE = "Printed alike on every image store but for timings, dates, step numbers and IDs: shown once."


def run_to_run_masked(text: str) -> str:
    """`text` with what changes from one run of a build to the next masked (`_RUN_TO_RUN`), and
    without its blank lines and trailing spaces (where the builder breaks its output)."""
    for pattern, replacement in _RUN_TO_RUN:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def per_store(shown: Sequence[tuple[Where | str, str]], inline: bool, named: bool = False) -> str:
    """One rendering per image store, side by side; just one when they all agree.

    Blocks become Material content tabs labelled by store: with `content.tabs.link`,
    choosing a store in one tab set chooses it in every set of the page. A block whose
    renderings differ only in what differs from run to run (`run_to_run_masked`) is shown
    once, the first store's, with a note saying so. `named`: some store has no such figure,
    so even one figure says which store it is from.
    """
    places = [(where if isinstance(where, Where) else Where(where), text) for where, text in shown]
    texts = {text for _, text in places}
    if len(texts) == 1 and not named:
        return places[0][1]
    if inline:
        return " / ".join(f"{text} ({where.short()})" for where, text in places)
    if not named and len({run_to_run_masked(text) for text in texts}) == 1:
        return f'{places[0][1]}\n\n<p class="livedocs-alike">{html.escape(ALIKE_NOTE)}</p>'
    parts = []
    for where, text in places:
        body = "\n".join(f"    {line}" if line.strip() else "" for line in text.splitlines())
        parts.append(f'=== "{where.tab()}"\n\n{body}\n')
    return "\n".join(parts)


def size_chart(entries: Sequence[tuple[str, int]], title: str = "Image sizes") -> str:
    """A horizontal bar chart of image sizes as inline SVG, readable in both palettes."""
    chart_id = "chart-" + hashlib.sha256(repr(entries).encode()).hexdigest()[:8]  # unique per chart
    bar_height, gap, label_width, chart_width, value_width = 26, 12, 190, 420, 80
    top = 34
    height = top + len(entries) * (bar_height + gap)
    width = label_width + chart_width + value_width
    largest = max((size for _, size in entries), default=1) or 1
    parts = [
        (
            f'<svg class="livedocs-chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
            f'style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg" aria-labelledby="{chart_id}">'
        ),
        f'<title id="{chart_id}">{html.escape(title)}</title>',
        f'<text x="0" y="20" class="livedocs-chart-title">{html.escape(title)}</text>',
    ]
    for index, (tag, size) in enumerate(entries):
        y = top + index * (bar_height + gap)
        baseline = f"{y + bar_height * 0.7:.1f}"
        length = max(2.0, chart_width * size / largest)
        name, shown = html.escape(tag), human_size(size)
        parts += [
            f'<text x="{label_width - 10}" y="{baseline}" text-anchor="end" class="livedocs-chart-label">{name}</text>',
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" rx="3" '
            f'class="livedocs-chart-bar"><title>{name}: {shown} ({size:,} bytes)</title></rect>',
            f'<text x="{label_width + length + 8:.1f}" y="{baseline}" class="livedocs-chart-value">{shown}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def claim_mark(holds: bool, summary: str) -> str:
    """The discreet mark after a checked sentence; its tooltip says what was measured."""
    if holds:
        return f'<span class="livedocs-claim" title="{html.escape(summary)}">✓</span>'
    return f'<span class="livedocs-claim livedocs-false" title="{html.escape(summary)}">✗ {html.escape(summary)}</span>'


_HELD = re.compile(r'<span class="livedocs-claim" title="([^"]*)">✓</span>')
_HELD_RUN = re.compile(rf"{_HELD.pattern}(?:[ \t]*\n?[ \t]*{_HELD.pattern})+")


def merged_marks(markdown: str) -> str:
    """Marks of claims that hold and follow each other in one paragraph, made one mark whose
    tooltip lists every claim: one sentence checked by three claims carries one ✓."""

    def merge(run: re.Match[str]) -> str:
        titles = _HELD.findall(run.group(0))
        return f'<span class="livedocs-claim" title="{"&#10;".join(titles)}">✓</span>'

    return _HELD_RUN.sub(merge, markdown)


def claim_unchecked(summary: str) -> str:
    """The mark of a claim no store of this build could check (its figure exists on another store)."""
    return f'<span class="livedocs-claim livedocs-unchecked" title="{html.escape(summary)}">?</span>'


def measured_elsewhere(message: str, where: str) -> str:
    """A figure this build's store does not have, in place of the figure: which store has it."""
    return (
        f'<span class="livedocs-elsewhere" title="{html.escape(message)}">(measured on the {html.escape(where)})</span>'
    )


def problem_box(message: str, detail: str | None = None) -> str:
    """An error shown in the page (under `mkdocs serve`): a block, never a traceback."""
    body = f"<strong>livedocs:</strong> {html.escape(message)}"
    if detail:
        body += f"<pre>{html.escape(detail[-2000:])}</pre>"
    return f'<span class="livedocs-problem">{body}</span>'


def provenance_box(stores: Sequence[tuple[str, str | None, Sequence[tuple[str, Measurement]]]]) -> str:
    """An admonition saying where this page's figures come from, store by store."""
    if not any(entries for _, _, entries in stores):
        return ""
    warn = any(notice or _standins(entries) for _, notice, entries in stores)
    # Collapsed: the details are for a reader who compares with their own `docker version`.
    lines = [f'??? {"warning" if warn else "info"} "Engines, builder and base images"', ""]
    for store, notice, entries in stores:
        if not entries:
            continue
        if len(stores) > 1:
            lines += [f"    **{store_name(store).capitalize()}**", ""]
        lines += _provenance_lines(store, notice, entries)
        lines.append("")
    return "\n".join(lines).rstrip()


def known_version(version: str) -> bool:
    """Whether a version says something: not empty, not a build's placeholder (Debian's BuildKit
    reports `v0.0.0+unknown`)."""
    version = version.strip()
    return bool(version) and not re.fullmatch(r"v?0\.0\.0(\+unknown)?|unknown", version)


def engine_line(engine: EngineFacts, store: str) -> str:
    """An engine as a reader can compare it with their own `docker version` (and `docker info`):
    `Docker Engine 28.5.2, containerd image store, linux/amd64, BuildKit through buildx 0.29.1`.
    A version not known is not shown; where the engine answers (socket, host name) never is."""
    parts = ["Docker Engine" + (f" {engine.version}" if known_version(engine.version) else "")]
    parts.append(store_name(engine.store or store))
    if engine.platform:
        parts.append(engine.platform + (f" under QEMU emulation on {engine.emulated_on}" if engine.emulated_on else ""))
    if engine.builder == "buildkit":
        buildkit = "BuildKit" + (f" {engine.buildkit_version}" if known_version(engine.buildkit_version) else "")
        if known_version(engine.builder_version):
            buildkit += f" through buildx {engine.builder_version}"
        parts.append(buildkit)
    else:
        parts.append("the classic builder")
    return ", ".join(parts)


def _standins(entries: Sequence[tuple[str, Measurement]]) -> list[str]:
    return sorted({name for _, e in entries for name, base in e.base_images.items() if base.standin})


def _provenance_lines(store: str, notice: str | None, entries: Sequence[tuple[str, Measurement]]) -> list[str]:
    engines = {e.engine for _, e in entries if e.engine is not None}
    bases: dict[str, BaseImage] = {}
    for _, entry in entries:
        bases.update(entry.base_images)
    dates = sorted(e.measured_at for _, e in entries if e.measured_at)
    standins = _standins(entries)
    lines = []
    if notice:
        lines += [f"    **Recorded figures:** not measured in this build ({notice}).", ""]
    if standins:
        lines.append(
            "    **Measured on offline stand-ins** of "
            + ", ".join(f"`{s}`" for s in standins)
            + ": local images built from Debian's busybox and the official Go toolchain, because this"
            " build machine cannot reach a registry. The real images are larger (Alpine's base is"
            " about 7MB, the Go image about 220MB). This build checked the claims on this page on the"
            " stand-ins only; a build that can pull the official images checks them there."
        )
        lines.append("")
    # One line per distinct engine as a reader's `docker version` tells it (engines that differ
    # only in socket or host name, which the record keeps, read the same and are named once).
    lines += [f"    - **Engine:** {shown}" for shown in sorted({engine_line(e, store) for e in engines})]
    emulated = sorted({f"{e.platform} on {e.emulated_on}" for e in engines if e.emulated_on})
    if emulated:
        lines.append(
            f"    - **Emulated:** built for {', '.join(emulated)} with QEMU: sizes and image IDs are those"
            " of the platform; durations are the emulator's, several times what a machine of that"
            " platform takes"
        )
    for name, base in sorted(bases.items()):
        shown = f"`{name}`" + (f" (stand-in `{base.ref}`)" if base.standin else "")
        lines.append(f"    - **Base image** {shown}: `{short_id(base.id)}`")
    if dates:
        span = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        lines.append(f"    - **Measured:** {span}")
    lines.append(f"    - **Images:** {', '.join(f'`{tag}`' for tag, _ in entries)}")
    return lines


def stale_banner(folders: Sequence[str]) -> str:
    """The notice on a replayed page showing images whose examples changed since they were measured."""
    named = ", ".join(f"`{folder}`" for folder in folders)
    return (
        '!!! warning "Figures older than the examples"\n\n'
        f"    Some figures on this page were measured before {named} last changed; this build did\n"
        "    not measure them again. Build the site with a Docker engine to bring them up to date.\n\n"
    )


def replay_banner(notice: str) -> str:
    """The notice on every page whose figures were replayed rather than measured. The reason
    (`notice`: engine addresses, settings) goes to the log and the collapsed provenance box,
    not into the reader's text."""
    return (
        '!!! warning "Recorded figures"\n\n'
        "    Some or all of the figures on this page were not measured in this build: no Docker\n"
        "    engine answered for their image store. They are the ones recorded by the last build\n"
        "    that had one; the box at the end of the page says which.\n\n"
    )
