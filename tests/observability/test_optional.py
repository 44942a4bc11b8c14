"""Without opentelemetry-api and prometheus_client installed, everything works and nothing observes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

WITHOUT_LIBRARIES = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("opentelemetry", "prometheus_client"):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, Missing())

    from registry_storage.drivers.inmemory import InMemoryDriver
    from registry_storage.observability import metrics, tracing
    from registry_storage.observability.calls import OBSERVERS, Unobserved, observe

    assert not tracing.AVAILABLE and not metrics.AVAILABLE
    assert OBSERVERS.active is False
    assert type(observe("inmemory", "stat", path="/")) is Unobserved
    assert tracing.with_trace_context({"path": "/a"}) == {"path": "/a"}
    assert metrics.exposition() == ""
    driver = InMemoryDriver()
    driver.put_content("/a", b"hello")
    with driver.read_stream("/a", 1) as stream:
        assert type(stream).__name__ != "ObservedReadStream"
        assert stream.read() == b"ello"
    try:
        driver.get_content("/missing")
    except FileNotFoundError as error:
        assert error.driver == "inmemory"
    print("ok")
    """
)


def test_the_library_works_without_the_optional_libraries() -> None:
    command = [sys.executable, "-c", WITHOUT_LIBRARIES]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
