"""Metrics across the protocol: the child's own metrics in the parent's scrape, restarts and deadlines counted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from registry_storage.client import ProxyDriver, ProxyOptions
from registry_storage.errors import DeadlineExceededError, DriverExitedError, UnsupportedMethodError

FAKE_DRIVER = Path(__file__).parent.parent / "protocol" / "fake_driver.py"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def fake(tmp_path: Path) -> str:
    """An executable running the scriptable fake driver of the protocol tests (it has no ``metrics`` method)."""
    executable = tmp_path / "registry-storage-fake"
    executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_DRIVER}" "$@"\n', encoding="utf-8")
    executable.chmod(0o755)
    return str(executable)


def test_the_childs_metrics_join_the_parents_scrape() -> None:
    with ProxyDriver("registry-storage-inmemory", "inmemory") as proxy:
        assert proxy.session.info.can("metrics")
        proxy.put_content("/a", b"hello")
        for _ in range(3):
            proxy.stat("/a")
        proxy.get_content("/a")
        proxy.write_stream("/b", 0, [b"xy"])
        with proxy.read_stream("/b") as stream:
            stream.read()
        proxy.list("/")
        list(proxy.walk("/"))
        proxy.move("/b", "/c")
        proxy.delete("/c")
        with pytest.raises(UnsupportedMethodError):
            proxy.url_for("/a")
        text = proxy.driver_metrics()
        child = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        key = ("registry_storage_action_seconds_count", (("action", "stat"), ("driver", "inmemory")))
        assert child[key] == 3 + 1  # and the stat that sizes get_content before the host reads it
        for action in ("put_content", "get_content", "write_stream", "read_stream", "list", "walk", "move", "delete"):
            assert child[("registry_storage_action_seconds_count", (("action", action), ("driver", "inmemory")))] == 1
        written = ("registry_storage_bytes_total", (("direction", "written"), ("driver", "inmemory")))
        assert child[written] == 5 + 2
        unsupported = ("registry_storage_errors_total", (("driver", "inmemory"), ("error", "UnsupportedMethodError")))
        assert child[unsupported] == 1
        scraped = _value("registry_storage_action_seconds_count", driver="inmemory", action="stat", process="child")
        assert scraped == 3 + 1
    scraped_after = _value("registry_storage_action_seconds_count", driver="inmemory", action="stat", process="child")
    assert scraped_after == 0  # a closed proxy's child is no longer scraped


def test_a_driver_without_the_capability_reports_nothing(fake: str) -> None:
    with ProxyDriver(fake, "fake", options=ProxyOptions(stop_timeout=1.0)) as proxy:
        assert not proxy.session.info.can("metrics")
        assert proxy.driver_metrics() == ""


def test_calls_failed_by_deadline_are_counted(fake: str) -> None:
    options = ProxyOptions(timeout=0.3, stop_timeout=1.0)
    with (
        ProxyDriver(fake, "fake", {"name": "fake-deadline", "hang_in": "stat"}, options=options) as proxy,
        pytest.raises(DeadlineExceededError),
    ):
        proxy.stat("/a")
    assert _value("registry_storage_deadline_exceeded_total", driver="fake-deadline", action="stat") == 1
    assert _value("registry_storage_errors_total", driver="fake-deadline", error="DeadlineExceededError") == 1


def test_child_restarts_are_counted(fake: str) -> None:
    options = ProxyOptions(restart=True, stop_timeout=1.0)
    with ProxyDriver(fake, "fake", {"name": "fake-restart", "crash_in": "stat"}, options=options) as proxy:
        with pytest.raises(DriverExitedError):
            proxy.stat("/")
        proxy.put_content("/a", b"x")
    assert _value("registry_storage_driver_restarts_total", driver="fake-restart") == 1
