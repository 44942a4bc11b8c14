"""Errors over the protocol: the proxy raises the same exception types, with the same fields, as in process."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_storage import factory
from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError
from registry_storage.paths import check_path

Scenario = Callable[[StorageDriver], object]

SCENARIOS: dict[str, Scenario] = {
    "get_content_missing": lambda driver: driver.get_content("/missing"),
    "get_content_directory": lambda driver: driver.get_content("/dir"),
    "stat_missing": lambda driver: driver.stat("/dir/missing"),
    "list_file": lambda driver: driver.list("/dir/file"),
    "list_missing": lambda driver: driver.list("/missing"),
    "walk_missing": lambda driver: driver.walk("/missing"),
    "delete_missing": lambda driver: driver.delete("/missing"),
    "move_missing_source": lambda driver: driver.move("/missing", "/elsewhere"),
    "move_directory": lambda driver: driver.move("/dir", "/elsewhere"),
    "move_onto_directory": lambda driver: driver.move("/dir/file", "/other"),
    "move_below_file": lambda driver: driver.move("/dir/file", "/other/file/below"),
    "put_content_below_file": lambda driver: driver.put_content("/dir/file/below", b"x"),
    "put_content_onto_directory": lambda driver: driver.put_content("/dir", b"x"),
    "read_stream_missing": lambda driver: driver.read_stream("/missing", 3),
    "read_stream_directory": lambda driver: driver.read_stream("/dir"),
    "write_stream_below_file": lambda driver: driver.write_stream("/dir/file/below", 0, io.BytesIO(b"x")),
    "url_for": lambda driver: driver.url_for("/dir/file"),
}


def _populate(driver: StorageDriver) -> None:
    driver.put_content("/dir/file", b"content")
    driver.put_content("/other/file", b"content")


def _raised(scenario: Scenario, driver: StorageDriver) -> StorageDriverError:
    with pytest.raises(StorageDriverError) as raised:
        scenario(driver)
    return raised.value


def _described(error: StorageDriverError) -> tuple[type[StorageDriverError], dict[str, Any], str, str]:
    return type(error), error.fields(), error.driver, str(error)


@pytest.fixture(params=["inmemory", "filesystem"], scope="module")
def driver_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StorageDriver, StorageDriver]]:
    """The same driver in process and over the protocol, each holding ``/dir/file`` and ``/other/file``."""
    name: str = request.param
    root: Path = tmp_path_factory.mktemp(name)
    parameters = {"rootdirectory": str(root / "local")} if name == "filesystem" else {}
    remote_parameters = {"rootdirectory": str(root / "remote")} if name == "filesystem" else {}
    with (
        factory.create_in_process(name, parameters) as local,
        factory.create(name, remote_parameters, out_of_process=True) as remote,
    ):
        _populate(local)
        _populate(remote)
        yield local, remote


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_proxy_raises_what_the_driver_raises_in_process(
    driver_pair: tuple[StorageDriver, StorageDriver], scenario: str
) -> None:
    local, remote = driver_pair
    expected = _raised(SCENARIOS[scenario], local)
    assert _described(_raised(SCENARIOS[scenario], remote)) == _described(expected)


def test_path_not_found_stays_a_file_not_found_error(driver_pair: tuple[StorageDriver, StorageDriver]) -> None:
    _, remote = driver_pair
    with pytest.raises(FileNotFoundError) as raised:
        remote.get_content("/missing")
    assert isinstance(raised.value, PathNotFoundError)
    assert raised.value.filename == "/missing"


def test_errors_the_driver_finds_itself_travel_with_their_fields(
    driver_pair: tuple[StorageDriver, StorageDriver],
) -> None:
    """Bad paths and offsets the proxy would catch first, sent raw to see the driver's own answer."""
    _, remote = driver_pair
    connection = getattr(remote, "session").connection  # noqa: B009 (a ProxyDriver attribute)
    with pytest.raises(InvalidPathError) as bad_path:
        check_path("/a//b")
    with pytest.raises(InvalidPathError) as over_the_wire:
        connection.call("stat", {"path": "/a//b"})
    assert _described(over_the_wire.value)[:2] == _described(bad_path.value)[:2]
    assert over_the_wire.value.driver == remote.name
    with pytest.raises(InvalidOffsetError) as bad_offset:
        connection.call("read_stream.open", {"path": "/dir/file", "offset": -1})
    assert bad_offset.value.fields() == {"path": "/dir/file", "offset": -1}
    assert bad_offset.value.driver == remote.name
