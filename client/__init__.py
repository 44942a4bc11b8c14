"""The client proxy: a StorageDriver that runs a driver executable as a child and talks the protocol to it.

>>> from registry_storage.client import launch
>>> with launch("registry-storage-inmemory", "inmemory", {}) as driver:  # doctest: +SKIP
...     driver.put_content("/a", b"hello")

:func:`launch` is the factory's launcher (entry point ``registry_storage.launchers``), so
``registry_storage.create(name, parameters, out_of_process=True)`` and drivers found only as executables come here.

Modules: :mod:`.options` (ProxyOptions), :mod:`.parameters` (which parameters are secret), :mod:`.spawner` (the
thread that forks children), :mod:`.process` (spawn, exit, stop), :mod:`.logs` (stderr to logging),
:mod:`.core` (the sans-IO session: ids, pending calls, limits, frames, error mapping), :mod:`.calls` (every
method's protocol logic as programs both edges run), :mod:`.connection` (the threaded edge: frames, deadlines),
:mod:`.handshake`, :mod:`.session` (one child's run), :mod:`.streams` and :mod:`.proxy` (ProxyDriver); the asyncio
edge is :mod:`.aio_connection` and :mod:`.aio_proxy` (AsyncProxyDriver, :func:`launch_async`).

Threads: one spawner thread per process forks every child (so the child's parent-death signal is tied to a thread
that lives as long as the process); each child has one reader thread (stdout frames to waiting calls) and one stderr
thread. Calling threads write their own frames under a lock and wait on their own call; no thread is started per
call or per stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .aio_proxy import AsyncProxyDriver, AsyncProxyReadStream, launch_async
from .options import DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT, DEFAULT_TIMEOUT, ProxyOptions
from .parameters import is_secret
from .proxy import ProxyDriver
from .streams import ProxyReadStream


def launch(
    executable: str,
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    options: ProxyOptions | None = None,
    **overrides: Any,
) -> ProxyDriver:
    """Start ``executable`` as driver ``name`` with ``parameters`` and return its proxy, ready for calls.

    ``options`` (or keyword overrides of its fields: ``timeout``, ``restart``, ``secret_parameters``, ``env``...)
    shape the proxy. Raises InvalidStorageDriverError when the executable cannot be run, DriverExitedError when it
    exits before the handshake (bad parameters), IncompatibleVersionError when it speaks no common protocol
    version, DeadlineExceededError when it does not answer the handshake in time, and TypeError for an unknown
    option.
    """
    chosen = options or ProxyOptions()
    if overrides:
        chosen = dataclasses.replace(chosen, **overrides)
    return ProxyDriver(executable, name, parameters, chosen)


__all__ = [
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_STOP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "AsyncProxyDriver",
    "AsyncProxyReadStream",
    "ProxyDriver",
    "ProxyOptions",
    "ProxyReadStream",
    "is_secret",
    "launch",
    "launch_async",
]
