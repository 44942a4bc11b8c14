"""OpenTelemetry spans for driver calls, and the W3C trace context carried over the protocol.

The library uses only the OpenTelemetry API (the ``[otel]`` extra): spans come from the tracer ``registry_storage``
of the global tracer provider, which the application configures. Without the API installed, or while no provider is
configured, :func:`start_span` answers None and nothing else happens. The one exception is the driver executable:
:func:`configure_from_environment` sets up the SDK there (when installed) from the standard ``OTEL_*`` variables, so
a child process exports its spans like any OpenTelemetry program.

Over the protocol the context travels as the optional params member ``trace_context`` (protocol.md section 4): an
object of W3C Trace Context headers (``traceparent``, ``tracestate``, and whatever else the configured propagators
write, such as ``baggage``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from importlib import metadata
from typing import Any

try:
    from opentelemetry import context as _context
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # the [otel] extra is not installed
    AVAILABLE = False
else:
    AVAILABLE = True

TRACER_NAME = "registry_storage"
"""The instrumentation scope of every span this library starts."""

TRACE_CONTEXT_MEMBER = "trace_context"
"""The params member that carries the caller's W3C trace context to the driver (protocol.md section 4)."""

_EXPORTER_GROUP = "opentelemetry_traces_exporter"
_logger = logging.getLogger("registry_storage.observability")
_provider_shutdown: Any = None

if AVAILABLE:
    if hasattr(_trace, "_TRACER_PROVIDER"):

        def _global_provider() -> Any:
            """The global tracer provider once the application set one, else None (a module attribute read)."""
            return _trace._TRACER_PROVIDER

        if os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
            _trace.get_tracer_provider()  # loads the provider the environment names, as the API does on first use
    else:  # pragma: no cover - an API without the module attribute: ask it (slower, same answer)

        def _global_provider() -> Any:
            """The global tracer provider once the application set one, else None."""
            provider = _trace.get_tracer_provider()
            return None if isinstance(provider, _trace.ProxyTracerProvider) else provider

else:

    def _global_provider() -> Any:
        return None


_tracer_of: tuple[Any, Any] = (None, None)
"""The provider the cached tracer came from, and that tracer."""


def provider_configured() -> bool:
    """True once the application has set a global tracer provider (always False without the API)."""
    return _global_provider() is not None


def start_span(name: str, attributes: Mapping[str, Any]) -> Any:
    """Start span ``name`` with ``attributes`` from the ``registry_storage`` tracer, or None while nothing traces.

    The span is not made current; :func:`activate` does that.
    """
    global _tracer_of
    provider = _global_provider()
    if provider is None:
        return None
    cached, tracer = _tracer_of
    if cached is not provider:
        tracer = provider.get_tracer(TRACER_NAME)
        _tracer_of = (provider, tracer)
    span = tracer.start_span(name, attributes=dict(attributes))
    return span if span.is_recording() else _end(span)


def _end(span: Any) -> None:
    span.end()


def activate(span: Any) -> object:
    """Make ``span`` the current span of this thread's context; returns the token :func:`deactivate` takes."""
    return _context.attach(_trace.set_span_in_context(span))


def deactivate(token: object) -> None:
    """Restore the context that was current before :func:`activate` (or :func:`attach_remote`) returned ``token``."""
    _context.detach(token)  # type: ignore[arg-type]


def fail(span: Any, error: BaseException) -> None:
    """Mark ``span`` failed by ``error``: its type in ``error.type``, the span's status ERROR."""
    fail_as(span, type(error).__name__, str(error))


def fail_as(span: Any, error_type: str, message: str) -> None:
    """Mark ``span`` failed by an error of type ``error_type`` saying ``message``."""
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message))


def with_trace_context(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """``params`` plus the ``trace_context`` member when a span is recording in the caller's context.

    Returns ``params`` itself, untouched, when the API is missing or no span is current (so an untraced call costs
    a lookup).
    """
    if not AVAILABLE or not _trace.get_current_span().get_span_context().is_valid:
        return params
    carrier: dict[str, str] = {}
    _propagate.inject(carrier)
    if not carrier:
        return params
    return {**params, TRACE_CONTEXT_MEMBER: carrier}


def attach_remote(message: object) -> object | None:
    """Make the trace context a request's params carry the current context; returns the token, or None.

    ``message`` is a parsed JSON-RPC request. A missing, malformed or non-string member is ignored (the call runs
    untraced by the caller); None comes back when nothing was attached.
    """
    if not AVAILABLE:
        return None
    params = message.get("params") if isinstance(message, dict) else None
    carrier = params.get(TRACE_CONTEXT_MEMBER) if isinstance(params, dict) else None
    if not isinstance(carrier, dict):
        return None
    headers = {key: value for key, value in carrier.items() if isinstance(key, str) and isinstance(value, str)}
    return _context.attach(_propagate.extract(headers))


def configure_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Set up the OpenTelemetry SDK from the standard variables, for a driver executable; True when it did.

    Acts only when ``OTEL_TRACES_EXPORTER`` names exporters (``console``, ``otlp``... any installed under the
    entry point group ``opentelemetry_traces_exporter``), the SDK is installed and no provider is set yet. The
    resource comes from ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``. An exporter that is not installed
    is logged and skipped. :func:`shutdown` flushes what was exported.
    """
    global _provider_shutdown
    environ = os.environ if environ is None else environ
    names = [name.strip() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    names = [name for name in names if name != "none"]
    if not names or not AVAILABLE or provider_configured():
        return False
    try:
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - only a traced child needs the SDK
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    except ImportError:
        _logger.warning("OTEL_TRACES_EXPORTER is set but opentelemetry-sdk is not installed: no spans exported")
        return False
    provider = TracerProvider(resource=Resource.create())
    for name in names:
        found = metadata.entry_points(group=_EXPORTER_GROUP, name=name)
        if not found:
            _logger.warning("no OpenTelemetry span exporter named %r is installed", name)
            continue
        exporter_class = next(iter(found)).load()
        provider.add_span_processor(BatchSpanProcessor(exporter_class()))
    _trace.set_tracer_provider(provider)
    _provider_shutdown = provider.shutdown
    return True


def shutdown() -> None:
    """Flush and stop the provider :func:`configure_from_environment` set up (nothing when it set none)."""
    global _provider_shutdown
    if _provider_shutdown is not None:
        stop, _provider_shutdown = _provider_shutdown, None
        stop()


__all__ = [
    "AVAILABLE",
    "TRACER_NAME",
    "TRACE_CONTEXT_MEMBER",
    "activate",
    "attach_remote",
    "configure_from_environment",
    "deactivate",
    "fail",
    "fail_as",
    "provider_configured",
    "shutdown",
    "start_span",
    "with_trace_context",
]
