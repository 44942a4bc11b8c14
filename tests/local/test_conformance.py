"""The whole conformance suite against the local drivers, in process: inmemory and filesystem.

The drivers are made by the factory, which loads them in process from their entry points
(``registry_storage.drivers.inmemory.InMemoryDriver`` and ``registry_storage.drivers.filesystem.FilesystemDriver``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite


class TestInMemoryConformance(ConformanceSuite):
    """Every conformance check on a fresh in-memory store."""

    @pytest.fixture
    def storage_driver(self) -> Iterator[StorageDriver]:
        with registry_storage.create("inmemory") as driver:
            assert type(driver).__name__ == "InMemoryDriver"
            yield driver


class TestFilesystemConformance(ConformanceSuite):
    """Every conformance check on a filesystem store rooted in an empty temporary directory."""

    @pytest.fixture
    def storage_driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        with registry_storage.create("filesystem", {"rootdirectory": str(tmp_path / "root")}) as driver:
            assert type(driver).__name__ == "FilesystemDriver"
            yield driver
