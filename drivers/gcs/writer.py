"""ObjectWriter: ``write_stream`` on GCS with bounded memory, the prefix guarantee and no temporary object left.

A write at ``offset`` over an object of ``size`` bytes makes ``old[:min(offset, size)] + zeros + data``:

- **append** (``offset >= size > 0``, the registry's resumed upload): the zeros and the data go to a temporary object
  ``<name>~upload-<random>`` by a resumable upload, then one ``compose`` of the old object (at the generation that
  was read) and the temporary one replaces the object; the temporary object is deleted at the end, on failure too.
  Its name is not a valid path, so listings never show it;
- **rewrite** (``offset < size``, no old object, or an object near the service's limit of 1,024 components): the
  kept prefix is read back with one ranged GET of that generation and sent again, followed by the zeros and the data,
  in one resumable upload to the object itself;
- a write of at most :data:`SINGLE_UPLOAD_LIMIT` bytes is one upload request instead of a resumable session.

The object changes only when the upload is finalized, so readers see the old or the new content. When the write is
interrupted after the base is sent (the reader raises, the call is cancelled, a request fails), the upload is
finalized with the bytes sent so far and, when appending, composed: the content is the base plus the first k bytes
read, and ``stat`` tells k. If the base itself cannot be stored, the old object stays as it was.

Memory: the SDK's resumable upload buffers one chunk (``chunksize``) and copies it out to send it, so a write holds
about two chunks plus the piece being written, whatever its size.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, BinaryIO

from registry_storage.streams import CHUNK_SIZE, zeros

from .reader import open_response

if TYPE_CHECKING:
    from .bucket import Bucket, ObjectInfo

logger = logging.getLogger(__name__)

COMPONENT_LIMIT = 1000
"""Appends compose while the object has fewer components than this (the service allows 1,024); past it, the next
write sends the whole content again as one non-composite object."""

SINGLE_UPLOAD_LIMIT = 1 << 20
"""Writes up to this many bytes are held and sent in one request; larger ones start a resumable upload (holding less
keeps a third chunk-sized copy out of memory when the session starts)."""

TEMPORARY_MARKER = "~upload-"
"""Between an object's name and a random token in the name of a temporary object; ``~`` is never in a path."""


def temporary_name(name: str) -> str:
    """A fresh name for the temporary object of one append to ``name``."""
    return f"{name}{TEMPORARY_MARKER}{uuid.uuid4().hex}"


class _Upload:
    """The bytes of one new object: held until more than :data:`SINGLE_UPLOAD_LIMIT` have come, then sent by a
    resumable upload in chunks of ``chunk_size``."""

    def __init__(self, bucket: Bucket, name: str, path: str, chunk_size: int) -> None:
        self._bucket = bucket
        self._name = name
        self._path = path
        self._chunk_size = chunk_size
        self._held = bytearray()
        self._writer: BinaryIO | None = None
        self._finished = False
        self.size = 0

    def feed(self, data: bytes) -> None:
        """Add ``data`` at the end; sends a chunk whenever one is full."""
        self.size += len(data)
        if self._writer is None:
            self._held += data
            if len(self._held) <= min(SINGLE_UPLOAD_LIMIT, self._chunk_size):
                return
            self._writer = self._bucket.open_writer(self._name, self._path)
            held, self._held = self._held, bytearray()
            with self._bucket.translated("write", self._path):
                self._writer.write(held)
            return
        with self._bucket.translated("write", self._path):
            self._writer.write(data)

    def finish(self) -> None:
        """Create the object from everything fed (the old one, if any, is replaced at once); once only."""
        if self._finished:
            return
        self._finished = True
        if self._writer is None:
            self._bucket.upload(self._name, self._path, bytes(self._held))
            self._held = bytearray()
            return
        with self._bucket.translated("write", self._path):
            self._writer.close()

    def abandon(self) -> None:
        """Cancel the resumable upload, if one began: nothing is created. Never raises."""
        if self._writer is not None and not self._finished:
            self._finished = True
            with suppress(Exception):
                self._writer.terminate()  # type: ignore[attr-defined]


class ObjectWriter:
    """Writes one stream of chunks into the object ``name`` (see the module docstring); one :meth:`write` each."""

    def __init__(self, bucket: Bucket, name: str, path: str, chunk_size: int) -> None:
        self._bucket = bucket
        self._name = name
        self._path = path
        self._chunk_size = chunk_size

    def write(self, existing: ObjectInfo | None, offset: int, chunks: Iterator[bytes]) -> int:
        """Write ``chunks`` at ``offset`` over ``existing`` (the object as it was read, None when missing).

        Returns the bytes read. Errors of ``chunks`` propagate unchanged after the prefix is stored; service failures
        raise StorageDriverError.
        """
        size = existing.size if existing is not None else 0
        kept = min(offset, size)
        gap = offset - kept
        appending = existing is not None and 0 < kept == size and existing.component_count < COMPONENT_LIMIT
        if appending and gap == 0:
            first = next(chunks, None)
            if first is None:
                return 0  # the content is the base already
            chunks = _prepend(first, chunks)
        target = temporary_name(self._name) if appending else self._name
        upload = _Upload(self._bucket, target, self._path, self._chunk_size)
        read = 0
        base_sent = False
        try:
            if kept and not appending and existing is not None:
                self._send_prefix(upload, existing, kept)
            for piece in zeros(gap, min(CHUNK_SIZE, self._chunk_size)):
                upload.feed(piece)
            base_sent = True
            for chunk in chunks:
                upload.feed(chunk)
                read += len(chunk)
            upload.finish()
            if appending and existing is not None:
                self._bucket.compose(self._name, self._path, [self._name, target], existing.generation)
        except BaseException:
            self._salvage(upload, existing, target, appending=appending, base_sent=base_sent)
            raise
        finally:
            if appending:
                self._delete_temporary(target)
        return read

    def _send_prefix(self, upload: _Upload, existing: ObjectInfo, kept: int) -> None:
        response = self._bucket.open_range(self._name, self._path, 0, end=kept, generation=existing.generation)
        if response is None:
            return
        with open_response(response, self._path) as stream:
            remaining = kept
            while remaining > 0:
                piece = stream.read(min(CHUNK_SIZE, remaining))
                if not piece:
                    break
                upload.feed(piece)
                remaining -= len(piece)

    def _salvage(
        self, upload: _Upload, existing: ObjectInfo | None, target: str, *, appending: bool, base_sent: bool
    ) -> None:
        """After an interruption: store the base and what was fed, else leave the old object. Never raises."""
        if not base_sent:
            upload.abandon()
            return
        try:
            upload.finish()
            if appending and existing is not None:
                self._bucket.compose(self._name, self._path, [self._name, target], existing.generation)
            logger.info("interrupted write of %s kept %d bytes after the base", self._path, upload.size)
        except BaseException as error:
            upload.abandon()
            logger.warning("could not store the written prefix of %s: %s", self._path, error)

    def _delete_temporary(self, target: str) -> None:
        try:
            self._bucket.delete(target, self._path)
        except Exception as error:
            logger.warning("could not delete the temporary object %s: %s", target, error)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
