"""Child processes: run one to the end and measure it, or stop one signal by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RUN_TIMEOUT = 3600.0


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: wall-clock seconds, peak memory, exit code, output."""

    seconds: float
    max_rss_mb: float
    code: int
    output: str  # stdout and stderr as they came, interleaved

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_child(command: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = RUN_TIMEOUT) -> ChildRun:
    """Run `command` to the end; its wall-clock time and its own max RSS (from wait4).

    Past `timeout` it is killed. Interrupted, the child is stopped too: SIGTERM (a site
    build ends cleanly), then SIGKILL.
    """
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            stop_child(process, (signal.SIGTERM,))
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    # Linux reports ru_maxrss in kilobytes.
    return ChildRun(seconds, usage.ru_maxrss / 1024, process.returncode, output)


def stop_child(process: subprocess.Popen[bytes], signals: tuple[signal.Signals, ...], grace: float = 20.0) -> str:
    """Send each signal in turn until the process ends, then SIGKILL; how it ended."""
    if process.poll() is not None:
        return "not running"
    for sig in signals:
        process.send_signal(sig)
        try:
            process.wait(grace)
            return f"stopped by {sig.name} (exit {process.returncode})"
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()
    return "killed"
