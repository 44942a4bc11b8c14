"""The proxy within the client's receive limits: answers too large for one message take another way."""

from __future__ import annotations

import registry_storage
from registry_storage.wire.handshake import Limits

FILES = 120


def test_walk_larger_than_one_answer_is_walked_by_list_and_stat() -> None:
    limits = Limits(max_message_bytes=8192)  # the walk answer below is about 11 KiB
    with registry_storage.create("inmemory", {}, out_of_process=True, limits=limits) as driver:
        for index in range(FILES):
            driver.put_content(f"/tree/dir-{index % 4}/file-{index:04}", b"x" * (index % 7))
        walked = list(driver.walk("/"))
        expected = ["/tree"]
        for directory in range(4):
            expected.append(f"/tree/dir-{directory}")
            expected += [f"/tree/dir-{directory}/file-{index:04}" for index in range(directory, FILES, 4)]
        assert [info.path for info in walked] == expected
        assert [info.size for info in walked if not info.is_dir] == [
            index % 7 for directory in range(4) for index in range(directory, FILES, 4)
        ]
        driver.delete("/tree")
