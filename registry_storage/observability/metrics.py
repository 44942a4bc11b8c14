"""Prometheus metrics of every driver call, with the registry's names (the ``[metrics]`` extra).

With ``prometheus_client`` installed, importing :mod:`registry_storage` installs :data:`RECORDER`, and these metrics
appear in prometheus_client's default registry (``prometheus_client.REGISTRY``), so any exporter the application
runs (``start_http_server``, a WSGI app) serves them:

- ``registry_storage_action_seconds{driver,action}``: histogram of call durations, the registry's own name;
- ``registry_storage_bytes_total{driver,direction}``: bytes ``read`` and ``written``;
- ``registry_storage_errors_total{driver,error}``: calls that raised, by error type;
- ``registry_storage_calls_in_flight{driver}``: calls running now;
- ``registry_storage_driver_restarts_total{driver}``: out-of-process drivers started again after they died;
- ``registry_storage_deadline_exceeded_total{driver,action}``: proxied calls that got no answer in time.

No label carries a path. A driver child's own metrics (``metrics`` protocol method) join the same scrape with the
label ``process="child"``: see :func:`include_child`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

try:
    import prometheus_client
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.registry import CollectorRegistry
except ImportError:  # the [metrics] extra is not installed
    AVAILABLE = False
else:
    AVAILABLE = True

from registry_storage.errors import DeadlineExceededError

from .calls import add_recorder, remove_recorder

CHILD_LABEL = "process"
"""The label (value ``child``) that marks the samples a driver child reported through the ``metrics`` method."""

_logger = logging.getLogger("registry_storage.observability")


class MetricsSource(Protocol):
    """A driver that can report its child's metrics (the client's proxy)."""

    def driver_metrics(self) -> str:
        """The child's metrics in the Prometheus text format; empty when the child has none."""
        ...


class MetricsRecorder:
    """The recorder that keeps the metrics of this module up to date (see :class:`~.calls.Recorder`)."""

    def __init__(self, registry: Any) -> None:
        self.action_seconds = prometheus_client.Histogram(
            "registry_storage_action_seconds",
            "The number of seconds that the storage action takes",
            ["driver", "action"],
            registry=registry,
        )
        self.bytes = prometheus_client.Counter(
            "registry_storage_bytes",
            "Bytes read from and written to storage",
            ["driver", "direction"],
            registry=registry,
        )
        self.errors = prometheus_client.Counter(
            "registry_storage_errors",
            "Storage calls that raised, by error type",
            ["driver", "error"],
            registry=registry,
        )
        self.in_flight = prometheus_client.Gauge(
            "registry_storage_calls_in_flight", "Storage calls running now", ["driver"], registry=registry
        )
        self.restarts = prometheus_client.Counter(
            "registry_storage_driver_restarts",
            "Out-of-process drivers started again after their child died",
            ["driver"],
            registry=registry,
        )
        self.deadlines = prometheus_client.Counter(
            "registry_storage_deadline_exceeded",
            "Calls to out-of-process drivers that got no answer before their deadline",
            ["driver", "action"],
            registry=registry,
        )

        self._running_of: dict[str, list[None]] = {}
        self._seconds_of: dict[tuple[str, str], Any] = {}

    def _running(self, driver: str) -> list[None]:
        """The calls of ``driver`` running now, one item each: ``append`` and ``pop`` on a list are atomic, so the
        count needs no lock, and the in-flight gauge reads its length when scraped (a locked ``inc`` and ``dec`` of
        the gauge cost 11,600 instructions a call, a third of the recorder's whole cost). A gauge read when scraped is
        per process: prometheus_client's multiprocess mode does not add it up across worker processes."""
        running = self._running_of.get(driver)
        if running is None:
            running = self._running_of.setdefault(driver, [])
            self.in_flight.labels(driver).set_function(running.__len__)
        return running

    def started(self, driver: str, action: str) -> None:
        self._running(driver).append(None)

    def finished(self, driver: str, action: str, seconds: float, error: BaseException | None) -> None:
        self._running(driver).pop()
        histogram = self._seconds_of.get((driver, action))
        if histogram is None:
            histogram = self._seconds_of[(driver, action)] = self.action_seconds.labels(driver, action)
        histogram.observe(seconds)
        if error is not None:
            self.errors.labels(driver, type(error).__name__).inc()
            if isinstance(error, DeadlineExceededError):
                self.deadlines.labels(driver, action).inc()

    def moved(self, driver: str, direction: str, count: int) -> None:
        self.bytes.labels(driver, direction).inc(count)


