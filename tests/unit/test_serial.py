"""Serial queues on shared threads: jobs of one queue run one at a time in submission order, also when the first is
claimed to run on the caller's own thread."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.host
    from host.serial import SerialQueue, Threads
else:
    from registry_storage.host.serial import SerialQueue, Threads

BOUND = 10.0


@pytest.fixture
def threads() -> Iterator[Threads]:
    pool = Threads("test-serial")
    yield pool
    pool.shutdown()


def test_submitted_jobs_run_one_at_a_time_in_order(threads: Threads) -> None:
    queue = SerialQueue(threads)
    seen: list[int] = []
    running = threading.Semaphore(1)
    done = threading.Event()

    def job(index: int) -> None:
        assert running.acquire(blocking=False), "two jobs of one queue ran at once"
        seen.append(index)
        running.release()
        if index == 99:
            done.set()

    for index in range(100):
        queue.submit(functools.partial(job, index))
    assert done.wait(BOUND)
    assert seen == list(range(100))


def test_an_idle_queue_hands_the_job_to_the_caller_and_later_jobs_wait_behind_it(threads: Threads) -> None:
    queue = SerialQueue(threads)
    seen: list[str] = []
    later_ran = threading.Event()

    def later() -> None:
        seen.append("later")
        later_ran.set()

    claimed = queue.submit_or_claim(lambda: seen.append("claimed"))
    assert claimed is not None
    assert queue.submit_or_claim(later) is None  # the queue is held: queued
    assert not later_ran.wait(0.2), "a job ran while the claimed one had not"
    claimed()
    assert later_ran.wait(BOUND)
    assert seen == ["claimed", "later"]
    again = queue.submit_or_claim(lambda: seen.append("again"))
    assert again is not None, "the queue is idle again once its jobs ran"
    again()
    assert seen == ["claimed", "later", "again"]


def test_a_busy_queue_queues_instead_of_handing_the_job_over(threads: Threads) -> None:
    queue = SerialQueue(threads)
    release = threading.Event()
    started = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(BOUND)

    queue.submit(slow)
    assert started.wait(BOUND)
    assert queue.submit_or_claim(finished.set) is None
    release.set()
    assert finished.wait(BOUND)
