"""A driver executable for the cross-process tracing test: the in-memory driver served with the OpenTelemetry SDK.

Run as ``python traced_host.py '<json parameters>'`` with ``TRACE_FILE`` naming the file every finished span is
appended to, one JSON object a line. Its driver starts a span of its own inside ``get_content``, as a backend SDK
(boto3, Azure) would, so the test can see a backend span join the caller's trace.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.host import serve
from registry_storage.host.lifecycle import configure_logging, terminate


class FileExporter(SpanExporter):
    """Appends each span as one JSON line: name, trace id, span id and parent span id (hex), attributes."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            context = span.get_span_context()
            assert context is not None
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "trace_id": f"{context.trace_id:032x}",
                        "span_id": f"{context.span_id:016x}",
                        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                        "attributes": dict(span.attributes or {}),
                    }
                )
            )
        with self._lock, open(self._path, "a", encoding="utf-8") as output:
            output.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS


class BackendTracedDriver(InMemoryDriver):
    """The in-memory driver, with a backend span inside get_content."""

    def _get_content(self, path: str) -> bytes:
        with trace.get_tracer("backend").start_as_current_span("backend.get_object"):
            return super()._get_content(path)


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileExporter(os.environ["TRACE_FILE"])))
    trace.set_tracer_provider(provider)
    configure_logging()
    terminate(serve(BackendTracedDriver()))


if __name__ == "__main__":
    main()
