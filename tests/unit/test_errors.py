"""The error tree: fields that rebuild each error, pickling, and the standard exception types errors also are."""

from __future__ import annotations

import errno
import pickle
from typing import Any

import pytest

from registry_storage import errors
from registry_storage.errors import (
    DeadlineExceededError,
    DriverExitedError,
    IncompatibleVersionError,
    InvalidOffsetError,
    InvalidParameterError,
    InvalidPathError,
    InvalidStorageDriverError,
    OperationCancelledError,
    PathConflictError,
    PathNotFoundError,
    ProtocolError,
    StorageDriverError,
    UnsupportedMethodError,
)

FIELDS: dict[type[StorageDriverError], dict[str, Any]] = {
    PathNotFoundError: {"path": "/a/b"},
    InvalidPathError: {"path": "/a/", "reason": "trailing slash"},
    InvalidOffsetError: {"path": "/a", "offset": -3},
    PathConflictError: {"path": "/a", "reason": "a directory is at this path"},
    UnsupportedMethodError: {"method": "url_for"},
    InvalidParameterError: {"parameter": "region", "reason": "unknown parameter", "accepted": ["bucket", "accesskey"]},
    InvalidStorageDriverError: {"name": "nosuch", "reason": "no executable registry-storage-nosuch"},
    OperationCancelledError: {"operation": "write_stream"},
    ProtocolError: {"reason": "frame too large"},
    IncompatibleVersionError: {"offered": ["1.0", "1.1"], "chosen": "2.0"},
    DriverExitedError: {"returncode": 3, "stderr_tail": "Traceback ...\nKeyError"},
    DeadlineExceededError: {"method": "stat", "timeout": 2.5},
}

CASES = [pytest.param(cls, fields, id=cls.__name__) for cls, fields in FIELDS.items()]


def test_every_error_type_is_covered() -> None:
    exported = {getattr(errors, name) for name in errors.__all__}
    assert exported - {StorageDriverError} == set(FIELDS)


@pytest.mark.parametrize(("cls", "fields"), CASES)
def test_every_error_is_a_storage_driver_error(cls: type[StorageDriverError], fields: dict[str, Any]) -> None:
    assert isinstance(cls(**fields), StorageDriverError)


@pytest.mark.parametrize(("cls", "fields"), CASES)
def test_fields_are_the_constructor_arguments(cls: type[StorageDriverError], fields: dict[str, Any]) -> None:
    error = cls(**fields, driver="s3")
    expected = dict(fields)
    if cls is InvalidParameterError:
        expected["accepted"] = sorted(fields["accepted"])
    assert error.fields() == expected
    for name, value in expected.items():
        assert getattr(error, name) == value


@pytest.mark.parametrize(("cls", "fields"), CASES)
def test_fields_rebuild_the_same_error(cls: type[StorageDriverError], fields: dict[str, Any]) -> None:
    error = cls(**fields, driver="azure")
    rebuilt = type(error)(**error.fields(), driver=error.driver)
    assert type(rebuilt) is cls
    assert rebuilt.fields() == error.fields()
    assert rebuilt.driver == "azure"
    assert rebuilt.message == error.message
    assert str(rebuilt) == str(error)


@pytest.mark.parametrize(("cls", "fields"), CASES)
def test_pickle_round_trip_keeps_type_fields_driver_and_message(
    cls: type[StorageDriverError], fields: dict[str, Any]
) -> None:
    error = cls(**fields, driver="filesystem")
    error.message = error.message + " (edited)"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.fields() == error.fields()
    assert copy.driver == "filesystem"
    assert copy.message == error.message
    assert str(copy) == str(error)


def test_pickle_keeps_the_message_of_the_base_error() -> None:
    copy = pickle.loads(pickle.dumps(StorageDriverError("disk on fire", driver="filesystem")))
    assert type(copy) is StorageDriverError
    assert copy.message == "disk on fire"
    assert copy.driver == "filesystem"


def test_str_is_prefixed_with_the_driver_name_when_there_is_one() -> None:
    assert str(PathNotFoundError("/a")) == "path not found: /a"
    assert str(PathNotFoundError("/a", driver="inmemory")) == "inmemory: path not found: /a"
    assert str(StorageDriverError("boom", driver="s3")) == "s3: boom"


def test_repr_shows_fields_and_driver() -> None:
    assert repr(InvalidOffsetError("/a", -1, driver="s3")) == "InvalidOffsetError(path='/a', offset=-1, driver='s3')"
    assert repr(StorageDriverError("x")) == "StorageDriverError(driver='')"


def test_path_not_found_is_a_file_not_found_error() -> None:
    error = PathNotFoundError("/missing", driver="inmemory")
    assert isinstance(error, FileNotFoundError)
    assert isinstance(error, OSError)
    assert error.errno == errno.ENOENT
    assert error.filename == "/missing"
    with pytest.raises(FileNotFoundError):
        raise error


def test_deadline_exceeded_is_a_timeout_error() -> None:
    error = DeadlineExceededError("stat", 1.0, driver="s3")
    assert isinstance(error, TimeoutError)
    assert str(error) == "s3: stat got no answer within 1 s"


def test_incompatible_version_is_a_protocol_error() -> None:
    assert isinstance(IncompatibleVersionError(["1.0"], None), ProtocolError)


def test_invalid_parameter_error_lists_accepted_names() -> None:
    error = InvalidParameterError("regoin", "unknown parameter", ["region", "bucket"])
    assert "accepted parameters: bucket, region" in str(error)
    assert "none" in str(InvalidParameterError("x", "unknown parameter", []))
    assert "accepted" not in str(InvalidParameterError("x", "bad value"))


def test_driver_exited_error_shows_the_stderr_tail() -> None:
    assert "KeyError" in str(DriverExitedError(1, "KeyError: 'x'"))
    assert "stderr" not in str(DriverExitedError(1))
