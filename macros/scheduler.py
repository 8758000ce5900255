"""In which order, and on how many threads, images are resolved.

Images of one example folder are resolved one after another by the same thread: they
share their first steps (same base, same sources), and built at the same time each
would miss the cache and compile the same code again. Different examples go in
parallel. An image declared `after:` another measures the layer cache that image left,
so those come last, in dependency order, one at a time, with nothing else building.

The threads are daemons and the main thread waits in short steps, so an interrupt
(SIGINT, SIGTERM) reaches it at once and never waits for a build to finish.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from .examples import ImageSpec


def with_afters(specs: Mapping[str, ImageSpec], tags: Iterable[str], done: Iterable[str] = ()) -> set[str]:
    """`tags` and every image they are built `after:`, unless already `done`."""
    finished = set(done)
    wanted = set(tags)
    for tag in list(wanted):
        after = specs[tag].after
        while after and after not in finished and after not in wanted:
            wanted.add(after)
            after = specs[after].after
    return wanted


def dependency_order(specs: Mapping[str, ImageSpec], tags: Iterable[str]) -> list[str]:
    """`tags` sorted so that an image comes after the one it is built `after:`."""
    wanted = set(tags)
    ordered: list[str] = []

    def visit(tag: str, trail: tuple[str, ...] = ()) -> None:
        if tag in ordered or tag not in wanted:
            return
        if tag in trail:
            raise specs[tag].error(f"after: forms a cycle: {' -> '.join((*trail, tag))}")
        after = specs[tag].after
        if after:
            visit(after, (*trail, tag))
        ordered.append(tag)

    for tag in sorted(wanted):
        visit(tag)
    return ordered


def together_groups(specs: Mapping[str, ImageSpec]) -> list[set[str]]:
    """The sets of images whose durations a claim compares (`together:`, either way, transitively)."""
    groups: list[set[str]] = []
    for tag, spec in sorted(specs.items()):
        if spec.together is None:
            continue
        linked = {tag, spec.together}
        touching = [group for group in groups if group & linked]
        for group in touching:
            groups.remove(group)
            linked |= group
        groups.append(linked)
    return groups


def run(
    specs: Mapping[str, ImageSpec],
    tags: Iterable[str],
    resolve: Callable[[str], None],
    workers: int,
    resolve_together: Callable[[list[str]], None] | None = None,
) -> None:
    """Resolve every tag: independent examples on up to `workers` threads, `after:` images last.

    `workers=0` resolves everything in the calling thread, one image after another: what a
    profiler that sees one thread wants (LIVEDOCS_WORKERS=0). A `together` group goes to
    `resolve_together` at once, in dependency order, when its last `after:` member's turn
    comes (every member's `after:` image is resolved by then), or, if none of its members is
    built `after:` another, once the independent images are resolved; its independent
    members are resolved among those first, and `resolve_together` gets them too (their
    timing rounds are the group's).
    """
    wanted = set(tags)
    independent = sorted(t for t in wanted if specs[t].after is None)
    groups: dict[str, list[str]] = {}
    for tag in independent:
        groups.setdefault(specs[tag].example, []).append(tag)
    (in_threads if workers > 0 else in_sequence)(sorted(groups.values(), key=len, reverse=True), resolve, workers)
    everything = dependency_order(specs, wanted)
    ordered = [tag for tag in everything if specs[tag].after is not None]
    together = [group & wanted for group in together_groups(specs)] if resolve_together else []
    together = [group for group in together if group]
    for group in together:
        if not group & set(ordered):  # no member built after another: its turn is now
            assert resolve_together is not None
            resolve_together([t for t in everything if t in group])
    for tag in ordered:
        group = next((g for g in together if tag in g), None)
        if group is None:
            resolve(tag)
        elif tag == [t for t in ordered if t in group][-1]:
            assert resolve_together is not None
            resolve_together([t for t in everything if t in group])


def in_threads(groups: list[list[str]], resolve: Callable[[str], None], workers: int) -> None:
    """Each group on one daemon thread at a time, up to `workers` at once; return when all are done."""
    work: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
    for group in groups:  # the longest first
        work.put(group)

    def worker() -> None:
        while True:
            try:
                group = work.get_nowait()
            except queue.Empty:
                return
            for tag in group:
                resolve(tag)

    threads = [
        threading.Thread(target=worker, name=f"livedocs-build-{n}", daemon=True)
        for n in range(min(workers, len(groups)))
    ]
    run_threads(threads)


def run_threads(threads: Sequence[threading.Thread]) -> None:
    """Start `threads` and return when all have ended; an interrupt is raised here at once."""
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short waits, so that SIGINT reaches the main thread at once


def in_sequence(groups: list[list[str]], resolve: Callable[[str], None], workers: int = 0) -> None:
    """The same work in the calling thread, one image after another."""
    for group in groups:
        for tag in group:
            resolve(tag)
