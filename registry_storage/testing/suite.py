"""ConformanceSuite: the conformance checks as pytest tests, one per check.

A driver author subclasses it in a test module and provides the ``storage_driver`` fixture::

    class TestMyDriverConformance(ConformanceSuite):
        @pytest.fixture
        def storage_driver(self, tmp_path):
            with MyDriver(root=str(tmp_path)) as driver:
                yield driver

Each check is one test, ``test_check[<check name>]``, so ``pytest -k <part of a check name>`` picks checks. Before a
check the store must be empty; after it, anything left at the top of the store fails the test and is deleted. The
``conformance_options`` fixture gives the sizes: full, or small with ``--registry-storage-quick``; override it to
choose otherwise.
"""

from __future__ import annotations

import pytest

from registry_storage.driver import StorageDriver
from registry_storage.testing.catalog import CHECKS
from registry_storage.testing.registry import Check, ConformanceOptions
from registry_storage.testing.runner import sweep

QUICK_OPTION = "registry_storage_quick"
"""Destination of the plugin's ``--registry-storage-quick`` flag."""


class ConformanceSuite:
    """Base class of a driver's conformance tests: subclass it and override the ``storage_driver`` fixture."""

    @pytest.fixture
    def storage_driver(self) -> StorageDriver:
        """The driver under test; every subclass must override this fixture (it may yield and close the driver)."""
        pytest.fail(f"{type(self).__name__} must define a storage_driver fixture", pytrace=False)

    @pytest.fixture
    def conformance_options(self, request: pytest.FixtureRequest) -> ConformanceOptions:
        """Full sizes, or small ones when pytest runs with ``--registry-storage-quick``."""
        quick = request.config.getoption(QUICK_OPTION, default=False)
        return ConformanceOptions(quick=bool(quick))

    @pytest.mark.parametrize("check", CHECKS, ids=[check.name for check in CHECKS])
    def test_check(self, check: Check, storage_driver: StorageDriver, conformance_options: ConformanceOptions) -> None:
        """Run ``check`` on an empty store; the store must be empty again afterwards."""
        present = storage_driver.list("/")
        if present:
            pytest.fail(f'the store must be empty before a check: list("/") returned {present!r}', pytrace=False)
        try:
            check.run(storage_driver, conformance_options)
        finally:
            leftover = sweep(storage_driver)
        if leftover is not None:
            pytest.fail(leftover, pytrace=False)
