"""A driver executable that misbehaves on purpose, for the ``registry-storage check`` tests.

Run as ``python misbehaving_driver.py '{"fault": "..."}'`` and served by the real host. Faults:

- ``wrong``: answers some calls wrongly (``list`` unsorted, ``stat`` one byte too large, ``get_content`` of a
  one-byte file empty);
- ``crash``: the process exits with status 9 in every ``stat`` of a file;
- ``hang``: every ``stat`` of a file never answers.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import replace

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.fileinfo import FileInfo
from registry_storage.host import serve


class MisbehavingDriver(InMemoryDriver):
    """The in-memory driver with one fault."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def _list(self, path: str) -> list[str]:
        children = super()._list(path)
        return children[::-1] if self.fault == "wrong" else children

    def _stat(self, path: str) -> FileInfo:
        info = super()._stat(path)
        if not info.is_dir and self.fault == "crash":
            os._exit(9)
        if not info.is_dir and self.fault == "hang":
            threading.Event().wait()
        return replace(info, size=info.size + 1) if self.fault == "wrong" and not info.is_dir else info

    def _get_content(self, path: str) -> bytes:
        content = super()._get_content(path)
        return b"" if self.fault == "wrong" and len(content) == 1 else content


if __name__ == "__main__":
    parameters = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sys.exit(serve(MisbehavingDriver(str(parameters.get("fault", "")))))
