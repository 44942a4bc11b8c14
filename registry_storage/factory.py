"""Create drivers by name.

Lookup order for ``create(name, parameters)``:

1. drivers registered in this process with :func:`register`;
2. installed drivers advertised in the entry-point group ``registry_storage.drivers`` (imported only when used);
3. an executable ``registry-storage-<name>`` found in the directories of ``$REGISTRY_STORAGE_DRIVERS_PATH``, then
   on ``$PATH``, then beside the running Python, run as a child process through the launcher that the client
   package advertises in the entry-point group ``registry_storage.launchers``.

``create(name, parameters, out_of_process=True)`` skips 1 and 2, so even a built-in driver runs isolated in a child.
The core never imports the client: the launcher seam keeps dependencies pointing one way.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidStorageDriverError

DriverFactory = Callable[[Mapping[str, Any]], StorageDriver]
"""Builds a driver from its parameters; raises InvalidParameterError for bad ones."""

Launcher = Callable[..., StorageDriver]
"""``launcher(executable, name, parameters, **options)`` runs ``executable`` as driver ``name`` and returns a proxy.

The options are the launcher's own (the client's: ``timeout``, ``restart``, ``secret_parameters``...)."""

DRIVER_GROUP = "registry_storage.drivers"
LAUNCHER_GROUP = "registry_storage.launchers"
DRIVERS_PATH_VARIABLE = "REGISTRY_STORAGE_DRIVERS_PATH"
EXECUTABLE_PREFIX = "registry-storage-"

_registry: dict[str, DriverFactory] = {}
_lock = threading.Lock()


def register(name: str, factory: DriverFactory) -> None:
    """Make ``factory`` the in-process driver called ``name``.

    Raises ValueError for an empty name, a missing (non-callable) factory, or a name already registered.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("a driver needs a non-empty name")
    if not callable(factory):
        raise ValueError(f"driver {name!r}: factory must be callable, got {factory!r}")
    with _lock:
        if name in _registry:
            raise ValueError(f"a driver called {name!r} is already registered")
        _registry[name] = factory


def unregister(name: str) -> None:
    """Forget the in-process driver ``name`` registered with :func:`register` (no error when absent)."""
    with _lock:
        _registry.pop(name, None)


def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    return {entry.name: entry for entry in metadata.entry_points(group=group)}


def installed_drivers() -> list[str]:
    """Names of the drivers available in process: registered ones and installed entry points, sorted."""
    with _lock:
        names = set(_registry)
    return sorted(names | set(_entry_points(DRIVER_GROUP)))


def find_executable(name: str) -> str | None:
    """Path of the executable ``registry-storage-<name>``, or None when no search location has one."""
    program = EXECUTABLE_PREFIX + name
    for directory in os.environ.get(DRIVERS_PATH_VARIABLE, "").split(os.pathsep):
        if directory:
            found = shutil.which(program, path=directory)
            if found:
                return found
    return shutil.which(program) or shutil.which(program, path=os.path.dirname(sys.executable))


def _in_process_factory(name: str) -> DriverFactory | None:
    with _lock:
        factory = _registry.get(name)
    if factory is not None:
        return factory
    entry = _entry_points(DRIVER_GROUP).get(name)
    if entry is None:
        return None
    try:
        loaded = entry.load()
    except ImportError as error:
        extra = f"pip install 'registry-storage[{name}]'"
        raise InvalidStorageDriverError(name, f"cannot import its module ({error}); install it with {extra}") from error
    if not callable(loaded):
        raise InvalidStorageDriverError(name, f"entry point {entry.value!r} is not callable")
    return loaded  # type: ignore[no-any-return]


def create_in_process(name: str, parameters: Mapping[str, Any] | None = None) -> StorageDriver:
    """Create the in-process driver ``name`` (registered or installed), never spawning an executable.

    Raises InvalidStorageDriverError when no in-process driver has that name; the driver's own errors for bad
    parameters (InvalidParameterError) propagate.
    """
    factory = _in_process_factory(name)
    if factory is None:
        raise InvalidStorageDriverError(name, "no in-process driver registered or installed under that name")
    return factory(dict(parameters or {}))


def launch_executable(executable: str, name: str, parameters: Mapping[str, Any], **options: Any) -> StorageDriver:
    """Run ``executable`` as the out-of-process driver ``name`` through the installed launcher, with its options."""
    launchers = _entry_points(LAUNCHER_GROUP)
    if not launchers:
        raise InvalidStorageDriverError(name, f"found {executable} but no launcher is installed to run it")
    launcher: Launcher = launchers[sorted(launchers)[0]].load()
    return launcher(executable, name, parameters, **options)


def create(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    out_of_process: bool = False,
    **launch_options: Any,
) -> StorageDriver:
    """Create the driver called ``name`` with ``parameters`` (a JSON-like mapping).

    ``launch_options`` go to the launcher when the driver runs out of process (for the client: ``timeout``,
    ``restart``, ``secret_parameters``...); an in-process driver ignores them. Raises InvalidStorageDriverError,
    saying what was looked for, when no driver has that name, and whatever the driver raises for bad parameters
    (InvalidParameterError).
    """
    if not isinstance(name, str) or not name:
        raise InvalidStorageDriverError(str(name), "a driver name must be a non-empty string")
    parameters = dict(parameters or {})
    if not out_of_process:
        factory = _in_process_factory(name)
        if factory is not None:
            return factory(parameters)
    executable = find_executable(name)
    if executable is None:
        where = f"${DRIVERS_PATH_VARIABLE}, $PATH and {os.path.dirname(sys.executable)}"
        looked = f"no executable {EXECUTABLE_PREFIX}{name} in {where}"
        if not out_of_process:
            looked = f"no in-process driver registered or installed under that name, and {looked}"
        raise InvalidStorageDriverError(name, looked)
    return launch_executable(executable, name, parameters, **launch_options)
