"""The conformance suite every driver must pass: DESIGN.md section 3, checked line by line.

>>> from registry_storage.testing import run_conformance
>>> report = run_conformance(driver, quick=True)  # doctest: +SKIP
>>> report.ok, report.failed  # doctest: +SKIP

- :data:`CHECKS`: every :class:`Check`, each named after the behaviour it proves;
- :func:`run_conformance`: run them outside pytest and get a :class:`ConformanceReport` of :class:`CheckResult`;
- :class:`ConformanceSuite`: a pytest base class with one test per check; subclass it and provide a
  ``storage_driver`` fixture (it needs pytest; the other names do not);
- the pytest plugin :mod:`registry_storage.testing.plugin` runs every check against any driver the factory can
  create: ``pytest --registry-storage-driver NAME --registry-storage-params JSON``.

The checks write their own data under unique top-level paths, delete it afterwards, and need an empty store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry_storage.testing.catalog import CHECKS
    from registry_storage.testing.expectations import ConformanceFailure
    from registry_storage.testing.registry import Check, CheckContext, ConformanceOptions
    from registry_storage.testing.runner import CheckResult, ConformanceReport, run_conformance
    from registry_storage.testing.suite import ConformanceSuite

_EXPORTS = {
    "CHECKS": "catalog",
    "Check": "registry",
    "CheckContext": "registry",
    "CheckResult": "runner",
    "ConformanceFailure": "expectations",
    "ConformanceOptions": "registry",
    "ConformanceReport": "runner",
    "ConformanceSuite": "suite",
    "run_conformance": "runner",
}
"""Where each public name lives. They load on first use, so the pytest plugin (imported in every pytest session
through this package) costs nothing until asked for, and ConformanceSuite alone needs pytest."""


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "CheckResult",
    "ConformanceFailure",
    "ConformanceOptions",
    "ConformanceReport",
    "ConformanceSuite",
    "run_conformance",
]