class _Children:
    """The drivers whose children's metrics join every scrape (held weakly: a closed proxy drops out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, source: MetricsSource) -> None:
        with self._lock:
            self._sources.add(source)

    def remove(self, source: MetricsSource) -> None:
        with self._lock:
            self._sources.discard(source)

    def families(self) -> Iterator[Any]:
        """The children's metric families, every sample labelled ``process="child"``; a failing child is skipped."""
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            try:
                text = source.driver_metrics()
            except Exception as error:  # a dead or hung child must not break the scrape
                _logger.debug("no metrics from %r: %s", source, error)
                continue
            yield from text_string_to_metric_families(text)


class _Exposed:
    """The collector prometheus_client's registry scrapes: this library's metrics merged with its children's."""

    def __init__(self, own: Any, children: _Children) -> None:
        self._own = own
        self._children = children

    def describe(self) -> list[Any]:
        return []  # registering must not scrape the children; the metric names are this library's own

    def collect(self) -> Iterable[Any]:
        families = {family.name: family for family in self._own.collect()}
        for child in self._children.families():
            samples = [
                sample._replace(labels={**sample.labels, CHILD_LABEL: "child"})
                for sample in child.samples
                if not sample.name.endswith("_created")
            ]
            family = families.get(child.name)
            if family is None:
                child.samples = samples
                families[child.name] = child
            else:
                family.samples.extend(samples)
        return list(families.values())


if AVAILABLE:
    _OWN = CollectorRegistry(auto_describe=True)
    _RECORDER = MetricsRecorder(_OWN)
    RECORDER: MetricsRecorder | None = _RECORDER
    _CHILDREN = _Children()
    _COLLECTOR = _Exposed(_OWN, _CHILDREN)
    _EXPOSITION = CollectorRegistry(auto_describe=False)
    _EXPOSITION.register(_COLLECTOR)
    prometheus_client.REGISTRY.register(_COLLECTOR)
    add_recorder(_RECORDER)
else:
    RECORDER = None


def enable() -> bool:
    """Record metrics again after :func:`disable` (they are on from import); False without prometheus_client."""
    if RECORDER is None:
        return False
    add_recorder(RECORDER)
    return True


def disable() -> None:
    """Stop recording metrics (the values so far stay); with no tracer provider, calls then skip observation."""
    if RECORDER is not None:
        remove_recorder(RECORDER)


def include_child(source: MetricsSource) -> None:
    """Add the metrics ``source`` reports (a proxy's child) to every scrape, until :func:`exclude_child`."""
    if AVAILABLE:
        _CHILDREN.add(source)


def exclude_child(source: MetricsSource) -> None:
    """Stop adding ``source``'s metrics to scrapes."""
    if AVAILABLE:
        _CHILDREN.remove(source)


def count_restart(driver: str) -> None:
    """Count one restart of the child of out-of-process driver ``driver``."""
    if RECORDER is not None:
        RECORDER.restarts.labels(driver).inc()


def exposition() -> str:
    """This process's registry-storage metrics (with its children's) in the Prometheus text format; "" without
    prometheus_client. The driver executable answers the ``metrics`` method with it."""
    if not AVAILABLE:
        return ""
    text: bytes = prometheus_client.generate_latest(_EXPOSITION)
    return text.decode()


__all__ = [
    "AVAILABLE",
    "CHILD_LABEL",
    "RECORDER",
    "MetricsRecorder",
    "MetricsSource",
    "count_restart",
    "disable",
    "enable",
    "exclude_child",
    "exposition",
    "include_child",
]
