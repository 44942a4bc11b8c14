"""The whole conformance suite against the S3 driver on a moto server, in process and over the protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite


class TestS3Conformance(ConformanceSuite):
    """Every conformance check on a bucket of its own, below a root directory."""

    @pytest.fixture
    def storage_driver(self, s3_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        with registry_storage.create("s3", {**s3_parameters, "rootdirectory": "/registry/v2"}) as driver:
            yield driver


class TestS3ConformanceOverTheProtocol(ConformanceSuite):
    """Every conformance check through the client proxy to ``registry-storage-s3`` reaching moto as a child."""

    @pytest.fixture
    def storage_driver(self, s3_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        parameters = {**s3_parameters, "rootdirectory": "/registry/v2"}
        with registry_storage.create("s3", parameters, out_of_process=True) as driver:
            yield driver
