"""One run of a driver executable: the child process, its channel and what its handshake announced.

:meth:`Session.start` spawns, connects and shakes hands; :meth:`Session.stop` runs the stop sequence of protocol.md
section 10: a ``shutdown`` request, closing stdin, SIGTERM, SIGKILL, each step with a timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry_storage.errors import DriverExitedError, IncompatibleVersionError

from . import calls
from .connection import Connection
from .handshake import DriverInfo, handshake
from .options import ProxyOptions
from .process import DriverProcess


class Session:
    """A driver child with a live channel, ready for calls once :meth:`start` returned it."""

    def __init__(self, process: DriverProcess, connection: Connection, info: DriverInfo, options: ProxyOptions) -> None:
        self.process = process
        self.connection = connection
        self.info = info
        self.options = options

    @classmethod
    def start(cls, executable: str, name: str, parameters: Mapping[str, Any], options: ProxyOptions) -> Session:
        """Spawn ``executable`` as driver ``name`` and shake hands with it.

        Raises InvalidStorageDriverError when it cannot be run, InvalidParameterError (its cause the
        DriverExitedError) when it exits with status 2 after a start-up failure line naming a bad parameter
        (protocol.md section 2), DriverExitedError when it exits before answering otherwise,
        IncompatibleVersionError when it speaks no common protocol version (the child is stopped first), and
        DeadlineExceededError when it stays silent.
        """
        process = DriverProcess.spawn(executable, name, parameters, options)
        connection = Connection(
            process.stdout,
            process.stdin,
            name,
            on_exit=process.exited_error,
            timeout=options.timeout,
            limits=options.limits,
        )
        try:
            connection.start()
            info = handshake(connection, options.protocol_versions, name, options.start_timeout)
        except DriverExitedError as exited:
            cls._stop(process, connection, options, shutdown=False)
            failure = calls.startup_failure(exited, name)
            if failure is exited:
                raise
            raise failure from exited
        except BaseException as error:
            cls._stop(process, connection, options, shutdown=isinstance(error, IncompatibleVersionError))
            raise
        finally:
            process.release_parameters()
        process.driver = info.name
        if not info.can("concurrent"):
            connection.limit_in_flight(1)
        return cls(process, connection, info, options)

    @property
    def alive(self) -> bool:
        """True while the driver's channel is open."""
        return self.connection.failure is None

    def stop(self) -> int:
        """Stop the driver (``shutdown``, close stdin, SIGTERM, SIGKILL) and return its exit status."""
        return self._stop(self.process, self.connection, self.options, shutdown=True)

    @staticmethod
    def _stop(process: DriverProcess, connection: Connection, options: ProxyOptions, *, shutdown: bool) -> int:
        step = options.stop_timeout
        if shutdown:
            connection.run(calls.shutdown(connection.core, step))
        connection.close_writer(step)
        status = process.stop(step)
        connection.join(step)
        return status

    def detach(self) -> None:
        """Close the driver's stdin without waiting (the driver exits at end of input); for garbage collection."""
        self.connection.close_writer(0.0)
