"""A driver with one directory of many files it makes up as it goes: ``python large_driver.py '{"entries": N}'``.

``/big`` holds ``entries`` empty files named :data:`NAME`; ``walk`` generates them lazily, so whatever memory a walk
costs in this process is the protocol's, not the store's. ``list`` returns them all, as the interface says. Served by
the real host. Writing is not supported.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import PathNotFoundError, UnsupportedMethodError
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.host import serve
from registry_storage.walkorder import is_after

NAME = "file-{:07d}-" + "x" * 32
"""About 45 bytes a name: 500,000 of them make one ``list`` answer of about 25 MB, over a 16 MiB message."""

DIRECTORY = "/big"


class LargeDriver(StorageDriver):
    """``/big`` and its ``entries`` files, sorted by name because the numbers are zero-padded."""

    name = "large"

    def __init__(self, entries: int) -> None:
        self.entries = entries

    def _file(self, path: str) -> int:
        prefix = DIRECTORY + "/file-"
        if path.startswith(prefix) and path == f"{DIRECTORY}/{NAME.format(int(path[len(prefix) : len(prefix) + 7]))}":
            index = int(path[len(prefix) : len(prefix) + 7])
            if index < self.entries:
                return index
        raise PathNotFoundError(path)

    def _stat(self, path: str) -> FileInfo:
        if path in ("/", DIRECTORY):
            return FileInfo(path, 0, EPOCH, is_dir=True)
        self._file(path)
        return FileInfo(path, 0, EPOCH, is_dir=False)

    def _list(self, path: str) -> PathList:
        if path == "/":
            return [DIRECTORY]
        if path != DIRECTORY:
            raise PathNotFoundError(path)
        return [f"{DIRECTORY}/{NAME.format(index)}" for index in range(self.entries)]

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        if path not in ("/", DIRECTORY):
            raise PathNotFoundError(path)
        return self._generate(path, start_after)

    def _generate(self, path: str, start_after: str | None) -> Iterator[FileInfo]:
        if path == "/" and is_after(DIRECTORY, start_after):
            yield FileInfo(DIRECTORY, 0, EPOCH, is_dir=True)
        for index in range(self.entries):
            child = f"{DIRECTORY}/{NAME.format(index)}"
            if is_after(child, start_after):
                yield FileInfo(child, 0, EPOCH, is_dir=False)

    def _get_content(self, path: str) -> bytes:
        self._file(path)
        return b""

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        self._file(path)
        return io.BytesIO()

    def _put_content(self, path: str, content: bytes) -> None:
        raise UnsupportedMethodError("put_content")

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        raise UnsupportedMethodError("write_stream")

    def _move(self, source: str, destination: str) -> None:
        raise UnsupportedMethodError("move")

    def _delete(self, path: str) -> None:
        raise UnsupportedMethodError("delete")


if __name__ == "__main__":
    parameters = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sys.exit(serve(LargeDriver(int(parameters.get("entries", 0)))))
