"""Spans of every public driver call, in process: names, attributes, bytes, errors and parentage."""

from __future__ import annotations

import io

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from registry_storage.driver import StorageDriver
from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import InvalidPathError, PathNotFoundError, UnsupportedMethodError


def _only(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [span for span in spans.get_finished_spans() if span.name == name]
    assert len(found) == 1, [span.name for span in spans.get_finished_spans()]
    return found[0]


def _attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def test_every_method_has_one_span_with_driver_and_path(spans: InMemorySpanExporter, inmemory: InMemoryDriver) -> None:
    inmemory.put_content("/a/b", b"hello")
    assert inmemory.get_content("/a/b") == b"hello"
    with inmemory.read_stream("/a/b", 1) as stream:
        assert stream.read() == b"ello"
    assert inmemory.write_stream("/a/c", 2, io.BytesIO(b"xyz")) == 3
    inmemory.stat("/a")
    inmemory.list("/a")
    assert len(list(inmemory.walk("/"))) == 3
    inmemory.move("/a/c", "/d")
    inmemory.delete("/d")
    with pytest.raises(UnsupportedMethodError):
        inmemory.url_for("/a/b")

    names = [span.name for span in spans.get_finished_spans()]
    assert names == [
        "registry_storage.put_content",
        "registry_storage.get_content",
        "registry_storage.read_stream",
        "registry_storage.write_stream",
        "registry_storage.stat",
        "registry_storage.list",
        "registry_storage.walk",
        "registry_storage.move",
        "registry_storage.delete",
        "registry_storage.url_for",
    ]
    for span in spans.get_finished_spans():
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "registry_storage"
        assert _attributes(span)["registry_storage.driver"] == "inmemory"
    assert _attributes(_only(spans, "registry_storage.put_content"))["registry_storage.path"] == "/a/b"
    assert _attributes(_only(spans, "registry_storage.stat"))["registry_storage.path"] == "/a"
    moved = _attributes(_only(spans, "registry_storage.move"))
    assert (moved["registry_storage.path"], moved["registry_storage.destination"]) == ("/a/c", "/d")


def test_bytes_and_offsets(spans: InMemorySpanExporter, inmemory: InMemoryDriver) -> None:
    inmemory.put_content("/f", b"0123456789")
    inmemory.get_content("/f")
    inmemory.write_stream("/f", 4, [b"ab", b"cde"])
    assert _attributes(_only(spans, "registry_storage.put_content"))["registry_storage.bytes"] == 10
    assert _attributes(_only(spans, "registry_storage.get_content"))["registry_storage.bytes"] == 10
    written = _attributes(_only(spans, "registry_storage.write_stream"))
    assert (written["registry_storage.offset"], written["registry_storage.bytes"]) == (4, 5)


def test_a_read_stream_span_lasts_until_close_and_counts_its_bytes(
    spans: InMemorySpanExporter, inmemory: InMemoryDriver
) -> None:
    inmemory.put_content("/f", bytes(range(100)))
    spans.clear()
    stream = inmemory.read_stream("/f", 10)
    assert spans.get_finished_spans() == ()
    assert stream.read(30) == bytes(range(10, 40))
    buffer = bytearray(100)
    assert stream.readinto(buffer) == 60
    stream.close()
    span = _only(spans, "registry_storage.read_stream")
    assert _attributes(span)["registry_storage.offset"] == 10
    assert _attributes(span)["registry_storage.bytes"] == 90
    stream.close()
    assert len(spans.get_finished_spans()) == 1


def test_a_walk_span_ends_with_the_iteration(spans: InMemorySpanExporter, inmemory: InMemoryDriver) -> None:
    for name in ("a", "b", "c"):
        inmemory.put_content(f"/d/{name}", b"x")
    spans.clear()
    entries = inmemory.walk("/d")
    assert spans.get_finished_spans() == ()
    assert [entry.path for entry in entries] == ["/d/a", "/d/b", "/d/c"]
    assert _attributes(_only(spans, "registry_storage.walk"))["registry_storage.entries"] == 3


def test_failures_set_the_status_and_the_error_type(spans: InMemorySpanExporter, inmemory: InMemoryDriver) -> None:
    with pytest.raises(PathNotFoundError):
        inmemory.get_content("/missing")
    with pytest.raises(InvalidPathError):
        inmemory.stat("relative")
    failed = spans.get_finished_spans()
    assert [span.status.status_code for span in failed] == [StatusCode.ERROR, StatusCode.ERROR]
    assert [_attributes(span)["error.type"] for span in failed] == ["PathNotFoundError", "InvalidPathError"]
    assert "/missing" in (failed[0].status.description or "")


def test_spans_of_a_call_are_children_of_the_callers_span(spans: InMemorySpanExporter) -> None:
    class Instrumented(InMemoryDriver):
        """A driver whose backend starts spans of its own, as boto3 or the Azure SDK do."""

        def _get_content(self, path: str) -> bytes:
            with trace.get_tracer("backend").start_as_current_span("backend.get"):
                return super()._get_content(path)

    driver = Instrumented()
    driver.put_content("/f", b"x")
    with trace.get_tracer("app").start_as_current_span("request") as request:
        driver.get_content("/f")
    call = _only(spans, "registry_storage.get_content")
    backend = _only(spans, "backend.get")
    assert call.parent is not None
    assert call.parent.span_id == request.get_span_context().span_id
    assert backend.parent is not None
    assert backend.parent.span_id == call.context.span_id
    assert {call.context.trace_id, backend.context.trace_id} == {request.get_span_context().trace_id}


def test_no_span_without_a_provider(inmemory: InMemoryDriver) -> None:
    from registry_storage.observability import tracing

    assert not tracing.provider_configured()
    assert tracing.start_span("registry_storage.stat", {}) is None
    inmemory.put_content("/f", b"x")
    with inmemory.read_stream("/f") as stream:
        assert stream.read() == b"x"


def test_the_base_class_observes_every_driver(spans: InMemorySpanExporter) -> None:
    """A driver gets its spans from the base class: it writes none itself."""
    assert "observe" not in InMemoryDriver.__dict__
    assert all(
        name in StorageDriver.__dict__
        for name in ("get_content", "put_content", "read_stream", "write_stream", "stat", "list", "walk")
    )
