"""The whole conformance suite through the async interface against the GCS driver on fake-gcs-server, in process
(on the thread pool) and out of process (the asyncio proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from registry_storage import aio
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite
from registry_storage.testing.async_runner import through_async


class TestGCSAsyncConformance(ConformanceSuite):
    @pytest.fixture
    def storage_driver(self, gcs_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        parameters = {**gcs_parameters, "rootdirectory": "/registry/v2"}
        with through_async(lambda: aio.create("gcs", parameters)) as driver:
            yield driver


class TestGCSAsyncProxyConformance(ConformanceSuite):
    @pytest.fixture
    def storage_driver(self, gcs_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        parameters = {**gcs_parameters, "rootdirectory": "/registry/v2"}
        with through_async(lambda: aio.create("gcs", parameters, out_of_process=True)) as driver:
            yield driver
