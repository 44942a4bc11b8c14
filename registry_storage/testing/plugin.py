"""The registry-storage pytest plugin, loaded in every pytest session through the ``pytest11`` entry point.

It only adds options; unless ``--registry-storage-driver`` is given it does nothing else and imports none of the
checks. ``-p no:registry_storage`` turns it off.

- ``--registry-storage-driver NAME``: run every conformance check against ``registry_storage.factory.create(NAME,
  params)``. The plugin adds the module :mod:`registry_storage.testing.selected_driver` (one ConformanceSuite
  subclass, ``TestSelectedDriverConformance``) to the paths pytest collects: in place of the configured test paths
  when none were given on the command line, beside them when some were. ``-k`` picks checks by name as usual.
- ``--registry-storage-params JSON``: the driver's parameters, a JSON object (default ``{}``).
- ``--registry-storage-out-of-process``: run the named driver as a child process through the client proxy.
- ``--registry-storage-quick``: small sizes instead of the 64/32/16/10 MiB ones, for every ConformanceSuite.

Collecting a real module, rather than making test items in a hook, keeps node ids, ``-k``, fixtures and reports
exactly as for any other test class.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SELECTED_DRIVER_MODULE = Path(__file__).with_name("selected_driver.py")
"""The test module collected when a driver is named on the command line."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--registry-storage-*`` options."""
    group = parser.getgroup("registry-storage", "registry-storage conformance checks")
    group.addoption(
        "--registry-storage-driver",
        metavar="NAME",
        default=None,
        help="run the conformance checks against the driver the registry-storage factory creates under NAME",
    )
    group.addoption(
        "--registry-storage-params",
        metavar="JSON",
        default=None,
        help="parameters of that driver, as a JSON object (default: {})",
    )
    group.addoption(
        "--registry-storage-out-of-process",
        action="store_true",
        default=False,
        help="run that driver as a child process, through the client proxy",
    )
    group.addoption(
        "--registry-storage-quick",
        action="store_true",
        default=False,
        help="shrink the conformance checks' large sizes (64 MiB -> 4 MiB, ...) for a fast smoke run",
    )


def pytest_configure(config: pytest.Config) -> None:
    """With a driver named: check its parameters (a usage error when bad) and have pytest collect its suite."""
    name = config.getoption("registry_storage_driver")
    if not name:
        return
    text = config.getoption("registry_storage_params")
    if text:
        try:
            parameters = json.loads(text)
        except ValueError as error:
            raise pytest.UsageError(f"--registry-storage-params is not valid JSON: {error}") from None
        if not isinstance(parameters, dict):
            raise pytest.UsageError(f"--registry-storage-params must be a JSON object, got {text!r}")
    module = str(SELECTED_DRIVER_MODULE)
    if config.args_source is pytest.Config.ArgsSource.ARGS:
        config.args.append(module)
    else:
        config.args[:] = [module]


def pytest_report_header(config: pytest.Config) -> str | None:
    """Name the driver under test in the session header."""
    name = config.getoption("registry_storage_driver")
    if not name:
        return None
    quick = " (quick)" if config.getoption("registry_storage_quick") else ""
    return f"registry-storage conformance: driver {name!r}{quick}"
