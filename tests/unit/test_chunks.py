"""The chunk cursor the proxy read streams share: views without copies, a whole chunk handed back as itself."""

from __future__ import annotations

from registry_storage.client.chunks import ChunkCursor, joined


def test_a_whole_bytes_chunk_taken_at_once_is_handed_back_as_itself() -> None:
    chunk = bytes(range(256)) * 16
    cursor = ChunkCursor()
    cursor.load(chunk)
    assert joined([cursor.take(len(chunk))]) is chunk
    assert cursor.available == 0


def test_part_of_a_chunk_or_a_bytearray_is_copied_into_bytes() -> None:
    cursor = ChunkCursor()
    cursor.load(b"abcdef")
    first = joined([cursor.take(4)])
    assert (first, type(first)) == (b"abcd", bytes)
    mutable = bytearray(b"xyz")
    cursor.load(mutable)
    copied = joined([cursor.take(10)])
    mutable[0] = ord("!")
    assert (copied, type(copied)) == (b"xyz", bytes)


def test_pieces_of_several_chunks_are_joined_in_order() -> None:
    cursor = ChunkCursor()
    cursor.load(b"ab")
    parts = [cursor.take(5)]
    cursor.load(b"cd\nef")
    assert cursor.find_line_end() == 3
    parts.append(cursor.take(cursor.find_line_end()))
    assert joined(parts) == b"abcd\n"
    assert cursor.available == 2
    cursor.clear()
    assert cursor.available == 0
