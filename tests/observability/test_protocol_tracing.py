"""The caller's trace crosses the protocol: the child's spans have the caller's trace id and span as parent."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from registry_storage.client import ProxyDriver, ProxyOptions
from registry_storage.errors import UnsupportedMethodError
from registry_storage.observability import tracing

TRACED_HOST = Path(__file__).with_name("traced_host.py")
EVERY_ACTION = (
    "put_content",
    "get_content",
    "write_stream",
    "read_stream",
    "list",
    "walk",
    "move",
    "delete",
    "url_for",
)


def _spans_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def traced_child(tmp_path: Path) -> tuple[Path, Path]:
    """The traced host as an executable, and the file its spans are written to."""
    executable = tmp_path / "registry-storage-traced"
    executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TRACED_HOST}" "$@"\n', encoding="utf-8")
    executable.chmod(0o755)
    return executable, tmp_path / "spans.jsonl"


def test_child_spans_are_children_of_the_callers_span(
    spans: InMemorySpanExporter, traced_child: tuple[Path, Path]
) -> None:
    executable, span_file = traced_child
    options = ProxyOptions(env={"TRACE_FILE": str(span_file)})
    with ProxyDriver(str(executable), "inmemory", options=options) as proxy:
        with trace.get_tracer("app").start_as_current_span("request") as request:
            proxy.put_content("/a/b", b"hello")
            assert proxy.get_content("/a/b") == b"hello"
            assert proxy.write_stream("/a/c", 0, io.BytesIO(b"streamed")) == 8
            with proxy.read_stream("/a/c") as stream:
                assert stream.read() == b"streamed"
            assert proxy.list("/a") == ["/a/b", "/a/c"]
            assert len(list(proxy.walk("/"))) == 3
            proxy.move("/a/c", "/d")
            proxy.delete("/d")
            with pytest.raises(UnsupportedMethodError):
                proxy.url_for("/a/b")
        untraced = proxy.stat("/a/b")
    assert untraced.size == 5
    trace_id = f"{request.get_span_context().trace_id:032x}"
    parent = {span.name: span for span in spans.get_finished_spans() if span.name.startswith("registry_storage.")}
    child = _spans_in(span_file)
    by_name = {span["name"]: span for span in child if span["trace_id"] == trace_id}
    for action in EVERY_ACTION:
        name = f"registry_storage.{action}"
        assert name in by_name, [span["name"] for span in child]
        assert by_name[name]["parent_id"] == f"{parent[name].context.span_id:016x}"
        assert by_name[name]["attributes"]["registry_storage.driver"] == "inmemory"
    assert by_name["backend.get_object"]["parent_id"] == by_name["registry_storage.get_content"]["span_id"]
    assert by_name["registry_storage.write_stream"]["attributes"]["registry_storage.bytes"] == 8
    assert by_name["registry_storage.read_stream"]["attributes"]["registry_storage.bytes"] == 8
    assert by_name["registry_storage.url_for"]["attributes"]["error.type"] == "UnsupportedMethodError"
    assert by_name["registry_storage.move"]["attributes"]["registry_storage.destination"] == "/d"
    # the host sizes a get_content with a stat before reading (bounded memory): that stat is in the caller's trace
    # under get_content; the stat called outside the request span has a trace of its own
    stat = [span for span in child if span["name"] == "registry_storage.stat"]
    assert len(stat) == 2
    sizing = next(span for span in stat if span["trace_id"] == trace_id)
    assert sizing["parent_id"] == by_name["registry_storage.get_content"]["parent_id"]
    untraced_stat = next(span for span in stat if span["trace_id"] != trace_id)
    assert untraced_stat["trace_id"] == f"{parent['registry_storage.stat'].context.trace_id:032x}"


def test_untraced_requests_carry_no_trace_context() -> None:
    assert not tracing.provider_configured()
    params = {"path": "/a"}
    assert tracing.with_trace_context(params) is params


def test_the_trace_context_member_is_w3c(spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("app").start_as_current_span("request") as request:
        params = tracing.with_trace_context({"path": "/a"})
    context = request.get_span_context()
    member = params[tracing.TRACE_CONTEXT_MEMBER]
    assert member["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert params["path"] == "/a"


@pytest.mark.parametrize(
    "carrier", [None, "00-bad", {"traceparent": 5}, {"traceparent": "not a trace parent"}, {"other": "x"}]
)
def test_a_malformed_trace_context_is_ignored(spans: InMemorySpanExporter, carrier: object) -> None:
    token = tracing.attach_remote({"jsonrpc": "2.0", "method": "stat", "params": {"trace_context": carrier}, "id": 1})
    try:
        assert not trace.get_current_span().get_span_context().is_valid
    finally:
        if token is not None:
            tracing.deactivate(token)


def test_the_driver_executable_exports_through_the_otel_environment(caplog: pytest.LogCaptureFixture) -> None:
    """``OTEL_TRACES_EXPORTER=console``: the child writes its spans to its stderr, which reaches the parent's log."""
    options = ProxyOptions(env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "storage-child"})
    with (
        caplog.at_level(logging.WARNING, logger="registry_storage.driver"),
        ProxyDriver("registry-storage-inmemory", "inmemory", options=options) as proxy,
    ):
        proxy.put_content("/a", b"x")
        proxy.stat("/a")
    text = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("registry_storage"))
    decoder = json.JSONDecoder()
    exported: list[dict[str, Any]] = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict) and "name" in value:
            exported.append(value)
        position = text.find("{", end)
    names = {span["name"] for span in exported}
    assert {"registry_storage.put_content", "registry_storage.stat"} <= names
    assert {span["resource"]["attributes"]["service.name"] for span in exported} == {"storage-child"}
