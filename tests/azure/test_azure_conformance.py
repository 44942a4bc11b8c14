"""The whole conformance suite against the Azure driver on Azurite, in process and over the protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite


class TestAzureConformance(ConformanceSuite):
    """Every conformance check on a container of its own, below a root directory."""

    @pytest.fixture
    def storage_driver(self, azure_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        with registry_storage.create("azure", {**azure_parameters, "rootdirectory": "/registry/v2"}) as driver:
            yield driver


class TestAzureConformanceOverTheProtocol(ConformanceSuite):
    """Every conformance check through the client proxy to ``registry-storage-azure`` reaching Azurite as a child."""

    @pytest.fixture
    def storage_driver(self, azure_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        parameters = {**azure_parameters, "rootdirectory": "/registry/v2"}
        with registry_storage.create("azure", parameters, out_of_process=True) as driver:
            yield driver
