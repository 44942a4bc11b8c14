"""The driver program ``registry-storage-<name>``: parameters in, a driver made, the protocol served.

Every console script (``registry-storage-filesystem``, ``-inmemory``, ``-s3``, ``-azure``) runs :func:`main`, which
takes the driver name from the program's name; ``python -m registry_storage.host <name> [parameters]`` runs
:func:`run` with the name given. Parameters (protocol.md section 2): argv[1] is a JSON object (missing means ``{}``);
when ``REGISTRY_STORAGE_PARAMETERS_FILE`` is set, that file's JSON object is merged over it. The driver is created
in this process only (:func:`registry_storage.factory.create_in_process`), never spawned.

Exit statuses (protocol.md section 10): 0 after ``shutdown`` or end of input; 2 for usage errors (bad argv[1], bad
parameters, unreadable parameters file, no driver of that name, started on a terminal); 1 when the driver fails to
start for another reason (a missing extra is a broken install); 3 when the channel broke; 128 + N after signal N.
Each start-up failure is reported as ONE stderr line, ``ERROR registry-storage-<name>: <error object>``
(:mod:`registry_storage.wire.startup`), so the client raises the typed error.
"""

from __future__ import annotations

import os
import sys

from registry_storage.errors import InvalidParameterError, InvalidStorageDriverError, StorageDriverError
from registry_storage.factory import EXECUTABLE_PREFIX, create_in_process
from registry_storage.observability import tracing
from registry_storage.wire import loads
from registry_storage.wire.handshake import PROTOCOL_VERSION
from registry_storage.wire.startup import format_startup_error

from .lifecycle import configure_logging, terminate

PARAMETERS_FILE_VARIABLE = "REGISTRY_STORAGE_PARAMETERS_FILE"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_EXAMPLES = {
    "filesystem": '{"rootdirectory": "/var/lib/registry"}',
    "s3": '{"bucket": "my-bucket", "region": "us-east-1"}',
    "azure": '{"accountname": "myaccount", "container": "registry"}',
}


_OBJECT_EXAMPLE = '{"name": "value"}'


class UsageError(Exception):
    """The program was started wrongly; the message says how, ``parameter`` names where (``argv[1]`` or the
    parameters file's variable)."""

    def __init__(self, message: str, parameter: str = "argv[1]") -> None:
        super().__init__(message)
        self.parameter = parameter


def usage(name: str) -> str:
    """What the program is and how it is used: printed by ``--help`` and when started on a terminal."""
    program = EXECUTABLE_PREFIX + name
    example = _EXAMPLES.get(name, "{}")
    return (
        f"{program} is a registry-storage driver ({name}). A client starts it and speaks the registry-storage\n"
        f"protocol {PROTOCOL_VERSION} with it: JSON-RPC 2.0 frames on stdin and stdout, log lines on stderr. It is\n"
        "not meant to be used from a terminal. Its parameters are one JSON object in the first argument (secrets can\n"
        f"come from the file named by ${PARAMETERS_FILE_VARIABLE}), for example:\n"
        f"    {program} '{example}'\n"
        f"To check that the driver works, run: registry-storage check {name}\n"
    )


def read_parameters(argument: str | None) -> dict[str, object]:
    """argv[1] as a JSON object (``{}`` when absent), with the parameters file's object merged over it.

    Raises UsageError for bad JSON, a value that is not an object, or an unreadable parameters file.
    """
    parameters = {} if argument is None else _json_object(argument, "argv[1]")
    path = os.environ.pop(PARAMETERS_FILE_VARIABLE, "")
    if path:
        try:
            with open(path, "rb") as file:
                content = file.read()
        except OSError as error:
            reason = f"cannot read the parameters file {path}: {error.strerror or error}"
            raise UsageError(reason, PARAMETERS_FILE_VARIABLE) from None
        try:
            parameters.update(_json_object(content, f"the parameters file {path}"))
        except UsageError as error:
            raise UsageError(str(error), PARAMETERS_FILE_VARIABLE) from None
    return parameters


def _json_object(text: str | bytes, where: str) -> dict[str, object]:
    try:
        value = loads(text)
    except ValueError as error:
        raise UsageError(f"{where} is not valid JSON ({error}); expected an object like {_OBJECT_EXAMPLE}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a JSON object of parameters, not {type(value).__name__}")
    return value


def _fail(name: str, error: StorageDriverError) -> None:
    """Write the start-up failure line (protocol.md section 2) for ``error``."""
    print(format_startup_error(EXECUTABLE_PREFIX + name, error, name), file=sys.stderr, flush=True)


def _usage_error(name: str, parameter: str, message: str) -> InvalidParameterError:
    error = InvalidParameterError(parameter, message, driver=name)
    error.message = message
    return error


def _is_broken_install(error: InvalidStorageDriverError) -> bool:
    """True when the driver is installed but its module (or an extra it needs) cannot be imported."""
    return isinstance(error.__cause__, ImportError)


def run(name: str, arguments: list[str]) -> int:
    """Run driver ``name`` with the program arguments ``arguments`` (argv[1:]); returns the exit status."""
    if arguments and arguments[0] in ("--help", "-h"):
        sys.stdout.write(usage(name))
        sys.stdout.flush()
        return EXIT_OK
    if os.isatty(0):
        sys.stderr.write(usage(name))
        sys.stderr.flush()
        return EXIT_USAGE
    if len(arguments) > 1:
        _fail(name, _usage_error(name, "argv", "expected at most one argument, a JSON object of parameters"))
        return EXIT_USAGE
    try:
        parameters = read_parameters(arguments[0] if arguments else None)
    except UsageError as error:
        _fail(name, _usage_error(name, error.parameter, str(error)))
        return EXIT_USAGE
    configure_logging()
    try:
        driver = create_in_process(name, parameters)
    except InvalidParameterError as error:
        _fail(name, error)
        return EXIT_USAGE
    except InvalidStorageDriverError as error:
        _fail(name, error)
        return EXIT_FAILURE if _is_broken_install(error) else EXIT_USAGE
    except StorageDriverError as error:
        error.message = f"cannot start: {error.message}"
        _fail(name, error)
        return EXIT_FAILURE
    except Exception as error:
        _fail(name, StorageDriverError(f"cannot start: {type(error).__name__}: {error}", driver=name))
        return EXIT_FAILURE

    from . import serve  # noqa: PLC0415 - jsonrpcserver is imported only once the driver exists

    tracing.configure_from_environment()
    try:
        return serve(driver)
    finally:
        tracing.shutdown()


def main() -> None:
    """Entry point of every ``registry-storage-<name>`` console script; never returns."""
    program = os.path.basename(sys.argv[0])
    name = program[len(EXECUTABLE_PREFIX) :] if program.startswith(EXECUTABLE_PREFIX) else ""
    if not name:
        expected = f"expected {EXECUTABLE_PREFIX}<name>"
        print(f"{program}: cannot tell the driver from the program name; {expected}", file=sys.stderr)
        terminate(EXIT_USAGE)
    terminate(run(name, sys.argv[1:]))


__all__ = ["PARAMETERS_FILE_VARIABLE", "UsageError", "main", "read_parameters", "run", "usage"]
