"""The whole conformance suite against the GCS driver on fake-gcs-server, in process and over the protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite


class TestGCSConformance(ConformanceSuite):
    """Every conformance check on a bucket of its own, below a root directory."""

    @pytest.fixture
    def storage_driver(self, gcs_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        with registry_storage.create("gcs", {**gcs_parameters, "rootdirectory": "/registry/v2"}) as driver:
            yield driver


class TestGCSConformanceOverTheProtocol(ConformanceSuite):
    """Every conformance check through the client proxy to ``registry-storage-gcs`` reaching the server as a child."""

    @pytest.fixture
    def storage_driver(self, gcs_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        parameters = {**gcs_parameters, "rootdirectory": "/registry/v2"}
        with registry_storage.create("gcs", parameters, out_of_process=True) as driver:
            yield driver
