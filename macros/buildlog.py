"""What the classic builder prints, read as it streams: its steps, cache hits and images.

Pure parsing, no engine: the engine layer feeds it the build's output, the measuring
reads the steps, and an interrupt's clean-up reads which images and containers the
build had made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LAYER = re.compile(r"^---> [0-9a-f]{12}$")
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


@dataclass
class BuildLog:
    """What the classic builder said: its lines and the steps it ran."""

    lines: list[str] = field(default_factory=list)
    steps: list[tuple[int, str, bool]] = field(default_factory=list)  # (number, text, from cache)
    created: list[str] = field(default_factory=list)  # images this build made, not taken from the cache
    stages: list[str | None] = field(default_factory=list)  # each stage's last image (None: FROM only)
    containers: list[str] = field(default_factory=list)  # the builder's step containers ("Running in")

    def add(self, chunk: str) -> None:
        for raw in _ANSI.sub("", chunk).splitlines():
            line = raw.rstrip()
            if not line:
                continue
            self.lines.append(line)
            match = _STEP.match(line)
            if match:
                self.steps.append((int(match.group(1)), match.group(3), False))
                if match.group(3).upper().startswith("FROM "):
                    self.stages.append(None)
            elif line.strip().startswith("---> Running in "):
                self.containers.append(line.strip().removeprefix("---> Running in "))
            elif line.strip() == "---> Using cache" and self.steps:
                number, text, _ = self.steps[-1]
                self.steps[-1] = (number, text, True)
            elif self.steps and _LAYER.match(line.strip()):
                number, text, cached = self.steps[-1]
                if not text.upper().startswith("FROM "):
                    layer = line.strip().removeprefix("---> ")
                    if self.stages:
                        self.stages[-1] = layer
                    if not cached:
                        self.created.append(layer)

    def failing_output(self, error: str, limit: int = 15) -> str:
        """What the failing step printed (its last lines), then the builder's error."""
        start = max((i for i, line in enumerate(self.lines) if _STEP.match(line)), default=-1) + 1
        output = [
            line
            for line in self.lines[start:]
            if not line.strip().startswith(("---> ", "Removing intermediate container")) and line != error
        ]
        return "\n".join([*output[-limit:], error])

    @property
    def last_step(self) -> int | None:
        return self.steps[-1][0] if self.steps else None
