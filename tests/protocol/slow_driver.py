"""A driver executable whose ``stat`` takes a while: ``python slow_driver.py '{"delay": 0.003}'``.

Served by the real host, so sequential calls each slower than the host's relief delay exercise the hand-over of
the reading from one thread to the next.
"""

from __future__ import annotations

import json
import sys
import time

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.fileinfo import FileInfo
from registry_storage.host import serve


class SlowDriver(InMemoryDriver):
    """The in-memory driver with a ``stat`` that sleeps ``delay`` seconds first."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def _stat(self, path: str) -> FileInfo:
        time.sleep(self.delay)
        return super()._stat(path)


if __name__ == "__main__":
    parameters = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sys.exit(serve(SlowDriver(float(parameters.get("delay", 0.003)))))
