"""One long-lived thread that starts every driver process.

Linux delivers a child's parent-death signal when the *thread* that forked it exits, not the process. A driver
started from a short-lived worker thread would be killed as soon as that thread ended, so every child is forked
from this daemon thread, which lives as long as the process.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _serve() -> None:
    while True:
        job, future = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(job())
        except BaseException as error:  # handed to the caller, which re-raises it
            future.set_exception(error)


def run_in_spawner(job: Callable[[], T]) -> T:
    """Run ``job`` (typically a ``subprocess.Popen``) on the spawner thread and return its result or raise its error."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="registry-storage-spawner", daemon=True)
            _thread.start()
    future: Future[T] = Future()
    _jobs.put((job, future))
    return future.result()
