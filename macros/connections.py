"""One engine, a connection per thread: the docker SDK's client is not shared between threads."""

from __future__ import annotations

import threading

from .engine import Engine


class Connections:
    """The main thread's connection (the one that answered first), and one more per build thread."""

    def __init__(self, main: Engine, host: str | None, timeout: float) -> None:
        self.main = main
        self._host = host
        self._timeout = timeout
        self._all: list[Engine] = [main]
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def current(self) -> Engine:
        """This thread's connection, opened when it first needs one."""
        if threading.current_thread() is threading.main_thread():
            return self.main
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = Engine.connect(self._host, timeout=self._timeout)
            self._local.engine = engine
            with self._lock:
                self._all.append(engine)
        return engine

    def close(self) -> None:
        """Every connection (an interrupt, or the end of the build)."""
        with self._lock:
            engines, self._all = self._all, []
        for engine in engines:
            engine.close()

    def close_threads(self) -> None:
        """The build threads' connections: their threads are done, a rebuild opens new ones."""
        with self._lock:
            others = [e for e in self._all if e is not self.main]
            self._all = [self.main]
        for engine in others:
            engine.close()
