"""Many requests in flight on one channel (protocol.md section 1): answered by id, none blocking another."""

from __future__ import annotations

import threading

from .rawclient import RawClient
from .test_streams import open_gate


def test_a_slow_request_does_not_block_later_ones(gated: RawClient) -> None:
    slow = [gated.start("stat", {"path": f"/gated/{index}"}) for index in range(3)]
    assert gated.call("put_content", {"path": "/quick"}, b"q").result is None
    assert gated.call("stat", {"path": "/quick"}).result["size"] == 1
    assert gated.call("ping").result == {}
    assert not any(gated.answered(request_id) for request_id in slow)
    open_gate(gated)
    assert all(gated.result(request_id).error["code"] == 1001 for request_id in slow)


def test_pipelined_requests_from_many_threads_get_their_own_answers(inmemory: RawClient) -> None:
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for step in range(100):
                path = f"/t{index}/f{step % 7}"
                content = b"%d-%d" % (index, step)
                assert inmemory.call("put_content", {"path": path}, content).result is None
                reply = inmemory.call("get_content", {"path": path})
                assert reply.attachment == content
                assert reply.result == {"size": len(content)}
                assert inmemory.call("stat", {"path": path}).result["size"] == len(content)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures[0]
    assert inmemory.call("list", {"path": "/"}).result["paths"] == [f"/t{index}" for index in range(8)]
    assert inmemory.no_reply()
