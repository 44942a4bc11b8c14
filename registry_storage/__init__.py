"""registry-storage: one interface for filesystem-like key/value storage, with pluggable, isolatable drivers.

>>> import registry_storage
>>> with registry_storage.create("inmemory") as driver:
...     driver.put_content("/hello", b"world")
...     driver.get_content("/hello")
b'world'
"""

from registry_storage.driver import INTERFACE_VERSION, StorageDriver
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
from registry_storage.factory import create, register
from registry_storage.fileinfo import FileInfo

__version__ = "0.1.0"

__all__ = [
    "INTERFACE_VERSION",
    "DeadlineExceededError",
    "DriverExitedError",
    "FileInfo",
    "IncompatibleVersionError",
    "InvalidOffsetError",
    "InvalidParameterError",
    "InvalidPathError",
    "InvalidStorageDriverError",
    "OperationCancelledError",
    "PathConflictError",
    "PathNotFoundError",
    "ProtocolError",
    "StorageDriver",
    "StorageDriverError",
    "UnsupportedMethodError",
    "__version__",
    "create",
    "register",
]
