"""``python -m registry_storage.host <name> [parameters]``: run driver ``name`` like ``registry-storage-<name>``."""

from __future__ import annotations

import sys

from .executable import EXIT_OK, EXIT_USAGE, run, usage
from .lifecycle import terminate


def _main() -> None:
    arguments = sys.argv[1:]
    if not arguments or arguments[0] in ("--help", "-h"):
        stream = sys.stdout if arguments else sys.stderr
        stream.write('usage: python -m registry_storage.host <driver name> [\'{"parameter": "value"}\']\n\n')
        stream.write(usage("<name>"))
        terminate(EXIT_OK if arguments else EXIT_USAGE)
    terminate(run(arguments[0], arguments[1:]))


if __name__ == "__main__":
    _main()
