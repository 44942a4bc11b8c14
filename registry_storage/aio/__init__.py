"""The asyncio interface: the StorageDriver contract as coroutines.

>>> from registry_storage import aio
>>> async with await aio.create("inmemory") as driver:  # doctest: +SKIP
...     await driver.put_content("/a", b"hello")

:func:`create` makes a driver by name. In process, the sync driver runs behind :class:`ThreadedAsyncDriver` on a
bounded pool of threads; out of process (``out_of_process=True``, or a driver found only as an executable), the
asyncio proxy that the client package advertises in the entry-point group ``registry_storage.async_launchers``
talks the protocol on asyncio pipes, with no thread per call or per stream. The core never imports the client.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from registry_storage import factory
from registry_storage.errors import InvalidStorageDriverError

from .driver import AsyncReadStream, AsyncStorageDriver
from .sources import AsyncByteSource, SupportsAsyncRead, aiter_chunks
from .threaded import DEFAULT_MAX_THREADS, ThreadedAsyncDriver

ASYNC_LAUNCHER_GROUP = "registry_storage.async_launchers"


async def launch_executable(
    executable: str, name: str, parameters: Mapping[str, Any], **options: Any
) -> AsyncStorageDriver:
    """Run ``executable`` as the out-of-process driver ``name`` through the installed async launcher."""
    launchers = {entry.name: entry for entry in metadata.entry_points(group=ASYNC_LAUNCHER_GROUP)}
    if not launchers:
        raise InvalidStorageDriverError(name, f"found {executable} but no async launcher is installed to run it")
    launcher = launchers[sorted(launchers)[0]].load()
    driver: AsyncStorageDriver = await launcher(executable, name, parameters, **options)
    return driver


async def create(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    out_of_process: bool = False,
    max_threads: int = DEFAULT_MAX_THREADS,
    **options: Any,
) -> AsyncStorageDriver:
    """Create the driver ``name`` with ``parameters`` behind the async interface.

    Lookup as :func:`registry_storage.create`: in-process drivers first (unless ``out_of_process``), run on at most
    ``max_threads`` threads; then the executable ``registry-storage-<name>`` behind the asyncio proxy, shaped by
    ``options`` (``timeout``, ``restart``, ``secret_parameters``... as the threaded proxy's). Raises
    InvalidStorageDriverError when no driver has that name, and what the driver raises for bad parameters.
    """
    if not isinstance(name, str) or not name:
        raise InvalidStorageDriverError(str(name), "a driver name must be a non-empty string")
    parameters = dict(parameters or {})
    if not out_of_process and name in factory.installed_drivers():
        loop = asyncio.get_running_loop()
        driver = await loop.run_in_executor(None, factory.create_in_process, name, parameters)
        return ThreadedAsyncDriver(driver, max_threads=max_threads)
    executable = factory.find_executable(name)
    if executable is None:
        where = f"${factory.DRIVERS_PATH_VARIABLE}, $PATH and {os.path.dirname(sys.executable)}"
        raise InvalidStorageDriverError(name, f"no executable {factory.EXECUTABLE_PREFIX}{name} in {where}")
    return await launch_executable(executable, name, parameters, **options)


__all__ = [
    "DEFAULT_MAX_THREADS",
    "AsyncByteSource",
    "AsyncReadStream",
    "AsyncStorageDriver",
    "SupportsAsyncRead",
    "ThreadedAsyncDriver",
    "aiter_chunks",
    "create",
    "launch_executable",
]
