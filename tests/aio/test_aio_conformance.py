"""The whole conformance suite, unchanged, through the async interface: every local driver in process (sync driver
on the bounded thread pool) and out of process (the asyncio proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_storage import aio
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite
from registry_storage.testing.async_runner import through_async


class TestInMemoryAsyncConformance(ConformanceSuite):
    @pytest.fixture
    def storage_driver(self) -> Iterator[StorageDriver]:
        with through_async(lambda: aio.create("inmemory")) as driver:
            assert type(driver.driver).__name__ == "ThreadedAsyncDriver"
            yield driver


class TestFilesystemAsyncConformance(ConformanceSuite):
    @pytest.fixture
    def storage_driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        with through_async(lambda: aio.create("filesystem", {"rootdirectory": str(tmp_path / "root")})) as driver:
            yield driver


class TestInMemoryAsyncProxyConformance(ConformanceSuite):
    @pytest.fixture
    def storage_driver(self) -> Iterator[StorageDriver]:
        with through_async(lambda: aio.create("inmemory", out_of_process=True)) as driver:
            assert type(driver.driver).__name__ == "AsyncProxyDriver"
            yield driver


class TestFilesystemAsyncProxyConformance(ConformanceSuite):
    @pytest.fixture
    def storage_driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        parameters = {"rootdirectory": str(tmp_path / "root")}
        with through_async(lambda: aio.create("filesystem", parameters, out_of_process=True)) as driver:
            yield driver
