"""Prometheus metrics of every driver call, read back from prometheus_client's default registry."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY, generate_latest

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.observability import metrics


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class _Driver(InMemoryDriver):
    """An in-memory driver under a name of its own, so this test's counts start at zero."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def test_every_action_is_timed_under_the_registrys_name() -> None:
    driver = _Driver("metrics-actions")
    driver.put_content("/a", b"hello")
    driver.get_content("/a")
    driver.get_content("/a")
    driver.stat("/a")
    with driver.read_stream("/a") as stream:
        stream.read()
    list(driver.walk("/"))
    assert _value("registry_storage_action_seconds_count", driver="metrics-actions", action="get_content") == 2
    for action in ("put_content", "stat", "read_stream", "walk"):
        assert _value("registry_storage_action_seconds_count", driver="metrics-actions", action=action) == 1
    assert _value("registry_storage_action_seconds_sum", driver="metrics-actions", action="stat") > 0


def test_bytes_read_and_written() -> None:
    driver = _Driver("metrics-bytes")
    driver.put_content("/a", b"12345")
    driver.write_stream("/a", 5, [b"678"])
    driver.get_content("/a")
    with driver.read_stream("/a", 6) as stream:
        stream.read()
    assert _value("registry_storage_bytes_total", driver="metrics-bytes", direction="written") == 8
    assert _value("registry_storage_bytes_total", driver="metrics-bytes", direction="read") == 8 + 2


def test_errors_by_type_and_nothing_left_in_flight() -> None:
    driver = _Driver("metrics-errors")
    for _ in range(3):
        with pytest.raises(PathNotFoundError):
            driver.get_content("/missing")
    assert _value("registry_storage_errors_total", driver="metrics-errors", error="PathNotFoundError") == 3
    assert _value("registry_storage_calls_in_flight", driver="metrics-errors") == 0


def test_calls_in_flight_while_a_call_runs() -> None:
    seen: list[float] = []

    class Watching(_Driver):
        def _stat(self, path: str):  # type: ignore[no-untyped-def]
            seen.append(_value("registry_storage_calls_in_flight", driver="metrics-in-flight"))
            return super()._stat(path)

    Watching("metrics-in-flight").stat("/")
    assert seen == [1]
    assert _value("registry_storage_calls_in_flight", driver="metrics-in-flight") == 0


def test_calls_in_flight_from_many_threads_at_once() -> None:
    threads = 8
    inside = threading.Barrier(threads + 1)
    leave = threading.Event()

    class Blocking(_Driver):
        def _stat(self, path: str):  # type: ignore[no-untyped-def]
            inside.wait(10)
            leave.wait(10)
            return super()._stat(path)

    driver = Blocking("metrics-many")
    for _ in range(200):  # calls that came and went leave nothing behind
        _Driver("metrics-many").stat("/")
    workers = [threading.Thread(target=driver.stat, args=("/",)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    inside.wait(10)
    assert _value("registry_storage_calls_in_flight", driver="metrics-many") == threads
    leave.set()
    for worker in workers:
        worker.join(10)
    assert _value("registry_storage_calls_in_flight", driver="metrics-many") == 0


def test_no_label_carries_a_path() -> None:
    driver = _Driver("metrics-paths")
    driver.put_content("/secret-repository/blob", b"x")
    text = generate_latest(REGISTRY).decode()
    assert "registry_storage_action_seconds" in text
    assert "secret-repository" not in text


def test_disabled_metrics_stay_unchanged() -> None:
    driver = _Driver("metrics-disabled")
    metrics.disable()
    try:
        driver.stat("/")
    finally:
        metrics.enable()
    assert _value("registry_storage_action_seconds_count", driver="metrics-disabled", action="stat") == 0
    driver.stat("/")
    assert _value("registry_storage_action_seconds_count", driver="metrics-disabled", action="stat") == 1


def test_restarts_are_counted() -> None:
    metrics.count_restart("metrics-restarts")
    assert _value("registry_storage_driver_restarts_total", driver="metrics-restarts") == 1
