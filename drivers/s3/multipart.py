"""Writing objects in parts: ``write_stream`` as one multipart upload, and server-side multipart copies.

ObjectWriter writes ``base + data``, where the base is the kept prefix of the existing object followed by a zero
gap, in parts of exactly ``part_size`` bytes (only the last part shorter), so that stores requiring equal parts
accept them:

- whole parts of the kept prefix are copied on the server (UploadPartCopy, conditional on the ETag that was read);
  the rest of the prefix, less than one part, is read back with one ranged GET and uploaded again;
- the gap is zero-filled one part at a time, never built whole in memory;
- data is read in the calling thread and parts are uploaded by the driver's thread pool, at most ``concurrency``
  parts at once. A part is held in memory from the moment it starts filling until its upload finishes, and at most
  ``concurrency`` parts are held, so one write holds at most ``concurrency x part_size`` bytes of data
  (4 x 10 MiB = 40 MiB with the defaults);
- an object no larger than one part is stored with a single PUT.

When the write is interrupted (the reader raises, the call is cancelled, an upload fails), the writer stores the
base followed by the longest run of bytes it can still store in order, so the content is ``base + the first k bytes
read`` and ``stat`` tells k; if even the base cannot be stored, the old object stays as it was. No multipart upload
is left behind: each one is completed or aborted.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass

from registry_storage.errors import StorageDriverError
from registry_storage.streams import CHUNK_SIZE, zeros

from .bucket import Bucket
from .parameters import DRIVER_NAME, MAX_PART_SIZE

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
"""The most parts one multipart upload may have; an object can hold at most ``MAX_PARTS x part_size`` bytes."""

UPLOAD_CONCURRENCY = 4
"""Parts of one write held in memory (being filled or uploading) at once."""


@dataclass(frozen=True)
class ObjectTarget:
    """Where an object goes: its bucket, key, and the path errors name."""

    bucket: Bucket
    key: str
    path: str


@dataclass(frozen=True)
class _Part:
    size: int
    etag: Future[str]


class ObjectWriter:
    """Writes one object from a base and a stream of data; use each writer for one :meth:`write`."""

    def __init__(
        self, target: ObjectTarget, *, part_size: int, executor: Executor, concurrency: int = UPLOAD_CONCURRENCY
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._target = target
        self._part_size = part_size
        self._executor = executor
        self._slots = threading.BoundedSemaphore(concurrency)
        self._upload_id: str | None = None
        self._parts: list[_Part] = []
        self._buffer = bytearray()
        self._base = 0
        self._fed = 0
        self._failure: BaseException | None = None
        self._done = False

    def write(self, kept: int, gap: int, chunks: Iterator[bytes], *, etag: str | None = None) -> int:
        """Store the first ``kept`` bytes of the existing object, ``gap`` zero bytes, then every chunk.

        ``etag`` is the existing object's ETag (required when ``kept > 0``): the kept prefix is read only from that
        version. Returns the number of bytes taken from ``chunks``. Errors of the chunks propagate unchanged after
        the prefix written so far is stored; S3 failures raise StorageDriverError.
        """
        self._base = kept + gap
        read = 0
        try:
            copied = kept - kept % self._part_size
            if copied:
                self._copy_prefix(copied, etag)
            self._take_slot()
            if kept > copied:
                self._feed_existing(copied, kept, etag)
            for piece in zeros(gap, min(CHUNK_SIZE, self._part_size)):
                self._feed(piece)
            for chunk in chunks:
                self._feed(chunk)
                read += len(chunk)
            self._finish()
        except BaseException:
            self._salvage()
            raise
        return read

    # -- feeding -----------------------------------------------------------------------------------------------

    def _take_slot(self) -> None:
        """Wait until fewer than ``concurrency`` parts are held, then hold one more (the buffer being filled)."""
        self._slots.acquire()

    def _copy_prefix(self, copied: int, etag: str | None) -> None:
        target = self._target
        upload_id = self._start_upload()
        for start in range(0, copied, self._part_size):
            if self._failure is not None:
                raise self._failure
            number = len(self._parts) + 1
            self._slots.acquire()
            future = self._executor.submit(
                target.bucket.copy_part,
                target.key,
                target.path,
                upload_id=upload_id,
                number=number,
                source_key=target.key,
                start=start,
                end=start + self._part_size,
                etag=etag,
            )
            self._track(future, self._part_size)
        self._fed = copied

    def _feed_existing(self, start: int, end: int, etag: str | None) -> None:
        target = self._target
        body = target.bucket.get(target.key, target.path, start=start, end=end, etag=etag)["Body"]
        try:
            while True:
                try:
                    piece = body.read(CHUNK_SIZE)
                except Exception as error:
                    raise StorageDriverError(
                        f"reading the kept prefix of {target.path} failed: {error}", driver=DRIVER_NAME
                    ) from error
                if not piece:
                    break
                self._feed(piece)
        finally:
            body.close()

    def _feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            if len(self._buffer) == self._part_size:
                self._send_buffer()
            take = min(len(view), self._part_size - len(self._buffer))
            self._buffer += view[:take]
            self._fed += take
            view = view[take:]

    def _send_buffer(self) -> None:
        """Upload the full buffer as the next part and start a new one (waiting for a free slot)."""
        if self._failure is not None:
            raise self._failure
        if len(self._parts) >= MAX_PARTS:
            raise StorageDriverError(
                f"{self._target.path} would exceed {MAX_PARTS} parts of {self._part_size} bytes; raise chunksize",
                driver=DRIVER_NAME,
            )
        upload_id = self._upload_id or self._start_upload()
        target = self._target
        body, self._buffer = self._buffer, bytearray()
        number = len(self._parts) + 1
        future = self._executor.submit(target.bucket.upload_part, target.key, target.path, upload_id, number, body)
        self._track(future, len(body))
        self._take_slot()

    def _track(self, future: Future[str], size: int) -> None:
        def release(done: Future[str]) -> None:
            if not done.cancelled() and done.exception() is not None and self._failure is None:
                self._failure = done.exception()
            self._slots.release()

        self._parts.append(_Part(size, future))
        future.add_done_callback(release)

    def _start_upload(self) -> str:
        self._upload_id = self._target.bucket.create_upload(self._target.key, self._target.path)
        return self._upload_id

    # -- finishing ---------------------------------------------------------------------------------------------

    def _finish(self) -> None:
        target = self._target
        if self._upload_id is None:
            target.bucket.put(target.key, target.path, self._buffer)
            self._done = True
            return
        if self._buffer:
            self._send_buffer()
        wait([part.etag for part in self._parts])
        if self._failure is not None:
            raise self._failure
        target.bucket.complete_upload(target.key, target.path, self._upload_id, [p.etag.result() for p in self._parts])
        self._done = True

    def _salvage(self) -> None:
        """After a failure: store the base and the longest run of data that can still be stored, else keep the old
        object; complete or abort the multipart upload. Never raises: the caller re-raises the first error."""
        if self._done:
            return
        target = self._target
        try:
            if self._upload_id is None:
                if self._fed >= self._base:
                    target.bucket.put(target.key, target.path, self._buffer)
                return
            wait([part.etag for part in self._parts])
            etags = []
            for part in self._parts:
                if part.etag.cancelled() or part.etag.exception() is not None:
                    break
                etags.append(part.etag.result())
            if len(etags) == len(self._parts) and self._buffer and len(self._parts) < MAX_PARTS:
                number = len(self._parts) + 1
                etags.append(target.bucket.upload_part(target.key, target.path, self._upload_id, number, self._buffer))
                self._parts.append(_Part(len(self._buffer), _resolved(etags[-1])))
            stored = sum(part.size for part in self._parts[: len(etags)])
            if etags and stored >= self._base:
                target.bucket.complete_upload(target.key, target.path, self._upload_id, etags)
                logger.info("interrupted write kept %d bytes of %s", stored, target.path)
                self._upload_id = None
        except BaseException as error:
            logger.warning("could not store the written prefix of %s: %s", target.path, error)
        finally:
            if self._upload_id is not None:
                target.bucket.abort_upload(target.key, target.path, self._upload_id)
                self._upload_id = None
            self._done = True


def _resolved(value: str) -> Future[str]:
    future: Future[str] = Future()
    future.set_result(value)
    return future


def copy_in_parts(
    bucket: Bucket,
    source_key: str,
    target: ObjectTarget,
    size: int,
    *,
    part_size: int,
    concurrency: int,
    executor: Executor,
) -> None:
    """Copy the ``size``-byte object ``source_key`` to ``target`` on the server with concurrent UploadPartCopy.

    Parts are ``part_size`` bytes, grown when needed to stay within 10,000 parts; at most ``concurrency`` are
    copied at once. Any failure aborts the upload (the target stays as it was) and raises StorageDriverError.
    """
    part_size = min(max(part_size, math.ceil(size / MAX_PARTS)), MAX_PART_SIZE)
    upload_id = bucket.create_upload(target.key, target.path)
    slots = threading.BoundedSemaphore(concurrency)
    futures: list[Future[str]] = []
    completed = False
    try:
        for number, start in enumerate(range(0, size, part_size), start=1):
            slots.acquire()
            future = executor.submit(
                bucket.copy_part,
                target.key,
                target.path,
                upload_id=upload_id,
                number=number,
                source_key=source_key,
                start=start,
                end=min(start + part_size, size),
            )
            future.add_done_callback(lambda _: slots.release())
            futures.append(future)
            if any(done.done() and done.exception() is not None for done in futures[-concurrency:]):
                break
        wait(futures)
        bucket.complete_upload(target.key, target.path, upload_id, [future.result() for future in futures])
        completed = True
    finally:
        if not completed:
            wait(futures)
            bucket.abort_upload(target.key, target.path, upload_id)
