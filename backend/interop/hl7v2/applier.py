"""The applier: a process of its own that applies what a listener acknowledging
``stored`` messages stored.

Why a process: storing and acknowledging a message costs about as much CPU as applying
it, and both are Python under one interpreter lock, so in one process the feed is
applied at the speed of the two together. In a second process they run on two CPUs:
PostgreSQL lets the two write side by side; SQLite takes them in turn, commit by
commit, each doing its parsing and mapping before it takes the write lock (see
:class:`WriterLock`).

The listener counts what it stores and nudges it (a few bytes down a pipe) after every
group. It applies batches (:func:`~backend.interop.hl7v2.apply.apply_next`, oldest
first) of ``BATCH`` messages, or of what waits once the first of them waited
``GATHER`` seconds: a batch costs one transaction and one matcher pass however many it
holds, so taking each group as it came (two messages, under load) cost 3.4 ms of CPU a
message against about 1.2. With nothing waiting it looks anyway every ``IDLE_WAIT``
seconds (what another process stored). It counts what it applied so the listener can
hold back a sender that runs far ahead.
Asked to stop, it applies everything stored, then ends; it also ends, after applying
the rest, when the listener is gone (killed). If it dies, the listener starts another
at the next nudge; what is stored stays stored meanwhile, and nothing acknowledged is
lost.

Nothing here deadlocks if either process is killed at any moment: no lock or condition
is shared that a dead process could leave held (multiprocessing's Event and Lock can,
and did in a test killing the applier). The counts have no lock, having one writer
each; the SQLite lock is an ``flock``, which the kernel releases with its holder.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from backend.db import is_sqlite, make_engine
from backend.interop.hl7v2.apply import apply_next

logger = logging.getLogger(__name__)

IDLE_WAIT = 1.0
"""Seconds the applier waits for a nudge before it looks for stored messages anyway."""
RETRY_AFTER = 1.0
"""Seconds before trying again when a batch could not be applied (the database gone)."""
READY_WAIT = 300.0
"""Seconds a listener's start waits for the applier to apply what an earlier run left
(a crash leaves at most a thousand or so: a few seconds)."""
STOP_WAIT = 600.0
"""Seconds a stop waits for the applier to apply what is left (about 100,000 messages)."""
READY_POLL = 0.05
STOP = b"stop"
BATCH = 50
"""Messages the applier waits for before it applies (at most ``GATHER`` seconds)."""
GATHER = 0.05
"""Seconds the first message stored waits for a batch to fill: a trickle is applied
50 ms after it arrives, a feed in batches (the old in-process writer waited as long
for the feed to pause)."""


class WriterLock:
    """An exclusive ``flock`` on a file beside a SQLite database, held by whichever of
    the listener and its applier writes, from taking SQLite's write lock to the commit.

    SQLite makes a writer that finds the database locked sleep and look again (1, 2,
    5, 10 ... 100 ms) until it is free, so the two handed the lock over with sleeps:
    measured, the listener slept 2.7 ms per message waiting. A process waiting on this
    lock is woken as soon as the other lets go instead. (Other processes, the web app,
    still go by SQLite's own waiting.) Each process opens the file itself."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def writer_lock_path(url: str) -> str | None:
    """Where the :class:`WriterLock` of a SQLite database lives; None for a server
    database, whose rows are locked one by one. An in-memory SQLite database cannot be
    shared with another process at all."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise ValueError("acknowledging stored messages needs a database file or server")
    return f"{database}.hl7-writer.lock"


@dataclass(frozen=True)
class Shared:
    """What the listener hands its applier process when it starts it."""

    nudges: Connection  # the reading end: any message wakes it, STOP ends it
    ready: ctypes.c_bool  # set once it applied what an earlier run left
    stored: ctypes.c_int64  # messages the listener stored to be applied (its one writer)
    applied: ctypes.c_int64  # how many of those the applier is past (its one writer)
    lock_path: str | None  # its WriterLock, on SQLite


def _apply(
    engine: Engine,
    secret_key: str,
    shared: Shared,
    writing: WriterLock | None,
    *,
    every: bool,
) -> int | None:
    """Apply a batch, or with ``every`` batches until nothing is left; how many were
    applied, None if a batch failed (its messages stay stored for the next try).

    A batch that comes back short took every stored message there was, so the applier
    is past everything the listener had counted before it looked (the listener counts
    a message once its commit is done): ``applied`` is set to that count, not just
    added to. What the count cannot see (what an earlier run or a restarted applier
    left, a retry's) then costs no drift: a stale count would make the applier look
    for a batch every ``GATHER`` seconds for ever, and hold the sender back early."""
    total = 0
    while True:
        counted = shared.stored.value
        try:
            count = apply_next(engine, secret_key=secret_key, limit=BATCH, writing=writing)
        except Exception as exc:
            # Only the type: exception text can quote SQL parameters, i.e. patient data.
            logger.error("hl7 stored messages not applied: %s", type(exc).__name__)
            return None
        total += count
        shared.applied.value = shared.applied.value + count if count == BATCH else counted
        if not (every and count):
            return total


def _nudged(nudges: Connection, timeout: float) -> tuple[bool, bool]:
    """(woken, asked to stop): wait up to ``timeout`` for a nudge, then take them all."""
    woken = stop = False
    try:
        while nudges.poll(timeout):
            woken, timeout = True, 0
            stop = nudges.recv_bytes() == STOP or stop
    except EOFError:  # the listener is gone (killed): apply the rest and end
        return True, True
    return woken, stop


def _wait_for_batch(shared: Shared) -> bool:
    """Wait until a batch is due (``BATCH`` waiting, or the first waited ``GATHER``), or
    ``IDLE_WAIT`` with nothing waiting; True when asked to stop."""
    since: float | None = None
    woken = False
    while True:
        waiting = shared.stored.value - shared.applied.value
        now = time.monotonic()
        if waiting >= BATCH:
            return False
        if waiting > 0 or woken:  # a nudge says so too (a retry's message is not counted)
            since = since if since is not None else now
            timeout = since + GATHER - now
            if timeout <= 0:
                return False
        else:
            timeout = IDLE_WAIT
        nudged, stop = _nudged(shared.nudges, timeout)
        if stop:
            return True
        if not (nudged or woken):
            return _orphaned()  # nothing for a while: look anyway (or end, orphaned)
        woken = woken or nudged


def serve(url: str, secret_key: str, shared: Shared) -> None:
    """The applier process: apply what an earlier run left, say so, then apply batches
    as they are due, until asked to stop (then apply the rest)."""
    # Ctrl-C reaches the whole process group; the listener stops the applier itself,
    # once the messages in flight are stored, so the last of them are applied too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = make_engine(url)
    writing = WriterLock(shared.lock_path) if shared.lock_path else None
    # What the imports built lives as long as the process: out of the collector's way,
    # its full collections walked about 234,000 objects a few times a batch (0.6 ms of
    # CPU a message, 0.1 after).
    gc.collect()
    gc.freeze()
    try:
        left = _apply(engine, secret_key, shared, writing, every=True)
        if left:
            logger.info("hl7: applied %d messages stored by a previous run", left)
        shared.ready.value = True
        while True:
            stop = _wait_for_batch(shared)
            if _apply(engine, secret_key, shared, writing, every=stop) is None:
                if stop:
                    return  # left stored: the next start applies it
                time.sleep(RETRY_AFTER)
            elif stop:
                return
    finally:
        shared.ready.value = True  # a listener waiting for it need not wait on
        if writing is not None:
            writing.close()
        engine.dispose()


def _orphaned() -> bool:
    parent = multiprocessing.parent_process()
    return parent is not None and not parent.is_alive()


@dataclass
class Applier:
    """The listener's handle on the applier process."""

    url: str
    secret_key: str
    _context: SpawnContext = field(default_factory=lambda: multiprocessing.get_context("spawn"))
    _process: SpawnProcess | None = None
    _nudges: Connection | None = None  # the writing end of the current process's pipe
    _ready: ctypes.c_bool | None = None
    _stored: ctypes.c_int64 = field(init=False)
    _applied: ctypes.c_int64 = field(init=False)
    writing: WriterLock | None = field(init=False)
    """The listener's side of the :class:`WriterLock`, on SQLite."""

    def __post_init__(self) -> None:
        path = writer_lock_path(self.url)
        self.writing = WriterLock(path) if path else None
        self._stored = self._context.RawValue(ctypes.c_int64, 0)
        self._applied = self._context.RawValue(ctypes.c_int64, 0)

    @property
    def waiting(self) -> int:
        """Messages stored and not applied yet, as far as the counts know (exact again
        each time the applier finds nothing more waiting)."""
        return max(int(self._stored.value - self._applied.value), 0)

    def start(self) -> None:
        """Start the process; it first applies what an earlier run left stored."""
        if self._nudges is not None:
            self._nudges.close()  # an earlier process's pipe
        reading, self._nudges = self._context.Pipe(duplex=False)
        self._ready = self._context.RawValue(ctypes.c_bool, False)
        lock_path = self.writing.path if self.writing is not None else None
        shared = Shared(reading, self._ready, self._stored, self._applied, lock_path)
        self._process = self._context.Process(
            target=serve, args=(self.url, self.secret_key, shared), name="hl7-applier", daemon=True
        )
        self._process.start()
        reading.close()  # the process has its own copy: when it ends, sends fail at once

    def wait_ready(self, timeout: float = READY_WAIT) -> bool:
        """Wait until the process has applied what an earlier run left (blocks)."""
        deadline = time.monotonic() + timeout
        assert self._ready is not None
        assert self._process is not None
        while not self._ready.value:
            if not self._process.is_alive() or time.monotonic() > deadline:
                return False
            time.sleep(READY_POLL)
        return True

    def nudge(self, stored: int) -> None:
        """``stored`` messages were stored: apply them (starting a new process if it
        died)."""
        self._stored.value += stored
        self._send(b"")

    def _send(self, message: bytes) -> None:
        """Wake the process (starting a new one if it died).

        A nudge is 4 bytes in the pipe; the process takes them all each round, and the
        listener stores at most ``MAX_WAITING`` messages ahead of it, so the pipe (64 KB)
        never fills and sending never blocks the listener's event loop."""
        if self._process is None or not self._process.is_alive():
            if self._process is not None:
                logger.error(
                    "hl7 applier ended (exit code %s); starting another", self._process.exitcode
                )
            self.start()
        assert self._nudges is not None
        try:
            self._nudges.send_bytes(message)
        except (BrokenPipeError, ConnectionResetError):
            # It died just now: the next nudge starts another (what is stored waits).
            logger.error("hl7 applier ended; the next message stored starts another")

    def stop(self, timeout: float = STOP_WAIT) -> None:
        """Apply everything stored, then end the process (blocks: call in a thread)."""
        if self._process is None:
            return
        if self._process.is_alive():
            self._send(STOP)
            self._process.join(timeout)
        if self._process.is_alive():  # still applying after the wait: stored, not lost
            logger.error("hl7 applier still busy at stop; the next start applies the rest")
            self._process.kill()
            self._process.join()
        self._process = None
        if self._nudges is not None:
            self._nudges.close()
            self._nudges = None
        if self.writing is not None:
            self.writing.close()
