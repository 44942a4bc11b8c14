"""The factory: registration, lookup order (registered, entry point, executable) and what it says when it fails."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from registry_storage import factory
from registry_storage.driver import StorageDriver
from registry_storage.drivers.filesystem import FilesystemDriver
from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import InvalidParameterError, InvalidStorageDriverError


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by the test, unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        factory.unregister(name)


@pytest.fixture
def search_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Empty directories standing in for $REGISTRY_STORAGE_DRIVERS_PATH and $PATH."""
    drivers_path, path = tmp_path / "drivers-path", tmp_path / "path"
    drivers_path.mkdir()
    path.mkdir()
    monkeypatch.setenv(factory.DRIVERS_PATH_VARIABLE, str(drivers_path))
    monkeypatch.setenv("PATH", str(path))
    return drivers_path, path


class FakeEntryPoint:
    def __init__(self, value: object) -> None:
        self.value = value

    def load(self) -> object:
        return self.value


def with_entry_points(monkeypatch: pytest.MonkeyPatch, group: str, entries: Mapping[str, object]) -> None:
    """Make the entry-point group ``group`` hold exactly ``entries``; other groups stay as installed."""
    installed = factory._entry_points

    def entry_points(wanted: str) -> dict[str, Any]:
        return dict(entries) if wanted == group else installed(wanted)

    monkeypatch.setattr(factory, "_entry_points", entry_points)


def executable(directory: Path, name: str) -> Path:
    program = directory / f"{factory.EXECUTABLE_PREFIX}{name}"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def test_register_then_create_passes_the_parameters(registered: list[str]) -> None:
    seen: list[Mapping[str, Any]] = []

    def build(parameters: Mapping[str, Any]) -> StorageDriver:
        seen.append(parameters)
        return InMemoryDriver()

    factory.register("test-memory", build)
    registered.append("test-memory")
    assert isinstance(factory.create("test-memory", {"size": 3}), InMemoryDriver)
    assert seen == [{"size": 3}]
    assert "test-memory" in factory.installed_drivers()


def test_register_refuses_a_name_twice(registered: list[str]) -> None:
    factory.register("test-twice", InMemoryDriver.from_parameters)
    registered.append("test-twice")
    with pytest.raises(ValueError, match="already registered"):
        factory.register("test-twice", InMemoryDriver.from_parameters)


@pytest.mark.parametrize("name", ["", None, 5])
def test_register_refuses_a_missing_name(name: Any) -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        factory.register(name, InMemoryDriver.from_parameters)


@pytest.mark.parametrize("build", [None, "registry_storage.drivers.inmemory", 42])
def test_register_refuses_a_missing_factory(build: Any) -> None:
    with pytest.raises(ValueError, match="callable"):
        factory.register("test-missing-factory", build)
    assert "test-missing-factory" not in factory.installed_drivers()


def test_unregister_forgets_and_is_harmless_when_absent() -> None:
    factory.register("test-gone", InMemoryDriver.from_parameters)
    factory.unregister("test-gone")
    factory.unregister("test-gone")
    assert "test-gone" not in factory.installed_drivers()


def test_a_registered_driver_comes_before_an_installed_one(registered: list[str]) -> None:
    sentinel = InMemoryDriver()
    factory.register("filesystem", lambda parameters: sentinel)
    registered.append("filesystem")
    assert factory.create("filesystem", {"rootdirectory": "/nonexistent"}) is sentinel


def test_the_local_drivers_are_installed_entry_points() -> None:
    assert {"inmemory", "filesystem"} <= set(factory.installed_drivers())


def test_create_inmemory_by_entry_point() -> None:
    with factory.create("inmemory") as driver:
        assert isinstance(driver, InMemoryDriver)
        driver.put_content("/a", b"x")
        assert driver.get_content("/a") == b"x"


def test_create_filesystem_by_entry_point(tmp_path: Path) -> None:
    with factory.create("filesystem", {"rootdirectory": str(tmp_path)}) as driver:
        assert isinstance(driver, FilesystemDriver)
        driver.put_content("/a/b", b"x")
    assert (tmp_path / "a" / "b").read_bytes() == b"x"


def test_bad_parameters_raise_the_drivers_error() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        factory.create("inmemory", {"rootdirectory": "/tmp"})
    assert caught.value.driver == "inmemory"
    assert caught.value.accepted == []


