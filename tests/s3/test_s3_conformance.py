"""The whole conformance suite against the S3 driver, in process, on a moto server."""

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
