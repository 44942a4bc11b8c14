"""The asyncio proxy under load and abuse: 1,000 tasks at once, cancellation at every await point of a stream, a
driver dying under 100 waiting tasks, a stopped driver, and an event loop that ends with streams open."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from registry_storage import aio
from registry_storage.errors import (
    DeadlineExceededError,
    DriverExitedError,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageDriverError,
)
from registry_storage.factory import find_executable

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import AsyncProxyDriver, launch_async
else:
    from registry_storage.client import AsyncProxyDriver, launch_async

T = TypeVar("T")
GATED_DRIVER = Path(__file__).parent.parent / "protocol" / "gated_driver.py"
BOUND = 20.0
"""Seconds after which a test calls an await hung (far above what any step needs)."""


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(test(), 300))


def pattern(seed: int, size: int) -> bytes:
    blocks = (hashlib.sha256(b"%d-%d" % (seed, block)).digest() for block in range(size // 32 + 1))
    return b"".join(blocks)[:size]


async def inmemory(**options: Any) -> AsyncProxyDriver:
    executable = find_executable("inmemory")
    assert executable is not None, "registry-storage-inmemory is not installed"
    return await launch_async(executable, "inmemory", {}, **{"stop_timeout": 1.0, **options})


async def gated(tmp_path: Path, **options: Any) -> AsyncProxyDriver:
    script = tmp_path / "registry-storage-gated"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{GATED_DRIVER}" "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return await launch_async(str(script), "gated", {}, **{"stop_timeout": 1.0, **options})


def test_a_thousand_concurrent_tasks_through_one_proxy() -> None:
    async def body() -> None:
        async with await inmemory() as driver:

            async def one(index: int) -> None:
                content = pattern(index, 100 + index)
                await driver.put_content(f"/t/{index}", content)
                assert (await driver.stat(f"/t/{index}")).size == len(content)
                assert await driver.get_content(f"/t/{index}") == content

            await asyncio.gather(*(one(index) for index in range(1000)))
            assert len(await driver.list("/t")) == 1000
            assert driver.session.connection.core.pending_count == 0

    run(body)


def test_the_async_interface_validates_like_the_sync_one() -> None:
    async def body() -> None:
        for out_of_process in (False, True):
            async with await aio.create("inmemory", out_of_process=out_of_process) as driver:
                with pytest.raises(InvalidPathError):
                    await driver.get_content("relative")
                with pytest.raises(InvalidOffsetError):
                    await driver.read_stream("/a", -1)
                with pytest.raises(PathNotFoundError):
                    await driver.stat("/missing")
                with pytest.raises(PathNotFoundError):
                    [entry async for entry in driver.walk("/missing")]
                await driver.write_stream("/a", 0, b"abc")
                assert [entry.path async for entry in driver.walk("/")] == ["/a"]

    run(body)


class Slow:
    """An async reader that gives ``count`` chunks of ``size`` bytes, yielding to the loop before each."""

    def __init__(self, content: bytes, size: int) -> None:
        self.content = content
        self.size = size
        self.position = 0

    async def read(self, size: int = -1) -> bytes:
        await asyncio.sleep(0)
        piece = self.content[self.position : self.position + self.size]
        self.position += len(piece)
        return piece


async def cancel_after(steps: int, coroutine: Awaitable[Any]) -> bool:
    """Run ``coroutine`` as a task, cancel it after ``steps`` loop iterations; True when it was cancelled."""
    task = asyncio.ensure_future(coroutine)
    for _ in range(steps):
        if task.done():
            break
        await asyncio.sleep(0)
    task.cancel()
    try:
        await asyncio.wait_for(task, BOUND)
    except asyncio.CancelledError:
        return True
    return False


def test_cancelling_a_write_stream_at_every_await_point_leaves_a_resumable_prefix() -> None:
    async def body() -> None:
        async with await inmemory(chunk_bytes=4096) as driver:
            content = pattern(7, 64 << 10)
            steps = 0
            cancelled = True
            while cancelled:
                await driver.put_content("/w", b"base")
                write = driver.write_stream("/w", 4, Slow(content, 4096))
                cancelled = await cancel_after(steps, write)
                size = (await driver.stat("/w")).size
                assert await driver.get_content("/w") == b"base" + content[: size - 4]
                if cancelled:  # resume from the size stat tells
                    await driver.write_stream("/w", size, content[size - 4 :])
                    assert await driver.get_content("/w") == b"base" + content
                steps += 1
            assert steps > 10, "the write never reached its later await points"
            assert driver.session.connection.core.pending_count == 0
            await driver.ping()

    run(body)


def test_cancelling_a_read_stream_at_every_await_point_leaves_the_proxy_usable() -> None:
    async def body() -> None:
        async with await inmemory(chunk_bytes=4096) as driver:
            content = pattern(3, 64 << 10)
            await driver.put_content("/r", content)

            async def read_all() -> bytes:
                async with await driver.read_stream("/r", 100) as stream:
                    return b"".join([chunk async for chunk in stream])

            steps = 0
            while await cancel_after(steps, read_all()):
                steps += 1
            assert steps > 10
            assert await read_all() == content[100:]
            await asyncio.sleep(0.1)  # late answers of cancelled reads arrive and are dropped
            assert driver.session.connection.core.pending_count == 0

    run(body)


def test_cancelling_a_waiting_call_cancels_it_on_the_driver(tmp_path: Path) -> None:
    async def body() -> None:
        async with await gated(tmp_path) as driver:
            await driver.put_content("/gated/x", b"x")  # puts are not gated
            waiting = asyncio.ensure_future(driver.stat("/gated/x"))
            await asyncio.sleep(0.2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert driver.session.connection.core.pending_count == 0
            await driver.ping()
            os.kill(driver.pid, signal.SIGUSR1)
            assert (await driver.stat("/gated/x")).size == 1

    run(body)


def test_a_driver_that_dies_fails_all_hundred_waiting_tasks_promptly(tmp_path: Path) -> None:
    async def body() -> None:
        driver = await gated(tmp_path)
        try:
            waiting = [asyncio.ensure_future(driver.stat(f"/gated/{index}")) for index in range(100)]
            await asyncio.sleep(0.3)
            assert not any(task.done() for task in waiting)
            os.kill(driver.pid, signal.SIGKILL)
            done, pending = await asyncio.wait(waiting, timeout=BOUND)
            assert not pending, "tasks still wait for a dead driver"
            errors = [task.exception() for task in done]
            assert all(isinstance(error, DriverExitedError) for error in errors), errors[:3]
            assert all(
                error.returncode == 128 + signal.SIGKILL for error in errors if isinstance(error, DriverExitedError)
            )
        finally:
            await driver.close()

    run(body)


def test_a_stopped_driver_bounds_the_big_send_the_next_call_and_close() -> None:
    async def body() -> None:
        driver = await inmemory(timeout=2.0)
        os.kill(driver.pid, signal.SIGSTOP)
        try:
            big = asyncio.ensure_future(driver.put_content("/big", os.urandom(8 << 20)))
            await asyncio.sleep(0.3)
            second = asyncio.ensure_future(driver.stat("/"))
            done, _ = await asyncio.wait([big, second], timeout=BOUND)
            assert big in done
            assert second in done
            assert isinstance(big.exception(), DeadlineExceededError)
            assert isinstance(second.exception(), StorageDriverError)
            await asyncio.wait_for(driver.close(), BOUND)
            assert driver.session.process.returncode is not None
        finally:
            for signum in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(driver.pid, signum)
                except ProcessLookupError:
                    break

    run(body)


def test_restart_starts_a_new_child_after_one_died() -> None:
    async def body() -> None:
        async with await inmemory(restart=True) as driver:
            first = driver.pid
            os.kill(first, signal.SIGKILL)
            assert await asyncio.wait_for(driver.session.connection.join(BOUND), BOUND), "the death went unseen"
            await driver.ping()  # a call after the death was seen gets a new child
            assert driver.pid != first

    run(body)


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield pattern(index, size)


def test_write_stream_takes_every_kind_of_source() -> None:
    async def body() -> None:
        async with await inmemory() as driver:
            assert await driver.write_stream("/a", 0, _chunks(3, 1000)) == 3000
            assert await driver.write_stream("/b", 0, [b"ab", b"", b"c"]) == 3
            assert await driver.write_stream("/c", 0, Slow(b"x" * 10, 3)) == 10
            assert await driver.get_content("/a") == b"".join(pattern(index, 1000) for index in range(3))
            stream = await driver.read_stream("/b")
            assert await stream.read(2) == b"ab"
            assert await stream.read() == b"c"
            assert await stream.read() == b""
            await stream.close()

    run(body)


def test_an_event_loop_that_ends_with_streams_open_leaves_no_child_behind(tmp_path: Path) -> None:
    script = tmp_path / "abandon.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, gc, os, sys, time
            from registry_storage import aio

            async def main():
                driver = await aio.create("inmemory", out_of_process=True)
                await driver.put_content("/a", b"x" * 100000)
                reading = await driver.read_stream("/a")
                await reading.read(10)
                asyncio.ensure_future(driver.write_stream("/b", 0, [b"y"] * 3))
                print(driver.pid, flush=True)

            asyncio.run(main())
            gc.collect()
            print("done", flush=True)
            """
        ),
        encoding="utf-8",
    )
    finished = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=BOUND * 3
    )
    assert finished.returncode == 0, finished.stderr
    pid_line, done = finished.stdout.split()
    assert done == "done"
    pid = int(pid_line)
    for _ in range(int(BOUND * 10)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{pid}/stat") as status:
            if status.read().split()[2] == "Z":
                return
        asyncio.run(asyncio.sleep(0.1))
    pytest.fail("the driver child outlived its event loop and interpreter")
