"""Streams on block blobs: staged blocks, kept blocks, zero gaps, interrupted writes, reads from an offset."""

from __future__ import annotations

import io
import random
import tracemalloc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from azure.storage.blob import ContainerClient

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError, StorageDriverError

if TYPE_CHECKING:
    from tests.azure.conftest import Azurite, RecordingProxy

KIB = 1 << 10
MIB = 1 << 20
BLOCK = 64 * KIB


class ReaderGoneError(Exception):
    """What the test readers raise to interrupt a write."""


def _data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _failing(chunks: list[bytes]) -> Iterator[bytes]:
    yield from chunks
    raise ReaderGoneError("the client went away")


def _blocks(container: ContainerClient, name: str) -> list[tuple[str, int]]:
    committed, _ = container.get_blob_client(name).get_block_list("committed")
    return [(str(block.id), int(block.size)) for block in committed]


def _read_to_the_end(stream: io.BufferedIOBase) -> None:
    while stream.read(MIB):
        pass


@pytest.fixture
def small_blocks(azure_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
    """A driver staging 64 KiB blocks, so a few hundred KiB make many blocks."""
    with registry_storage.create("azure", {**azure_parameters, "blocksize": BLOCK}) as driver:
        yield driver


def test_an_interrupted_write_keeps_the_bytes_read_and_resumes(small_blocks: StorageDriver) -> None:
    data = _data(10 * BLOCK + 123, 1)
    first = [data[start : start + 50 * KIB] for start in range(0, 250 * KIB, 50 * KIB)]
    with pytest.raises(ReaderGoneError):
        small_blocks.write_stream("/uploads/layer", 0, _failing(first))
    size = small_blocks.stat("/uploads/layer").size
    assert size == 250 * KIB, "every byte read before the failure is kept"
    assert small_blocks.get_content("/uploads/layer") == data[:size]
    written = small_blocks.write_stream("/uploads/layer", size, io.BytesIO(data[size:]))
    assert written == len(data) - size
    assert small_blocks.get_content("/uploads/layer") == data


def test_an_interrupted_write_at_an_offset_keeps_the_base(small_blocks: StorageDriver) -> None:
    old = _data(5 * BLOCK, 2)
    small_blocks.write_stream("/file", 0, io.BytesIO(old))
    offset = 2 * BLOCK + 10
    new = _data(3 * BLOCK, 3)
    with pytest.raises(ReaderGoneError):
        small_blocks.write_stream("/file", offset, _failing([new[: BLOCK + 7]]))
    assert small_blocks.get_content("/file") == old[:offset] + new[: BLOCK + 7]
    with pytest.raises(ReaderGoneError):
        small_blocks.write_stream("/file", 4 * BLOCK, _failing([]))
    assert small_blocks.get_content("/file") == old[:offset] + new[: BLOCK + 7] + bytes(4 * BLOCK - offset - BLOCK - 7)


def test_a_write_at_an_offset_keeps_the_blocks_before_it(
    small_blocks: StorageDriver, container: ContainerClient
) -> None:
    data = _data(5 * BLOCK, 4)
    small_blocks.write_stream("/file", 0, [data])
    before = _blocks(container, "file")
    assert [size for _, size in before] == [BLOCK] * 5
    offset = 3 * BLOCK + 100
    tail = _data(BLOCK + 1, 5)
    assert small_blocks.write_stream("/file", offset, [tail]) == len(tail)
    after = _blocks(container, "file")
    assert after[:3] == before[:3], "whole blocks before the offset are kept, not uploaded again"
    assert [size for _, size in after[3:]] == [100, BLOCK, 1]
    assert len({block_id for block_id, _ in after}) == len(after)
    assert len({len(block_id) for block_id, _ in after}) == 1, "block ids of one blob have one length"
    assert small_blocks.get_content("/file") == data[:offset] + tail


def test_a_write_past_the_end_stages_the_gap_as_zero_blocks(
    small_blocks: StorageDriver, container: ContainerClient
) -> None:
    small_blocks.put_content("/sparse", b"head")
    offset = 3 * BLOCK + 5
    small_blocks.write_stream("/sparse", offset, [b"tail"])
    assert small_blocks.get_content("/sparse") == b"head" + bytes(offset - 4) + b"tail"
    assert [size for _, size in _blocks(container, "sparse")] == [4, BLOCK, BLOCK, BLOCK, 1, 4]
    small_blocks.write_stream("/new", BLOCK + 1, [])
    assert small_blocks.get_content("/new") == bytes(BLOCK + 1)


def test_a_write_can_cut_the_content_short(small_blocks: StorageDriver) -> None:
    data = _data(3 * BLOCK, 6)
    small_blocks.put_content("/file", data)
    assert small_blocks.write_stream("/file", BLOCK // 2, []) == 0
    assert small_blocks.get_content("/file") == data[: BLOCK // 2]
    assert small_blocks.stat("/file").size == BLOCK // 2


def test_small_writes_are_one_upload_and_large_ones_are_blocks(
    small_blocks: StorageDriver, container: ContainerClient
) -> None:
    small_blocks.write_stream("/small", 0, [b"a", b"b"])
    small_blocks.put_content("/put-small", b"c" * BLOCK)
    small_blocks.put_content("/put-large", _data(2 * BLOCK + 1, 7))
    assert _blocks(container, "small") == []
    assert _blocks(container, "put-small") == []
    assert [size for _, size in _blocks(container, "put-large")] == [BLOCK, BLOCK, 1]
    small_blocks.write_stream("/small", 1, [b"z"])
    assert small_blocks.get_content("/small") == b"az"


def test_blocks_are_staged_concurrently(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    parameters = azurite.parameters(
        container.container_name, serviceurl=azurite_proxy.service_url(), blocksize=BLOCK, maxconcurrency=4
    )
    data = _data(32 * BLOCK, 8)
    with registry_storage.create("azure", parameters) as driver:
        azurite_proxy.clear()
        driver.write_stream("/file", 0, (data[start : start + 16 * KIB] for start in range(0, len(data), 16 * KIB)))
        assert driver.get_content("/file") == data
    staging = azurite_proxy.requests_by_connection("comp=block&")
    assert sum(staging) == 32
    assert len([count for count in staging if count]) > 1, "blocks travel over several connections at once"


def test_write_stream_memory_stays_bounded(azurite: Azurite, container: ContainerClient) -> None:
    block = 256 * KIB
    parameters = azurite.parameters(container.container_name, blocksize=block, maxconcurrency=2)
    piece = _data(64 * KIB, 9)
    total = 16 * MIB

    def source() -> Iterator[bytes]:
        for _ in range(total // len(piece)):
            yield bytes(piece)

    with registry_storage.create("azure", parameters) as driver:
        tracemalloc.start()
        try:
            written = driver.write_stream("/big", 0, source())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert written == total
        assert driver.stat("/big").size == total
    bound = (2 * 2 + 2) * block
    assert peak < bound * 1.5, f"peak {peak} bytes, more than the bound of {bound} bytes"


def test_read_stream_reads_one_get_from_the_offset_as_it_is_read(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    data = _data(9 * MIB, 10)
    parameters = azurite.parameters(container.container_name, serviceurl=azurite_proxy.service_url())
    with registry_storage.create("azure", parameters) as driver:
        driver.put_content("/blob", data)
        azurite_proxy.clear()
        with driver.read_stream("/blob", 1) as stream:
            assert stream.read(10) == data[1:11]
            received = bytearray(data[1:11])
            buffer = bytearray(3 * MIB)
            while count := stream.readinto(buffer):
                received += buffer[:count]
                while piece := stream.read(100 * KIB):
                    received += piece
        assert bytes(received) == data[1:]
        assert [method for method, _ in azurite_proxy.requests()] == ["GET"], "one streamed GET, not ranged chunks"
        with driver.read_stream("/blob", len(data) - 5) as stream:
            assert stream.read() == data[-5:]
        with driver.read_stream("/blob", len(data)) as stream:
            assert stream.read() == b""
        with driver.read_stream("/blob", len(data) + 10) as stream:
            assert stream.read() == b""
        with pytest.raises(PathNotFoundError):
            driver.read_stream("/missing", 5)
        with pytest.raises(PathNotFoundError):
            driver.read_stream("/missing")


def test_a_stream_closed_early_leaves_the_driver_working(azure_driver: StorageDriver) -> None:
    data = _data(9 * MIB, 12)
    azure_driver.put_content("/blob", data)
    for _ in range(3):
        with azure_driver.read_stream("/blob", 7) as stream:
            assert stream.read(5) == data[7:12]
    assert azure_driver.get_content("/blob") == data
    with azure_driver.read_stream("/blob") as stream:
        assert stream.read() == data


def test_a_blob_replaced_while_it_is_read_streams_the_version_it_opened(azure_driver: StorageDriver) -> None:
    data = _data(9 * MIB, 11)
    azure_driver.put_content("/blob", data)
    with azure_driver.read_stream("/blob") as stream:
        assert stream.read(1) == data[:1]
        azure_driver.put_content("/blob", b"replaced")
        rest = stream.read()
    assert rest == data[1:], "one response serves one version: never a mix of the old and the new content"
    assert azure_driver.get_content("/blob") == b"replaced"


def test_a_connection_cut_while_a_stream_is_read_fails_it_as_a_storage_error(
    azurite: Azurite, container: ContainerClient, azurite_proxy: RecordingProxy
) -> None:
    data = _data(32 * MIB, 13)
    parameters = azurite.parameters(container.container_name, serviceurl=azurite_proxy.service_url(), maxretries=0)
    with registry_storage.create("azure", parameters) as driver:
        driver.put_content("/blob", data)
        with driver.read_stream("/blob", 3) as stream:
            assert stream.read(KIB) == data[3 : 3 + KIB]
            azurite_proxy.cut()
            with pytest.raises(StorageDriverError) as caught:
                _read_to_the_end(stream)
    assert not isinstance(caught.value, PathNotFoundError)
    assert "reading /blob from Azure failed" in str(caught.value)
