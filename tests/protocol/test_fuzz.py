"""A seeded, bounded fuzzer thrown at the driver executables (DESIGN.md section 5: bad input of every kind).

Each run sends the same few thousand cases (the seed fixes them): malformed frames, hostile JSON, wrong types,
hostile paths, stream abuse and byte mutations of valid frames. The host must answer every request with a
well-formed JSON-RPC response, never an internal error (-32603, which would be a bug in these drivers), keep
serving (a ping answers after every batch), never escape the root directory, and exit cleanly at end of input.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_storage.wire import dumps, encode_frame

from .conftest import Spawn
from .rawclient import RawClient, Reply, driver_command

SEED = 20261202
CASES = 1500
"""Cases per driver; with two drivers, 3,000 in all."""
BATCH = 25
"""Cases between two checks that the host still answers."""
MAX_DECLARED = 64 << 10
"""Largest frame length a case may declare, so that filler bytes can always complete it."""

_LENGTHS = re.compile(rb"(?i)(?:content|attachment)-length\s*:\s*(\d+)")
_METHODS = [
    "handshake",
    "ping",
    "get_content",
    "put_content",
    "stat",
    "list",
    "walk",
    "move",
    "delete",
    "url_for",
    "read_stream.open",
    "write_stream.open",
    "stream.read",
    "stream.write",
    "stream.close",
    "stream.cancel",
    "$/cancel",
    "no.such.method",
    "",
]
_MEMBERS = ["path", "source", "destination", "offset", "size", "stream", "options", "id", "versions", "call", "self"]
_HOSTILE_PATHS = [
    "/",
    "",
    "..",
    "/..",
    "/../outside/sentinel",
    "/a/../../outside/sentinel",
    "/./a",
    "//a",
    "/a/",
    "a",
    "/a\x00b",
    "/a\\..\\b",
    "/~",
    "/.staging~",
    "/.staging~/x",
    "/" + "x" * 256,
    "/" + "x" * 255,
    "/a" * 2000,
    "/\u00e9t\u00e9",
    "/a b",
    "/%2e%2e/outside",
    "/a/b/c",
    "/a/b",
    "/a",
    "/file",
    "/file/below",
    "/dir/f",
]


def _random_scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            1,
            2**31,
            2**63 - 1,
            2**63,
            -(2**63),
            1.5,
            float("1e308"),
            "",
            "x",
            "0",
            "-1",
            "1e3",
            rng.choice(_HOSTILE_PATHS),
        ]
    )


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return _random_scalar(rng)
    if roll < 0.8:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(_MEMBERS): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


class Fuzzer:
    """Makes the cases; each is the bytes to send and whether they are one well-formed frame."""

    def __init__(self, rng: random.Random, streams: list[int]) -> None:
        self.rng = rng
        self.streams = streams
        self.next_id = 1_000_000

    def request(self, method: str, params: Any, attachment: bytes = b"", request_id: Any = "auto") -> bytes:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request_id == "auto":
            self.next_id += 1
            request_id = self.next_id
        if request_id is not None:
            message["id"] = request_id
        return b"".join(bytes(piece) for piece in encode_frame(dumps(message), attachment))

    def case(self) -> bytes:
        kind = self.rng.choice(
            [self.malformed_frame, self.hostile_json, self.wrong_types, self.hostile_path, self.stream_abuse]
            + [self.mutation] * 2
        )
        return kind()

    def malformed_frame(self) -> bytes:
        rng = self.rng
        body = b'{"jsonrpc":"2.0","method":"ping","id":1}'
        return rng.choice(
            [
                b"Content-Length: -1\r\n\r\n",
                b"Content-Length: abc\r\n\r\n",
                b"Content-Length: 1e3\r\n\r\n",
                b"Content-Length: 99999999999999999999\r\n\r\n",
                b"Content-Length:\r\n\r\n",
                b"Attachment-Length: 3\r\n\r\nabc",
                b"no colon here\r\n\r\n",
                b"\r\n\r\n",
                b"Content-Length: %d\r\nContent-Length: 2\r\n\r\n%s" % (len(body), body),
                b"Content-Length: %d\r\n\r\n%s" % (len(body) + 5, body),
                b"X-Padding: " + b"p" * rng.randrange(4090, 4200) + b"\r\n\r\n",
                bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))),
                b"content-length: 2\n\n{}",
                b"Content-Length: 0\r\n\r\n",
            ]
        )

    def hostile_json(self) -> bytes:
        rng = self.rng
        depth = rng.choice([10, 200, 253, 254, 255, 1000, 2000])
        nested = b"[" * depth + b"]" * depth
        member = rng.choice(_MEMBERS).encode()
        method = rng.choice(_METHODS).encode()
        text = rng.choice(
            [
                nested,
                b'{"jsonrpc":"2.0","method":"%s","params":{"%s":%s,"path":"/a"},"id":6}' % (method, member, nested),
                b'{"jsonrpc":"2.0","method":"url_for","params":{"path":"/a","options":{"%s":%s}},"id":7}'
                % (member, rng.choice([nested, b"1", b'"/b"'])),
                b'{"jsonrpc":"2.0","method":"stat","params":{"path":' + b"[" * depth + b"]" * depth + b'},"id":5}',
                b'{"jsonrpc":"2.0","method":"ping","id":' + b"9" * rng.randrange(1, 40) + b"}",
                b'{"jsonrpc":"2.0","method":"ping","id":1.5}',
                b'{"jsonrpc":"2.0","method":"ping","id":[1]}',
                b'{"jsonrpc":"2.0","method":"ping","id":{"a":1}}',
                b'{"jsonrpc":"2.0","method":"ping","id":true}',
                b'{"jsonrpc":"1.0","method":"ping","id":1}',
                b'{"jsonrpc":"2.0","method":5,"id":1}',
                b'{"jsonrpc":"2.0","id":1}',
                b'{"jsonrpc":"2.0","method":"stat","params":{"path":"\\ud800"},"id":1}',
                b'{"jsonrpc":"2.0","method":"stat","params":{"path":"/a","path":"/b"},"id":1}',
                b'{"jsonrpc":"2.0","method":"stat","params":{"path":"/a"},"id":1,"extra":[1,2]}',
                b"[]",
                b'[{"jsonrpc":"2.0","method":"ping","id":1}]',
                b"null",
                b'"text"',
                b"\xff\xfe\x00",
                b'{"a":NaN}',
                b"{" * 10,
                b"",
            ]
        )
        return b"".join(bytes(piece) for piece in encode_frame(text))

    def wrong_types(self) -> bytes:
        rng = self.rng
        params: Any = {rng.choice(_MEMBERS): _random_value(rng) for _ in range(rng.randrange(5))}
        if rng.random() < 0.1:
            params = _random_value(rng)
        attachment = bytes(rng.randrange(64)) if rng.random() < 0.3 else b""
        request_id: Any = "auto" if rng.random() < 0.9 else None
        return self.request(rng.choice(_METHODS), params, attachment, request_id)

    def hostile_path(self) -> bytes:
        rng = self.rng
        path = rng.choice(_HOSTILE_PATHS)
        method = rng.choice(
            [
                *("stat", "list", "walk", "get_content", "put_content", "delete", "move"),
                *("read_stream.open", "write_stream.open", "url_for"),
            ]
        )
        params: dict[str, Any] = {"path": path, "offset": rng.choice([0, 1, 2**40, 2**63, -1])}
        if method == "move":
            params = {"source": rng.choice(_HOSTILE_PATHS), "destination": path}
        attachment = b"fuzz" if method == "put_content" else b""
        return self.request(method, params, attachment)

    def stream_abuse(self) -> bytes:
        rng = self.rng
        stream = rng.choice([*self.streams, 0, -1, 2**62, 999_999]) if self.streams else rng.randrange(-2, 5)
        method = rng.choice(["stream.read", "stream.write", "stream.close", "stream.cancel", "$/cancel"])
        params: dict[str, Any] = {"stream": stream, "size": rng.choice([1, 4096, 0, -5, 4 << 20, (4 << 20) + 1])}
        if method == "$/cancel":
            params = {"id": rng.choice([self.next_id, self.next_id - 1, "x", None])}
        attachment = bytes(rng.randrange(2048)) if method == "stream.write" else b""
        count = rng.choice([1, 1, 1, 6, 12])  # more than a window at once
        return b"".join(self.request(method, params, attachment) for _ in range(count))

    def mutation(self) -> bytes:
        rng = self.rng
        while True:
            data = bytearray(self.wrong_types() if rng.random() < 0.5 else self.hostile_path())
            for _ in range(rng.randrange(1, 6)):
                position = rng.randrange(len(data))
                roll = rng.random()
                if roll < 0.5:
                    data[position] = rng.randrange(256)
                elif roll < 0.75:
                    del data[position]
                else:
                    data.insert(position, rng.randrange(256))
            if all(int(length) <= MAX_DECLARED for length in _LENGTHS.findall(bytes(data))):
                return bytes(data)


def declared(data: bytes) -> int:
    """The bytes the host may still be waiting for after ``data``: every length it declares, within the cap."""
    return sum(min(int(length), MAX_DECLARED) for length in _LENGTHS.findall(data) if len(length) < 16)


def check_reply(reply: Reply) -> None:
    """A well-formed JSON-RPC 2.0 response that is no internal error."""
    message = reply.message
    assert message.get("jsonrpc") == "2.0", message
    assert "id" in message, message
    if "error" in message:
        error = message["error"]
        assert isinstance(error["code"], int), message
        assert isinstance(error["message"], str), message
        assert error["code"] != -32603, message
        assert isinstance(error.get("data"), dict), message
    else:
        assert "result" in message, message


def drain(client: RawClient) -> Iterator[Reply]:
    """Every unclaimed frame received so far."""
    while not client.no_reply(0.0):
        yield client.next_reply()


def resynchronise(client: RawClient, data: bytes) -> None:
    """Complete whatever ``data`` declared, then end any header block begun, so the next frame is read as one."""
    client.send_bytes(b" " * (declared(data) + 16) + b"\r\n\r\n")


def alive(client: RawClient, last: bytes) -> bool:
    """True when a ping answers. A frame can legally swallow the frame after it (a header block missing its
    terminator takes in the next one, then resynchronisation skips it), so a lost ping is sent again a few times."""
    for _ in range(3):
        request_id = client.start("ping")
        try:
            return bool(client.result(request_id, timeout=10).result == {})
        except AssertionError:
            resynchronise(client, last)
    return False


def fuzz(client: RawClient, setup: Callable[[RawClient], list[int]], seed: int) -> int:
    """Run :data:`CASES` cases; returns how many answers were checked."""
    rng = random.Random(seed)
    fuzzer = Fuzzer(rng, setup(client))
    checked = 0
    for oversized in (b"Content-Length: 17000000\r\n\r\n",):
        client.send_bytes(oversized)  # refused at once, then skipped as it arrives, never held
        client.send_bytes(b" " * sum(int(length) for length in _LENGTHS.findall(oversized)))
    for batch in range(CASES // BATCH):
        for _ in range(BATCH):
            data = fuzzer.case()
            client.send_bytes(data)
            resynchronise(client, data)
        assert alive(client, data), f"no answer to ping after batch {batch}; stderr: {client.stderr_text()}"
        for reply in drain(client):
            check_reply(reply)
            checked += 1
        if batch % 10 == 9:
            fuzzer.streams[:] = setup(client)
    assert client.process.poll() is None
    return checked


def open_streams(client: RawClient) -> list[int]:
    """A few real streams for the stream abuse to aim at."""
    client.call("put_content", {"path": "/file"}, b"content of a file")
    client.call("put_content", {"path": "/dir/f"}, b"in a directory")
    streams = []
    for method, path in [("read_stream.open", "/file"), ("write_stream.open", "/w"), ("read_stream.open", "/dir/f")]:
        reply = client.call(method, {"path": path, "offset": 0})
        if "result" in reply.message:
            streams.append(reply.result["stream"])
    return streams


@pytest.mark.parametrize("seed", [SEED])
def test_fuzzing_the_inmemory_host(inmemory: RawClient, seed: int) -> None:
    assert fuzz(inmemory, open_streams, seed) > CASES // 2
    inmemory.close_stdin()
    assert inmemory.wait() == 0


@pytest.mark.parametrize("seed", [SEED + 1])
def test_fuzzing_the_filesystem_host_never_escapes_the_root(spawn: Spawn, tmp_path: Path, seed: int) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"untouched")
    client = spawn(driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")}))
    client.handshake()
    assert fuzz(client, open_streams, seed) > CASES // 2
    client.close_stdin()
    assert client.wait() == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["outside", "store"]
    assert [path.name for path in outside.iterdir()] == ["sentinel"]
    assert (outside / "sentinel").read_bytes() == b"untouched"
    for path in (tmp_path / "store").rglob("*"):
        relative = path.relative_to(tmp_path / "store").as_posix()
        assert relative.startswith(".staging~") or re.fullmatch(r"[A-Za-z0-9._/-]+", relative), relative
        assert not path.is_symlink()