def test_an_unknown_name_says_what_was_looked_for(search_path: tuple[Path, Path]) -> None:
    with pytest.raises(InvalidStorageDriverError) as caught:
        factory.create("nosuchdriver")
    error = caught.value
    assert error.name == "nosuchdriver"
    assert "no in-process driver" in error.reason
    assert "registry-storage-nosuchdriver" in error.reason
    assert "$REGISTRY_STORAGE_DRIVERS_PATH" in error.reason
    assert "$PATH" in error.reason


def test_out_of_process_looks_only_for_an_executable(search_path: tuple[Path, Path]) -> None:
    with pytest.raises(InvalidStorageDriverError) as caught:
        factory.create("nosuchdriver", out_of_process=True)
    assert "in-process" not in caught.value.reason
    assert "registry-storage-nosuchdriver" in caught.value.reason


@pytest.mark.parametrize("name", ["", None])
def test_create_refuses_a_missing_name(name: Any) -> None:
    with pytest.raises(InvalidStorageDriverError, match="non-empty"):
        factory.create(name)


def test_create_in_process_never_runs_an_executable(search_path: tuple[Path, Path]) -> None:
    drivers_path, _ = search_path
    executable(drivers_path, "fake")
    assert isinstance(factory.create_in_process("inmemory"), InMemoryDriver)
    with pytest.raises(InvalidStorageDriverError) as caught:
        factory.create_in_process("fake")
    assert caught.value.name == "fake"
    assert "no in-process driver" in caught.value.reason


def test_find_executable_prefers_the_drivers_path(search_path: tuple[Path, Path]) -> None:
    drivers_path, path = search_path
    on_path = executable(path, "fake")
    assert factory.find_executable("fake") == str(on_path)
    preferred = executable(drivers_path, "fake")
    assert factory.find_executable("fake") == str(preferred)


def test_find_executable_ignores_files_that_are_not_executable(search_path: tuple[Path, Path]) -> None:
    drivers_path, _ = search_path
    program = executable(drivers_path, "fake")
    program.chmod(0o644)
    assert factory.find_executable("fake") is None


def test_find_executable_looks_beside_the_running_python(
    search_path: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    beside = tmp_path / "venv-bin"
    beside.mkdir()
    program = executable(beside, "fake")
    monkeypatch.setattr(sys, "executable", str(beside / "python"))
    assert factory.find_executable("fake") == str(program)


def test_an_executable_runs_through_the_launcher(
    search_path: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    drivers_path, _ = search_path
    program = executable(drivers_path, "inmemory")
    launched: list[tuple[str, str, Mapping[str, Any]]] = []
    proxy = InMemoryDriver()

    def launch(path: str, name: str, parameters: Mapping[str, Any]) -> StorageDriver:
        launched.append((path, name, parameters))
        return proxy

    with_entry_points(monkeypatch, factory.LAUNCHER_GROUP, {"executable": FakeEntryPoint(launch)})
    assert factory.create("inmemory", {"a": 1}, out_of_process=True) is proxy
    assert launched == [(str(program), "inmemory", {"a": 1})]


def test_an_executable_without_a_launcher_is_an_error(
    search_path: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    drivers_path, _ = search_path
    program = executable(drivers_path, "fake")
    with_entry_points(monkeypatch, factory.LAUNCHER_GROUP, {})
    with pytest.raises(InvalidStorageDriverError) as caught:
        factory.create("fake")
    assert "no launcher" in caught.value.reason
    assert str(program) in caught.value.reason


def test_an_entry_point_that_cannot_be_imported_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = metadata.EntryPoint(name="broken", value="registry_storage_no_such_module:build", group="x")
    with_entry_points(monkeypatch, factory.DRIVER_GROUP, {"broken": broken})
    with pytest.raises(InvalidStorageDriverError) as caught:
        factory.create("broken")
    assert caught.value.name == "broken"
    assert "pip install 'registry-storage[broken]'" in caught.value.reason
    assert isinstance(caught.value.__cause__, ImportError)


def test_an_entry_point_that_is_not_callable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    constant = metadata.EntryPoint(name="constant", value="registry_storage.paths:ROOT", group="x")
    with_entry_points(monkeypatch, factory.DRIVER_GROUP, {"constant": constant})
    with pytest.raises(InvalidStorageDriverError, match="not callable"):
        factory.create("constant")


def test_the_search_path_variable_may_list_several_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, search_path: tuple[Path, Path]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    program = executable(second, "fake")
    monkeypatch.setenv(factory.DRIVERS_PATH_VARIABLE, os.pathsep.join(["", str(first), str(second)]))
    assert factory.find_executable("fake") == str(program)
