"""Fixtures for the observability tests: an in-memory span exporter behind the global tracer provider.

The OpenTelemetry API lets a process set its global tracer provider once; these fixtures reset it afterwards the
way OpenTelemetry's own test utilities do, so the tests after them run untraced again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from registry_storage.drivers.filesystem import FilesystemDriver
from registry_storage.drivers.inmemory import InMemoryDriver


def _reset_global_provider() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The exporter every span of the test ends in, with a global SDK provider set for the test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_global_provider()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        _reset_global_provider()


@pytest.fixture
def inmemory() -> InMemoryDriver:
    return InMemoryDriver()


@pytest.fixture
def filesystem(tmp_path: Path) -> FilesystemDriver:
    return FilesystemDriver(str(tmp_path / "store"))
