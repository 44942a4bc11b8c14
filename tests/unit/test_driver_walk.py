"""walk: errors raised while iterating carry the driver's name, like errors raised at the call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.fileinfo import FileInfo


class VanishingDriver(InMemoryDriver):
    """Yields the first entry of a walk, then finds the rest gone (as when a path is deleted meanwhile)."""

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        entries = super()._walk(path, start_after)

        def lazily() -> Iterator[FileInfo]:
            yield next(entries)
            raise PathNotFoundError("/gone")

        return lazily()


def test_error_raised_during_walk_iteration_carries_the_driver_name() -> None:
    driver = VanishingDriver()
    driver.put_content("/a/b", b"x")
    entries = driver.walk("/")
    assert next(entries).path == "/a"
    with pytest.raises(PathNotFoundError) as raised:
        next(entries)
    assert raised.value.driver == "inmemory"
    assert raised.value.path == "/gone"
