"""What the benchmark and the tests both run: child processes, throwaway engines, mkdocs.

Outside tests/, so that scripts/bench.py imports neither the tests nor pytest; the tests
import it as the bench does.

- `children`: a child process run to the end (wall-clock seconds, peak memory, output), or
  stopped signal by signal.
- `engines`: a dockerd of a given image store started on a folder of its own (socket, data
  root, exec root, pidfile, containerd namespaces, bridge) and removed without a trace.
- `mkdocs`: `mkdocs build` and `mkdocs serve` on a site folder with a given environment.
"""

from __future__ import annotations


class HarnessError(RuntimeError):
    """A child, an engine or a server of the harness did not come up or run as it should."""
