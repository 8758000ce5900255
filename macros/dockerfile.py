"""Just enough of the Dockerfile grammar: instructions, their lines, base images.

Used to rewrite `FROM` lines for offline stand-ins, to list an example's base images,
and to point a build error at the line of the instruction that failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CONTINUATION = re.compile(r"\\\s*$")
_FROM_FLAG = re.compile(r"--from=(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line of the instruction's first physical line
    keyword: str  # upper-case: FROM, RUN, COPY, ...
    arguments: str  # the rest, continuation lines joined


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions in order, comments and blank lines skipped."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if not pending:
            start = number
        if _CONTINUATION.search(raw):
            pending.append(_CONTINUATION.sub("", raw))
            continue
        pending.append(raw)
        joined = " ".join(part.strip() for part in pending)
        pending = []
        keyword, _, arguments = joined.partition(" ")
        result.append(Instruction(start, keyword.upper(), arguments.strip()))
    if pending:
        joined = " ".join(part.strip() for part in pending)
        keyword, _, arguments = joined.partition(" ")
        result.append(Instruction(start, keyword.upper(), arguments.strip()))
    return result


@dataclass(frozen=True)
class BaseReference:
    """A base image as the Dockerfile names it (FROM, COPY --from=<image>), and where."""

    line: int
    ref: str  # as written in the Dockerfile


def _from_parts(arguments: str) -> tuple[str, str | None]:
    """(image, stage name) of a FROM's arguments, flags such as --platform skipped."""
    words = [w for w in arguments.split() if not w.startswith("--")]
    image = words[0] if words else ""
    stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return image, stage


def base_images(text: str) -> list[BaseReference]:
    """Images the build starts from or copies from, stage names and `scratch` left out."""
    stages: set[str] = set()
    found: list[BaseReference] = []
    for step in instructions(text):
        if step.keyword == "FROM":
            image, stage = _from_parts(step.arguments)
            if image.lower() != "scratch" and image.lower() not in stages:
                found.append(BaseReference(step.line, image))
            if stage:
                stages.add(stage.lower())
        elif step.keyword == "COPY":
            match = _FROM_FLAG.search(step.arguments)
            if match:
                source = match.group(1)
                if not source.isdigit() and source.lower() not in stages and (":" in source or "/" in source):
                    found.append(BaseReference(step.line, source))
    return found


_BUILD_PLATFORM = re.compile(r"--platform=\$\{?BUILDPLATFORM\}?(?=\s)")


def rewrite_images(text: str, image_map: Mapping[str, str], build_map: Mapping[str, str] | None = None) -> str:
    """`text` with mapped image references replaced in FROM and COPY --from lines only.

    `build_map`, if given, maps the stages that run on the machine building
    (`FROM --platform=$BUILDPLATFORM`): a cross-compiling Dockerfile built for another
    platform takes those stages' images from the machine's own stand-ins.
    Lines keep their numbers, so an error from the engine points at the same line as
    the Dockerfile shown on the page.
    """
    if not image_map and not build_map:
        return text
    lines = text.splitlines(keepends=True)
    for step in instructions(text):
        index = step.line - 1
        line = lines[index]
        if step.keyword == "FROM":
            image, _ = _from_parts(step.arguments)
            mapping = build_map if build_map is not None and _BUILD_PLATFORM.search(step.arguments) else image_map
            if image in mapping:
                lines[index] = re.sub(
                    rf"(?<=\s){re.escape(image)}(?=\s|$)",
                    mapping[image],
                    line,
                    count=1,
                )
        elif step.keyword == "COPY":
            match = _FROM_FLAG.search(line)
            if match and match.group(1) in image_map:
                lines[index] = line.replace(match.group(0), f"--from={image_map[match.group(1)]}", 1)
    return "".join(lines)
