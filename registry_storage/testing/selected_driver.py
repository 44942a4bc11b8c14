"""The conformance tests of the driver named on the pytest command line (collected by the plugin, never imported).

``pytest --registry-storage-driver NAME [--registry-storage-params JSON]`` makes the plugin add this module to the
paths pytest collects; its one class runs every check against ``registry_storage.factory.create(NAME, params)``,
created once for the module (again only if its process died) and closed after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from registry_storage.driver import StorageDriver
from registry_storage.factory import create
from registry_storage.testing.runner import has_exited
from registry_storage.testing.suite import ConformanceSuite


class SelectedDriver:
    """The driver named on the command line, made again when its process died (so one crash fails one check)."""

    def __init__(self, config: pytest.Config) -> None:
        self.name = str(config.getoption("registry_storage_driver"))
        self.parameters = json.loads(config.getoption("registry_storage_params", default=None) or "{}")
        self.out_of_process = bool(config.getoption("registry_storage_out_of_process", default=False))
        self._driver: StorageDriver | None = None

    def get(self) -> StorageDriver:
        """The live driver, made now when there is none yet or the last one exited."""
        if self._driver is not None and has_exited(self._driver):
            self.close()
        if self._driver is None:
            self._driver = create(self.name, self.parameters, out_of_process=self.out_of_process)
        return self._driver

    def close(self) -> None:
        """Close the current driver, if any."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()


@pytest.fixture(scope="module")
def selected_driver(request: pytest.FixtureRequest) -> Iterator[SelectedDriver]:
    """The driver named by ``--registry-storage-driver``, shared by every check; skipped when none is named."""
    if not request.config.getoption("registry_storage_driver", default=None):
        pytest.skip("no driver named: run pytest with --registry-storage-driver NAME")
    selected = SelectedDriver(request.config)
    yield selected
    selected.close()


class TestSelectedDriverConformance(ConformanceSuite):
    """Every conformance check against the driver named by ``--registry-storage-driver``."""

    @pytest.fixture
    def storage_driver(self, selected_driver: SelectedDriver) -> StorageDriver:
        """The one live driver of this module (each check leaves its store empty for the next)."""
        return selected_driver.get()
