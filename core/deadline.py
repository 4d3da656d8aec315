"""Wall-clock deadlines for outbound HTTP calls.

requests and urllib3 only bound each socket operation (connect, one read): a server that
sends one byte a second never trips a 5-second read timeout, and holds the caller as long as
it likes. urllib3's documentation names the remedy: "If your goal is to cut off any request
after a set amount of wall clock time, consider having a second 'watcher' thread to cut off a
slow request." This module is that watcher: one daemon thread that, at a call's deadline,
shuts down the sockets the call is using, which wakes the blocked read at once (it sees the
end of the stream); ``core.outbound`` then reports a timeout.

One thread for the process, not one timer per call: calls register a ``Watch`` (heap order)
and cancel it when they finish, so a call costs a heap push and a lock, not a thread start.

``ambient(seconds)`` opens a deadline that every call made inside it (same thread or task)
also respects: an action's pages, its token refresh and its retry share one budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ambient: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "outbound_deadline", default=None
)


@contextmanager
def ambient(seconds: float) -> Iterator[None]:
    """Every outbound call inside ends by ``seconds`` from now (or an outer deadline, if
    sooner)."""
    at = time.monotonic() + seconds
    outer = _ambient.get()
    token = _ambient.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _ambient.reset(token)


def deadline_for(seconds: float) -> float:
    """The monotonic time a call of at most ``seconds`` must end by (the ambient deadline
    included)."""
    at = time.monotonic() + seconds
    outer = _ambient.get()
    return at if outer is None else min(at, outer)


def shut(target: Any) -> None:
    """Shut a socket (or a connection's current ``sock``) down for reading and writing
    without touching its TLS state (``socket.socket.shutdown`` skips ``SSLSocket.shutdown``,
    which would reset the TLS object under a thread reading from it); a read blocked on it
    returns at once."""
    sock = target if isinstance(target, socket.socket) else getattr(target, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed, never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watch:
    """One call's deadline and what it uses: sockets, and connections (whose ``sock`` is read
    when the deadline fires: a connection being set up has none yet)."""

    __slots__ = ("at", "connections", "done", "fired", "order")

    def __init__(self, at: float, order: int) -> None:
        self.at = at
        self.order = order
        self.connections: list[Any] = []
        self.fired = False
        self.done = False

    def __lt__(self, other: Watch) -> bool:
        return (self.at, self.order) < (other.at, other.order)


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[Watch] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def start(self, at: float) -> Watch:
        watch = Watch(at, next(self._order))
        with self._cond:
            heapq.heappush(self._heap, watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="outbound-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is watch:
                self._cond.notify()
        return watch

    def add(self, watch: Watch, connection: Any) -> None:
        """``connection`` now carries ``watch``'s call (its ``sock`` is read when it fires)."""
        with self._cond:
            if watch.done:
                return
            if watch.fired:
                shut(connection)
            elif connection not in watch.connections:
                watch.connections.append(connection)

    def stop(self, watch: Watch) -> bool:
        """The call is over: nothing of it is shut down after this returns. Whether the
        deadline fired first."""
        with self._cond:
            watch.done = True
            watch.connections = []
            return watch.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                watch = heapq.heappop(self._heap)
                watch.fired = True
                for connection in watch.connections:
                    shut(connection)


watchdog = Watchdog()


def _after_fork() -> None:
    """A forked worker (gunicorn) starts with a fresh watchdog: the parent's thread and lock
    state do not survive the fork."""
    global watchdog
    watchdog = Watchdog()


os.register_at_fork(after_in_child=_after_fork)

_current = threading.local()


def current() -> Watch | None:
    """The watch of the call running in this thread, if any."""
    return getattr(_current, "watch", None)


@contextmanager
def watching(at: float) -> Iterator[Watch]:
    """Watch this thread's call until ``at``; the block's connections register themselves
    with ``watched(connection)``."""
    dog = watchdog
    watch = dog.start(at)
    _current.watch = watch
    try:
        yield watch
    finally:
        _current.watch = None
        dog.stop(watch)


def watched(connection: Any) -> None:
    """Put ``connection`` under the deadline of the call running in this thread."""
    watch = current()
    if watch is not None:
        watchdog.add(watch, connection)
