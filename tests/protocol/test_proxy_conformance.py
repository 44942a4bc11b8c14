"""The whole conformance suite, unchanged, over the protocol: each driver runs as a child behind the client proxy.

One child serves every check of a class, as one serves a registry for its lifetime; the suite itself demands an
empty store before each check and sweeps it after. If a check leaves the child dead, the next check gets a new one,
so one crash fails one check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from registry_storage import factory
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import ProxyDriver
else:
    from registry_storage.client import ProxyDriver


class LiveChild:
    """Creates the driver through the factory, out of process, and replaces it when its child has died."""

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        self.name = name
        self.parameters = dict(parameters)
        self.proxy: ProxyDriver | None = None

    def get(self) -> ProxyDriver:
        if self.proxy is None or not self.proxy.session.alive:
            self.close()
            created = factory.create(self.name, self.parameters, out_of_process=True)
            assert isinstance(created, ProxyDriver)
            self.proxy = created
        return self.proxy

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None


@pytest.fixture(scope="module")
def inmemory_child() -> Iterator[LiveChild]:
    live = LiveChild("inmemory", {})
    yield live
    live.close()


@pytest.fixture(scope="module")
def filesystem_child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChild]:
    root: Path = tmp_path_factory.mktemp("filesystem") / "root"
    live = LiveChild("filesystem", {"rootdirectory": str(root)})
    yield live
    live.close()


class TestInMemoryOverProtocol(ConformanceSuite):
    """Every conformance check on a ``registry-storage-inmemory`` child."""

    @pytest.fixture
    def storage_driver(self, inmemory_child: LiveChild) -> StorageDriver:
        return inmemory_child.get()


class TestFilesystemOverProtocol(ConformanceSuite):
    """Every conformance check on a ``registry-storage-filesystem`` child rooted in an empty temporary directory."""

    @pytest.fixture
    def storage_driver(self, filesystem_child: LiveChild) -> StorageDriver:
        return filesystem_child.get()
