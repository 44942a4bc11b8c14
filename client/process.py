"""The driver child process: how it is started, how its exit is explained, and how it is stopped.

The child runs as ``[executable, json(public parameters)]`` with pipes for stdin, stdout and stderr. Secret
parameters never appear on its command line: they are written to an anonymous pipe that the parent holds open until
the handshake and the child opens by name, ``REGISTRY_STORAGE_PARAMETERS_FILE=/proc/<parent pid>/fd/N`` (protocol.md
section 2); the child inherits no descriptor of it, so nothing of the secrets stays open in the child. The child is
forked from the long-lived spawner thread (see :mod:`registry_storage.client.spawner`) and gets its own session, so
a Ctrl-C aimed at the caller's terminal does not interrupt it mid-write: the caller's own clean-up stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
from collections.abc import Mapping
from typing import IO, Any, overload

import orjson

from registry_storage.errors import DriverExitedError, InvalidParameterError, InvalidStorageDriverError

from .logs import StderrPump
from .options import ProxyOptions
from .parameters import split_parameters
from .spawner import run_in_spawner

PARAMETERS_FILE_VARIABLE = "REGISTRY_STORAGE_PARAMETERS_FILE"
EXIT_WAIT = 2.0
"""Seconds to wait, once stdout ended, for the child's exit status and the rest of its stderr."""


def _encode_parameters(parameters: Mapping[str, Any], driver: str) -> bytes:
    for name, value in parameters.items():
        try:
            orjson.dumps(value)
        except TypeError:
            kind = type(value).__name__
            raise InvalidParameterError(name, f"a {kind} cannot be passed to a driver process", driver=driver) from None
    return orjson.dumps(dict(parameters))


def _set_pipe_size(fd: int, size: int) -> None:
    if size > 0:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


def _secret_pipe(secrets: bytes) -> int:
    """A pipe holding ``secrets`` and already closed for writing; returns its read end."""
    read_fd, write_fd = os.pipe()
    try:
        if len(secrets) > 65536:
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, len(secrets))
        view = memoryview(secrets)
        while view:
            view = view[os.write(write_fd, view) :]
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return read_fd


def _environment(options: ProxyOptions, parameters_fd: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(PARAMETERS_FILE_VARIABLE, None)
    for key, value in (options.env or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if parameters_fd is not None:
        env[PARAMETERS_FILE_VARIABLE] = f"/proc/{os.getpid()}/fd/{parameters_fd}"
    return env


@overload
def exit_status(returncode: int) -> int: ...
@overload
def exit_status(returncode: None) -> None: ...
def exit_status(returncode: int | None) -> int | None:
    """An exit status in the shell's convention, which protocol.md section 10 uses: 128 + N after signal N
    (subprocess reports it as -N)."""
    if returncode is None or returncode >= 0:
        return returncode
    return 128 - returncode


class DriverProcess:
    """A running driver executable: its pipes, its stderr pump, and the stop sequence's process steps."""

    def __init__(
        self, popen: subprocess.Popen[bytes], driver: str, pump: StderrPump, parameters_fd: int | None = None
    ) -> None:
        self._popen = popen
        self.driver = driver
        self._pump = pump
        self._parameters_fd = parameters_fd

    def release_parameters(self) -> None:
        """Close the parent's end of the secret parameters pipe (once the child has read it: after the handshake)."""
        fd, self._parameters_fd = self._parameters_fd, None
        if fd is not None:
            os.close(fd)

    @classmethod
    def spawn(cls, executable: str, driver: str, parameters: Mapping[str, Any], options: ProxyOptions) -> DriverProcess:
        """Start ``executable`` as driver ``driver``.

        Raises InvalidParameterError for a parameter that cannot be encoded as JSON and InvalidStorageDriverError
        when the executable cannot be run.
        """
        public, secret = split_parameters(parameters, options.secret_parameters)
        argument = _encode_parameters(public, driver).decode()
        secrets = _encode_parameters(secret, driver) if secret else None

        parameters_fd = _secret_pipe(secrets) if secrets is not None else None

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [executable, argument],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                env=_environment(options, parameters_fd),
                start_new_session=True,
            )

        try:
            popen = run_in_spawner(start)
        except OSError as error:
            if parameters_fd is not None:
                os.close(parameters_fd)
            reason = f"cannot run {executable}: {error.strerror or error}"
            raise InvalidStorageDriverError(driver, reason, driver=driver) from error
        assert popen.stdin is not None
        assert popen.stdout is not None
        assert popen.stderr is not None
        _set_pipe_size(popen.stdin.fileno(), options.pipe_bytes)
        _set_pipe_size(popen.stdout.fileno(), options.pipe_bytes)
        pump = StderrPump(popen.stderr, driver)
        pump.start()
        return cls(popen, driver, pump, parameters_fd)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._popen.pid

    @property
    def stdin(self) -> IO[bytes]:
        """The write end of the child's stdin (unbuffered)."""
        assert self._popen.stdin is not None
        return self._popen.stdin

    @property
    def stdout(self) -> IO[bytes]:
        """The read end of the child's stdout (unbuffered)."""
        assert self._popen.stdout is not None
        return self._popen.stdout

    @property
    def returncode(self) -> int | None:
        """The exit status once the child has exited (128 + N when killed by signal N), else None."""
        return exit_status(self._popen.poll())

    def stderr_tail(self) -> str:
        """The last lines the child wrote to stderr."""
        return self._pump.tail()

    def exited_error(self) -> DriverExitedError:
        """Explain the end of the child's stdout: its exit status (None if still running) and its stderr tail."""
        status = self.wait(EXIT_WAIT)
        self._pump.join(EXIT_WAIT if status is not None else 0.0)
        return DriverExitedError(status, self._pump.tail(), driver=self.driver)

    def wait(self, timeout: float) -> int | None:
        """The exit status, waiting up to ``timeout`` seconds; None when the child is still running."""
        try:
            return exit_status(self._popen.wait(timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float) -> int:
        """The process steps of the stop sequence: wait, then SIGTERM, then SIGKILL, each up to ``timeout`` seconds.

        Call it after the shutdown request and closing stdin. Returns the exit status.
        """
        status = self.wait(timeout)
        for signal_number in (signal.SIGTERM, signal.SIGKILL):
            if status is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signal_number)
            status = self.wait(timeout)
        if status is None:  # SIGKILL is not ignorable; an uninterruptible sleep is all that is left
            status = exit_status(self._popen.wait())
        self._pump.join(timeout)
        return status
