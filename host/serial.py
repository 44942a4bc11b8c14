"""Serial queues on shared threads: what lets every open stream run its requests in order without a thread of its own.

A stream's requests must run one at a time, in arrival order, and a slow stream must never hold up other streams
or other calls. A thread per stream gives both, but starting a thread costs about as much as a whole small request
(150 us of CPU here), and a small ranged read or write opens a stream each time. So streams share one
:class:`Threads` set instead: a thread is started only when none is idle, and kept for the next job. Each stream has
a :class:`SerialQueue` whose jobs run on one borrowed thread at a time; the thread goes back once the queue is empty.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

Job = Callable[[], None]

UNBOUNDED = 1 << 20
"""The thread count :class:`Threads` never reaches: a job never waits for another job to end before it starts, so a
stream blocked on flow control or a stuck backend cannot hold up another one (the streams themselves are bounded by
``max_streams``, and each needs at most two threads at once)."""


class Threads:
    """Runs each job at once on an idle thread of the set, or on a new one when none is idle; idle threads are kept.

    A job must not raise. :meth:`shutdown` stops idle threads; it does not wait for running jobs.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(UNBOUNDED, thread_name_prefix=name)

    def run(self, job: Job) -> None:
        """Start ``job`` now (never queued behind another job)."""
        self._executor.submit(job)

    def shutdown(self) -> None:
        """Let the idle threads end; jobs still running finish on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class SerialQueue:
    """Runs submitted jobs one at a time, in submission order, on a thread borrowed from ``threads``.

    The thread is borrowed when a job arrives at an empty queue and given back when the queue is empty again. A job
    must not raise.
    """

    __slots__ = ("_draining", "_jobs", "_lock", "_threads")

    def __init__(self, threads: Threads) -> None:
        self._threads = threads
        self._jobs: deque[Job] = deque()
        self._lock = threading.Lock()
        self._draining = False

    def submit(self, job: Job) -> None:
        """Queue ``job`` behind the jobs already submitted."""
        with self._lock:
            self._jobs.append(job)
            if self._draining:
                return
            self._draining = True
        self._threads.run(self._drain)

    def submit_or_claim(self, job: Job) -> Job | None:
        """Queue ``job`` as :meth:`submit` does, or, when the queue is idle, hold it for the caller and return the
        job for the caller to run on its own thread: jobs submitted meanwhile wait behind it, and run on a borrowed
        thread once it is done."""
        with self._lock:
            if self._draining:
                self._jobs.append(job)
                return None
            self._draining = True

        def claimed() -> None:
            try:
                job()
            finally:
                with self._lock:
                    self._draining = bool(self._jobs)
                    queued = self._draining
                if queued:
                    self._threads.run(self._drain)

        return claimed

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._draining = False
                    return
                job = self._jobs.popleft()
            job()


__all__ = ["SerialQueue", "Threads"]
