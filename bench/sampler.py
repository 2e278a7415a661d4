"""Sampler CPU cost at 1 Hz for N running tiny guests, against its baselines.

Run: python bench/sampler.py [--counts 10 50] [--seconds 20]
For each N it boots N `t1.nano` guests (128 MiB, 1 vCPU) in a temp LECS_HOME, waits until
they are ready, then measures this process's CPU time (time.process_time: the sampler runs
in-process on asyncio) over the same wall time in three modes at 1 Hz:
  idle  the event loop waking once a second and doing nothing;
  raw   the collection calls alone: `driver.sample()` for every instance (QMP
        query-blockstats + balloon guest-stats over the long-lived events.sock session,
        psutil threads() + memory_info()), concurrently, plus psutil host calls;
  full  the real sampler loop (`cloud.metrics.start(1.0)`): rates, host sample, batched
        history writes with rollups, and one alarm rule per instance evaluated every tick.
It also prints the QEMU processes' CPU (guests idle + answering QMP) in each mode.
Target (issue 6): full <= 5 % of one core for 50 instances.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import Cloud  # noqa: E402
from backend.monitoring.host import HostSampler  # noqa: E402


def qemu_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def measure(seconds: float, pids: list[int],
                  body: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(this process's CPU % of one core, QEMU processes' CPU %) while `body` runs."""
    q0, c0, w0 = qemu_cpu(pids), time.process_time(), time.monotonic()
    await body()
    wall = time.monotonic() - w0
    return (100 * (time.process_time() - c0) / wall, 100 * (qemu_cpu(pids) - q0) / wall)


async def bench(count: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cloud = await Cloud.open(str(Path(tmp) / "home"))
        try:
            started = time.monotonic()
            insts = [await cloud.instances.create(f"b{i}", "tiny", "t1.nano")
                     for i in range(count)]
            for inst in insts:
                await cloud.instances.wait_ready(inst.id, timeout=300)
            print(f"\n{count} instances ready after {time.monotonic() - started:.1f}s;"
                  f" load {os.getloadavg()[0]:.2f}; settling 5 s…", flush=True)
            await asyncio.sleep(5)
            pids = [i.pid for i in insts if i.pid]
            for inst in insts:
                cloud.alarms.create(f"cpu-{inst.name}", inst.id, "cpu_util", ">", 90, period=60)

            async def idle() -> None:
                for _ in range(int(seconds)):
                    await asyncio.sleep(1.0)

            host = HostSampler(cloud.paths.home)

            async def raw() -> None:
                loop = asyncio.get_running_loop()
                for _ in range(int(seconds)):
                    began = loop.time()
                    await asyncio.gather(*(cloud.driver.sample(i.id, i.pid or 0) for i in insts))
                    host.sample(time.time())
                    await asyncio.sleep(max(0.0, 1.0 - (loop.time() - began)))
                await cloud.driver.release_sampling()

            async def full() -> None:
                cloud.metrics.start(1.0)
                await asyncio.sleep(seconds)
                await cloud.metrics.stop()

            results = {}
            for name, body in (("idle", idle), ("raw", raw), ("full", full)):
                results[name] = await measure(seconds, pids, body)
            status = cloud.metrics.status()
            counts = cloud.metrics.history.counts()
            print(f"{'mode':<6}{'sampler CPU (% of 1 core)':>28}{'QEMU CPU (all, %)':>20}")
            for name, (mine, qemu) in results.items():
                print(f"{name:<6}{mine:>28.2f}{qemu:>20.1f}")
            ratio = results["full"][0] / results["raw"][0] if results["raw"][0] else float("nan")
            print(f"full/raw = {ratio:.2f}x; full - idle = "
                  f"{results['full'][0] - results['idle'][0]:.2f} % of one core; "
                  f"ticks {status.ticks}, last tick {status.tick_seconds * 1000:.1f} ms, "
                  f"SQLite transactions with samples {cloud.metrics.history.writes}, "
                  f"raw rows {counts['metric_raw']}")
        finally:
            for inst in cloud.instances.list(reconcile=False):
                await cloud.instances.force_stop(inst.id)
            cloud.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"host: {os.cpu_count()} CPUs, {psutil.virtual_memory().total >> 30} GiB;"
          f" measuring {args.seconds:g} s per mode at 1 Hz")
    for count in args.counts:
        asyncio.run(bench(count, args.seconds))


if __name__ == "__main__":
    main()
