"""Throwaway engines: a dockerd of a given image store, started on a folder of its own and
removed without a trace.

Socket, data root, exec root, pidfile, daemon.json and log lie in one temporary folder;
the containerd namespaces and the bridge (on a private /24 of 10.213.0.0/16) are its own.
Never --bridge=none nor a bridge shared with another engine: either tears down the other
engine's bridge when this one starts or stops. iptables are left alone, and registry
traffic goes to a dead loopback proxy, as the engines scripts/engine.sh starts.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from scripts.harness import HarnessError
from scripts.probes import free_port, processes_naming

log = logging.getLogger("livedocs.harness")

# Each store's daemon.json, as scripts/engine.sh writes them.
ENGINE_CONFIG: dict[str, dict[str, Any]] = {
    "overlay2": {"storage-driver": "overlay2"},
    "containerd": {"features": {"containerd-snapshotter": True}},
}
# The bridges take /24s of 10.213.0.0/16: not Docker's default address pools (172.17-31,
# 192.168), nor what scripts/engine.sh uses.
BRIDGE_NET = "10.213"
ENGINE_WAIT = 120.0  # seconds a fresh dockerd may take to answer
DEAD_PROXY = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "localhost,127.0.0.1",
}

_numbers = itertools.count(1)


def unavailable() -> str | None:
    """Why throwaway engines cannot be started here, or None if they can."""
    if os.geteuid() != 0:
        return "starting throwaway engines needs root"
    missing = [tool for tool in ("dockerd", "containerd", "docker", "ip", "umount") if shutil.which(tool) is None]
    if missing:
        return f"not on PATH: {', '.join(missing)} (`make bench` puts /opt/livedocs/docker first)"
    return None


def free_subnets(count: int) -> list[str]:
    """Addresses for `count` bridges, each in a /24 of 10.213.0.0/16 that no address or route here is in."""
    used = "".join(
        subprocess.run(["ip", "-4", *args], capture_output=True, text=True, check=False).stdout
        for args in (["-o", "addr"], ["route"])
    )
    taken = {int(number) for number in re.findall(rf"(?<![\d.]){re.escape(BRIDGE_NET)}\.(\d+)\.", used)}
    start = os.getpid() % 250
    free = [number for step in range(250) if (number := (start + step) % 250 + 1) not in taken]
    if len(free) < count:
        raise HarnessError(f"no free /24 in {BRIDGE_NET}.0.0/16 for a throwaway engine's bridge")
    return [f"{BRIDGE_NET}.{number}.1/24" for number in free[:count]]


def mounts_under(folder: Path) -> list[str]:
    """The mount points at or below `folder`, deepest first."""
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) > 4:
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                if Path(point).is_relative_to(folder):
                    points.append(point)
    return sorted(points, key=len, reverse=True)


def store_of(info: dict[str, Any]) -> str:
    """The image store an engine's /info describes: containerd, else the graph driver."""
    if any("io.containerd.snapshotter.v1" in str(value) for _, value in info.get("DriverStatus") or []):
        return "containerd"
    return str(info.get("Driver", "?"))


