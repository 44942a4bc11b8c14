"""Tracing and metrics of every driver call, wired into :class:`~registry_storage.StorageDriver` itself.

- :mod:`.calls`: the per-call observation the base class runs every public method in, and the recorder hook;
- :mod:`.tracing`: OpenTelemetry spans (API only, extra ``[otel]``) and the W3C trace context over the protocol;
- :mod:`.metrics`: Prometheus metrics with the registry's names (extra ``[metrics]``);
- :mod:`.summary`: the per-action summary the CLI prints with ``--trace``.

Both libraries are optional: without them (and while no tracer provider is configured) a call costs one attribute
read more than the path check.
"""

from __future__ import annotations

from . import metrics, tracing
from .calls import Recorder, add_recorder, observe, remove_recorder
from .summary import CallSummary

__all__ = ["CallSummary", "Recorder", "add_recorder", "metrics", "observe", "remove_recorder", "tracing"]
