"""The asyncio proxy against the threaded proxy, in the same run, on the inmemory driver out of process.

- ``stat``: calls per second with 64 and with 1,000 tasks in flight through one async proxy, against the threaded
  proxy from 8 threads; parent CPU microseconds per call for each (``resource.getrusage`` of this process: steady
  on a shared machine, where wall time drifts);
- ``stream``: write_stream and read_stream of ``--size`` MiB through each proxy, MB/s and parent CPU per MiB.

Targets (issue 15): the async proxy at least matches the threaded proxy's calls per second and uses less parent
CPU per call. Usage: ``python bench/aio.py [--calls N] [--size MiB] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from registry_storage.factory import find_executable

if TYPE_CHECKING:
    from client import AsyncProxyDriver, ProxyDriver, launch, launch_async
else:
    from registry_storage.client import AsyncProxyDriver, ProxyDriver, launch, launch_async

MIB = 1 << 20
THREADS = 8


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Measure:
    """Wall and parent CPU seconds of the block."""

    def __enter__(self) -> Measure:
        self.wall = time.perf_counter()
        self.cpu = cpu_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = cpu_seconds() - self.cpu


def row(case: str, count: float, unit: str, measured: Measure) -> dict[str, Any]:
    return {
        "case": case,
        "rate": count / measured.wall,
        "unit": unit,
        "cpu_us_per_op": measured.cpu / count * 1e6,
        "wall_s": measured.wall,
        "cpu_s": measured.cpu,
    }


def threaded_stats(proxy: ProxyDriver, calls: int) -> dict[str, Any]:
    per_thread = calls // THREADS

    def work() -> None:
        for _ in range(per_thread):
            proxy.stat("/a")

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    with Measure() as measured:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return row(f"stat threaded proxy, {THREADS} threads", per_thread * THREADS, "calls/s", measured)


async def async_stats(proxy: AsyncProxyDriver, calls: int, tasks: int) -> dict[str, Any]:
    per_task = max(1, calls // tasks)

    async def work() -> None:
        for _ in range(per_task):
            await proxy.stat("/a")

    with Measure() as measured:
        await asyncio.gather(*(work() for _ in range(tasks)))
    return row(f"stat async proxy, {tasks} tasks", per_task * tasks, "calls/s", measured)


def chunks(size: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (MIB // 256)
    for _ in range(size // MIB):
        yield block


async def achunks(size: int) -> AsyncIterator[bytes]:
    for block in chunks(size):
        yield block


def threaded_streams(proxy: ProxyDriver, size: int) -> list[dict[str, Any]]:
    with Measure() as written:
        proxy.write_stream("/big", 0, chunks(size))
    with Measure() as read, proxy.read_stream("/big") as stream:
        while stream.read1(MIB):
            pass
    proxy.delete("/big")
    mib = size / MIB
    return [row("write_stream threaded", mib, "MiB/s", written), row("read_stream threaded", mib, "MiB/s", read)]


async def async_streams(proxy: AsyncProxyDriver, size: int) -> list[dict[str, Any]]:
    with Measure() as written:
        await proxy.write_stream("/big", 0, achunks(size))
    with Measure() as read:
        async with await proxy.read_stream("/big") as stream:
            async for _ in stream:
                pass
    await proxy.delete("/big")
    mib = size / MIB
    return [row("write_stream async", mib, "MiB/s", written), row("read_stream async", mib, "MiB/s", read)]


async def run(calls: int, size: int) -> list[dict[str, Any]]:
    executable = find_executable("inmemory")
    assert executable is not None, "registry-storage-inmemory is not installed"
    rows: list[dict[str, Any]] = []
    sync_proxy = launch(executable, "inmemory", {})
    async_proxy = await launch_async(executable, "inmemory", {})
    try:
        sync_proxy.put_content("/a", b"x")
        await async_proxy.put_content("/a", b"x")
        warm: list[Callable[[], Awaitable[Any]]] = [lambda: async_stats(async_proxy, 2000, 64)]
        threaded_stats(sync_proxy, 2000)
        for step in warm:
            await step()
        rows.append(threaded_stats(sync_proxy, calls))
        rows.append(await async_stats(async_proxy, calls, 64))
        rows.append(await async_stats(async_proxy, calls, 1000))
        rows.extend(threaded_streams(sync_proxy, size))
        rows.extend(await async_streams(async_proxy, size))
    finally:
        sync_proxy.close()
        await async_proxy.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000, help="stat calls per case")
    parser.add_argument("--size", type=int, default=256, help="MiB streamed each way")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    arguments = parser.parse_args()
    rows = asyncio.run(run(arguments.calls, arguments.size * MIB))
    if arguments.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'case':40} {'rate':>12} {'unit':8} {'parent CPU us/op':>17}")
    for entry in rows:
        print(f"{entry['case']:40} {entry['rate']:12.0f} {entry['unit']:8} {entry['cpu_us_per_op']:17.1f}")
    threaded = rows[0]
    for entry in rows[1:3]:
        rate = entry["rate"] / threaded["rate"]
        cpu = entry["cpu_us_per_op"] / threaded["cpu_us_per_op"]
        print(f"{entry['case']}: {rate:.2f}x the threaded proxy's calls/s, {cpu:.2f}x its parent CPU per call")


if __name__ == "__main__":
    main()