class ThrowawayEngine:
    """A dockerd of its own with an empty data root: no images, no build cache.

    `start` makes the bridge and starts the dockerd, `wait` waits until it answers with the
    store asked for, `stop` removes every trace of it (what it cannot is listed in `left`).
    With `tcp`, it also listens on a free loopback port (`tcp_host`).
    """

    def __init__(self, store: str = "overlay2", subnet: str | None = None, *, tcp: bool = False) -> None:
        self.store = store
        self.subnet = subnet or free_subnets(1)[0]
        self.name = f"ldb{os.getpid() % 100000}n{next(_numbers)}"  # bridge and namespaces; <= 15 characters
        self.home = Path(tempfile.mkdtemp(prefix=f"livedocs-dockerd-{store}-")).resolve()
        self.host = f"unix://{self.home / 'docker.sock'}"
        self.tcp_host = f"tcp://127.0.0.1:{free_port()}" if tcp else None
        self.log_path = self.home / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.bridge = False  # whether the bridge was made (and so must go)
        self.left: list[str] = []  # what stopping it could not remove

    def start(self) -> None:
        """Make the bridge and start the dockerd (`wait` waits for it to answer)."""
        for args in (
            ["link", "add", "name", self.name, "type", "bridge"],
            ["addr", "add", self.subnet, "dev", self.name],
            ["link", "set", self.name, "up"],
        ):
            done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise HarnessError(f"ip {' '.join(args)}: {done.stderr.strip()}")
            self.bridge = True
        env = {**os.environ, **DEAD_PROXY, **{key.lower(): value for key, value in DEAD_PROXY.items()}}
        with open(self.log_path, "wb") as output:
            # A session of its own: a Ctrl-C in the terminal reaches the caller, which stops it.
            self.process = subprocess.Popen(
                self.command(), env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True
            )

    def command(self) -> list[str]:
        """The dockerd's command line (its daemon.json written)."""
        config = self.home / "daemon.json"
        config.write_text(json.dumps(ENGINE_CONFIG[self.store]) + "\n", encoding="utf-8")
        dockerd = shutil.which("dockerd") or "dockerd"
        command = [
            dockerd,
            f"--config-file={config}",
            f"--host={self.host}",
            *([f"--host={self.tcp_host}"] if self.tcp_host else []),
            f"--data-root={self.home / 'data'}",
            f"--exec-root={self.home / 'exec'}",
            f"--pidfile={self.home / 'dockerd.pid'}",
            f"--bridge={self.name}",
            f"--containerd-namespace={self.name}",
            f"--containerd-plugins-namespace={self.name}-plugins",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ]
        proxy = Path(dockerd).with_name("docker-proxy")
        if proxy.is_file():
            command.append(f"--userland-proxy-path={proxy}")
        return command

    def wait(self, timeout: float = ENGINE_WAIT) -> None:
        """Wait until the engine answers. HarnessError if it exits, stalls, or has another store."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while (info := self._info()) is None:
            if self.process.poll() is not None:
                raise HarnessError(
                    f"a throwaway {self.store} dockerd exited ({self.process.returncode}):\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise HarnessError(f"a throwaway {self.store} dockerd did not answer in {timeout:g}s:\n{self.log()}")
            time.sleep(0.25)
        if store_of(info) != self.store:
            raise HarnessError(f"the throwaway engine at {self.host} has the {store_of(info)} store, not {self.store}")

    def _info(self) -> dict[str, Any] | None:
        """The engine's /info (as `docker info` gives it, like scripts/engine.sh reads it), or
        None while it does not answer."""
        command = ["docker", "-H", self.host, "info", "--format", "{{json .}}"]
        with contextlib.suppress(subprocess.TimeoutExpired):
            done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
            with contextlib.suppress(ValueError):
                info = json.loads(done.stdout) if done.returncode == 0 else None
                return info if isinstance(info, dict) else None
        return None

    def log(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        """Stop the dockerd, then remove what it leaves: processes, mounts, folder, bridge.

        What cannot be removed is listed in `left`. The folder is removed only once nothing
        is mounted below it any more, so that no mount can lead the removal outside it.
        """
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # a frozen engine cannot stop
                os.killpg(self.process.pid, signal.SIGCONT)
            self.process.terminate()  # dockerd stops its containers, its containerd and its mounts
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Its containerd and shims, had the dockerd no time to stop them: in its session, or
        # (started in a session of their own) elsewhere, but naming its folder.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        for pid in processes_naming(str(self.home)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for point in mounts_under(self.home):
            if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        self.left = mounts_under(self.home)
        if not self.left:
            shutil.rmtree(self.home, ignore_errors=True)
        if self.home.exists():
            self.left.append(str(self.home))
        if self.bridge:
            subprocess.run(["ip", "link", "delete", self.name], capture_output=True, check=False)
            if subprocess.run(["ip", "link", "show", self.name], capture_output=True, check=False).returncode == 0:
                self.left.append(f"bridge {self.name}")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (then end the run as Ctrl-C does)."""
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _: caught.append(signum)) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt(f"signal {caught[0]}")


@contextlib.contextmanager
def started_engines(stores: Sequence[str]) -> Iterator[list[ThrowawayEngine]]:
    """Fresh engines, one per store in `stores` (in that order), answering; afterwards,
    whatever happened, stopped and removed (see each one's `left`)."""
    engines: list[ThrowawayEngine] = []
    try:
        for store, subnet in zip(stores, free_subnets(len(stores)), strict=True):
            engines.append(ThrowawayEngine(store, subnet))
            engines[-1].start()
        for engine in engines:
            engine.wait()
        yield engines
    finally:
        with signals_held():  # a second Ctrl-C does not leave an engine behind
            for engine in reversed(engines):
                engine.stop()
        left = [item for engine in engines for item in engine.left]
        if left:
            log.warning("could not remove all of the throwaway engines; left: %s", ", ".join(left))
