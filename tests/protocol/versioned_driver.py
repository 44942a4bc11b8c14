"""The in-memory driver served by the real host at a chosen protocol version and receive limits:
``python versioned_driver.py '{"protocol": "1.0", "max_attachment_bytes": 1024}'``.

With ``protocol`` 1.0 it is a complete 1.0-only driver (no pages, no ``start_after``, no ``put_content.open``), for
the tests of a newer client with an older driver; ``max_attachment_bytes`` shrinks the attachment limit it
announces, so large content takes the streaming paths.
"""

from __future__ import annotations

import json
import sys

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.host import serve
from registry_storage.wire import PROTOCOL_VERSION, Limits

if __name__ == "__main__":
    parameters = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    limits = Limits(max_attachment_bytes=int(parameters.get("max_attachment_bytes", Limits().max_attachment_bytes)))
    version = str(parameters.get("protocol", PROTOCOL_VERSION))
    sys.exit(serve(InMemoryDriver(), limits=limits, protocol_version=version))
