"""Edit-to-reload under `mkdocs serve` (the harness's server) on the listed engines: a prose
edit, then an example edit, a round each, and the engines' container events during the
prose edit."""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import docker

from macros.engine import LOCAL_SOCKET
from macros.settings import docker_environment
from scripts.benchmark.config import EXAMPLE_FILE, EXAMPLE_TEXT, PROSE_PAGE, PROSE_URL, SERVE_TIMEOUT, BenchError, say
from scripts.benchmark.samples import Samples
from scripts.benchmark.site import SiteCopy
from scripts.harness.mkdocs import MkdocsServer
from scripts.probes import container_events

# The end of a serve rebuild: the browsers are reloaded after every build that returns
# (mkdocs does not always log "Documentation built" for a rebuild), or the rebuild failed.
_REBUILT_LINE = re.compile(r"Reloading browsers|An error happened during the rebuild")


def page_text(markup: str) -> str:
    """A page's text: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


class Server(MkdocsServer):
    """`mkdocs serve` on the copy, live on its engines, its log in the copy's folder; it
    counts its rebuilds and waits for several conditions and for calm."""

    def __init__(self, copy: SiteCopy) -> None:
        super().__init__(copy.root, copy.env("live"), copy.workdir / "serve.log")

    def builds(self) -> int:
        """How many rebuilds the server has finished so far."""
        return len(_REBUILT_LINE.findall(self.log))

    def _building(self) -> bool:
        log = self.log
        ended = max((match.start() for match in _REBUILT_LINE.finditer(log)), default=-1)
        return log.rfind("Building documentation") > max(ended, log.rfind("Documentation built"))

    def wait_all(
        self,
        conditions: dict[str, Callable[[str | None], bool]],
        what: str,
        optional: tuple[str, ...] = (),
        quiet: float = 3.0,
    ) -> dict[str, float]:
        """Poll until every condition but the `optional` ones has held once and the server
        has been calm (no build running or finishing) for `quiet` seconds; the seconds
        until each condition first held.

        A condition is given the chapter's text as served now (None if it does not answer).
        An optional condition that has not held by then is missing from the answer. The
        wait for calm lets a second, no-op rebuild end: a live rebuild that changes a
        figure rewrites examples/measurements.json, which the server watches.
        """
        started = time.perf_counter()
        seen: dict[str, float] = {}
        state: tuple[int, bool] | None = None
        calm_since = started
        while True:
            if (code := self.exited()) is not None:
                tail = "\n".join(self.log.splitlines()[-25:])
                raise BenchError(f"mkdocs serve exited ({code}):\n{tail}")
            markup = self.page(PROSE_URL)
            text = page_text(markup) if markup is not None else None
            now = time.perf_counter()
            for name, holds in conditions.items():
                if name not in seen and holds(text):
                    seen[name] = now - started
            current = (self.builds(), self._building())
            if current != state or current[1]:
                state, calm_since = current, now
            if set(conditions) - set(optional) <= set(seen) and now - calm_since > quiet:
                return seen
            if now - started > SERVE_TIMEOUT:
                missing = ", ".join(sorted(set(conditions) - set(seen))) or "calm"
                raise BenchError(f"mkdocs serve: {what}: no {missing} within {SERVE_TIMEOUT:g}s")
            time.sleep(0.05)

    def errors_since(self, offset: int) -> list[str]:
        """The distinct ERROR lines the server logged after `offset` characters of its log."""
        lines = [line for line in self.log[offset:].splitlines() if line.startswith("ERROR")]
        return list(dict.fromkeys(line[:400] for line in lines))


@dataclass
class ServeDetails:
    """What the serve rounds saw besides their timings (the results' `details.serve`)."""

    container_events: list[str] = field(default_factory=list)
    example_edits_not_shown: list[list[str]] = field(default_factory=list)  # the serve log's errors, an edit each
    stopped: str = ""  # how the server ended
    rebuilds: int = 0  # after the first build


class ServeRounds:
    """The rounds of edits under one server; each appends its timings to `found`."""

    def __init__(self, copy: SiteCopy, server: Server, found: dict[str, Samples]) -> None:
        self.server = server
        self.found = found
        self.page_file = copy.root / PROSE_PAGE
        self.example_file = copy.root / EXAMPLE_FILE
        self.example_source = self.example_file.read_text(encoding="utf-8")
        if EXAMPLE_TEXT not in self.example_source:
            raise BenchError(f"{EXAMPLE_FILE} has no {EXAMPLE_TEXT!r} to edit")
        self.details = ServeDetails()
        # the engines the server measures on, for their container events
        self.clients = [
            docker.from_env(timeout=60, environment=docker_environment(host or LOCAL_SOCKET)) for host in copy.engines
        ]

    def prose_edit(self, nonce: str) -> None:
        """Append a sentence to the chapter; poll until the page shows it. The engines'
        container events from the edit until the server is calm again are counted."""
        server = self.server
        sentence = f"Benchmark sentence {nonce}."
        finished, since = server.builds(), time.time()
        with self.page_file.open("a", encoding="utf-8") as stream:
            stream.write(f"\n{sentence}\n")
        seen = server.wait_all(
            {
                "page": lambda text: text is not None and sentence in text,
                "log": lambda _: server.builds() > finished,
            },
            "the prose edit",
        )
        until = time.time()
        events = [event for client in self.clients for event in container_events(client, since, until)]
        self.found["serve_prose_edit"].values.append(seen["page"])
        self.found["serve_prose_container_events"].values.append(float(len(events)))
        self.details.container_events += events
        say(f"serve: prose edit shown in {seen['page']:.2f}s, {len(events)} container event(s)")

    def example_edit(self, nonce: str) -> None:
        """Change the handler's reply; poll until the page shows the new response body (the
        source on the page has `%s` where the reply has a path), or the rebuild ends without."""
        server = self.server
        marker = f"Bench reply {nonce}: "
        shown = re.compile(re.escape(marker) + r"[^%\"\\\n]*\n")
        finished, offset = server.builds(), len(server.log)
        edited = self.example_source.replace(EXAMPLE_TEXT, EXAMPLE_TEXT + marker, 1)
        self.example_file.write_text(edited, encoding="utf-8")
        seen = server.wait_all(
            {
                "page": lambda text: text is not None and shown.search(text) is not None,
                "log": lambda _: server.builds() > finished,
            },
            "the example edit",
            optional=("page",),
        )
        self.found["serve_example_edit_log"].values.append(seen["log"])
        if "page" in seen:
            self.found["serve_example_edit_page"].values.append(seen["page"])
            say(f"serve: example edit shown in {seen['page']:.2f}s (rebuild logged at {seen['log']:.2f}s)")
        else:
            # The rebuild ended without the new reply on the page: a problem box instead.
            self.details.example_edits_not_shown.append(server.errors_since(offset))
            say(f"serve: example edit rebuilt in {seen['log']:.2f}s, but the page never showed the new reply")

    def close(self) -> None:
        for client in self.clients:
            client.close()


def measure_serve(copy: SiteCopy, repeat: int, found: dict[str, Samples]) -> dict[str, Any]:
    """Edit-to-reload times under `mkdocs serve`, and the engines' container events during a prose edit.

    Each edit is timed from the write to the first poll of the page that shows it; the
    log's end of the rebuild is timed too.
    """
    server = Server(copy)
    rounds = ServeRounds(copy, server, found)
    say(f"mkdocs serve on 127.0.0.1:{server.port}")
    server.start()
    first = 0
    try:
        server.wait_all({"page": lambda text: text is not None and "Multi-stage" in text}, "the first build")
        first = server.builds()
        for number in range(repeat):
            nonce = f"{os.getpid()}x{number}x{int(time.time())}"
            rounds.prose_edit(nonce)
            rounds.example_edit(nonce)
    finally:
        rounds.details.stopped = server.stop()
        rounds.details.rebuilds = server.builds() - first
        rounds.close()
    return asdict(rounds.details)
