"""The project's own error types: each says what went wrong and where."""

from __future__ import annotations


class LivedocsError(Exception):
    """A mistake a user can make (a bad claim, a missing file, no engine, ...).

    `path` and `line` locate it (a page, a manifest, a Dockerfile); `detail` carries
    the engine's own output (a build log, a container's last lines) when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.detail = detail

    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}: " if self.line else f"{self.path}: "

    def __str__(self) -> str:
        return f"{self.where()}{self.message}"


class EngineUnavailable(LivedocsError):
    """No Docker engine answers where one is required."""


class BuildFailed(LivedocsError):
    """An example's build failed; `detail` holds the builder's error text."""


class RunFailed(LivedocsError):
    """A run check's container did not give the responses asked of it."""


class ClaimSyntaxError(LivedocsError):
    """A claim that does not parse; `column` (from 1) is where in the claim it goes wrong."""

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class RecordError(LivedocsError):
    """examples/measurements.json is unreadable or lacks a figure."""
