"""`lecs instance create NAME --count 10` (one process, the instances made side by side)
against 10 sequential `lecs instance create` calls, on fresh inventories, interleaved over
`--runs` rounds; prints each median and the ratio (sequential / parallel: > 1 means --count
is faster). Both return when each QEMU answers QMP, as `create` does. A third figure awaits
the 10 creates in turn inside one process: the gain of running them side by side without the
10 process starts. Not a test.

Run: python bench/bulk_create.py [--runs 3] [--count 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.inventory.paths import Paths  # noqa: E402


def lecs(home: Path, *args: str) -> None:
    env = dict(os.environ, LECS_HOME=str(home))
    env.pop("LECS_RUNTIME_DIR", None)
    subprocess.run([sys.executable, "-m", "app.main", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def fresh() -> Path:
    home = Path(tempfile.mkdtemp(prefix="lecs-bench-bulk-")) / "home"
    lecs(home, "image", "list")  # first use: the tiny image registered, outside the timing
    return home


def dispose(home: Path) -> None:
    try:
        lecs(home, "instance", "delete", "--all", "--yes")
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
        shutil.rmtree(Paths.from_env(str(home)).runtime, ignore_errors=True)


def parallel(count: int) -> float:
    home = fresh()
    try:
        t0 = time.perf_counter()
        lecs(home, "instance", "create", "p", "--image", "tiny", "--count", str(count))
        return time.perf_counter() - t0
    finally:
        dispose(home)


def sequential(count: int) -> float:
    home = fresh()
    try:
        t0 = time.perf_counter()
        for n in range(1, count + 1):
            lecs(home, "instance", "create", f"s-{n}", "--image", "tiny")
        return time.perf_counter() - t0
    finally:
        dispose(home)


IN_PROCESS = """
import asyncio, sys, time
from backend import Cloud
async def main():
    cloud = await Cloud.open()
    count = int(sys.argv[1])
    t0 = time.perf_counter()
    for n in range(1, count + 1):
        await cloud.instances.create(f"q-{n}", "tiny", "t1.nano")
    print(time.perf_counter() - t0)
    cloud.close()
asyncio.run(main())
"""


def sequential_in_process(count: int) -> float:
    """The same 10 creates awaited one after the other in one process (no process starts)."""
    home = fresh()
    try:
        env = dict(os.environ, LECS_HOME=str(home))
        env.pop("LECS_RUNTIME_DIR", None)
        done = subprocess.run([sys.executable, "-c", IN_PROCESS, str(count)], cwd=REPO,
                              env=env, check=True, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        return float(done.stdout.strip().splitlines()[-1])
    finally:
        dispose(home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"sequential": [], "parallel": [], "in-process": []}
    for _ in range(args.runs):  # interleaved: load on the machine hits all alike
        times["sequential"].append(sequential(args.count))
        times["parallel"].append(parallel(args.count))
        times["in-process"].append(sequential_in_process(args.count))
    seq, par, inproc = (statistics.median(times[k])
                        for k in ("sequential", "parallel", "in-process"))
    print(f"{args.count} instances, {args.runs} runs, {os.cpu_count()} CPUs")
    print(f"  {args.count} sequential creates: {seq:.2f} s (median; "
          + ", ".join(f"{t:.2f}" for t in times["sequential"]) + ")")
    print(f"  create --count {args.count}:     {par:.2f} s (median; "
          + ", ".join(f"{t:.2f}" for t in times["parallel"]) + ")")
    print(f"  {args.count} creates awaited in turn in one process: {inproc:.2f} s (median; "
          + ", ".join(f"{t:.2f}" for t in times["in-process"]) + ")")
    print(f"  ratio sequential/parallel: {seq / par:.2f}x"
          f" (in one process, without process starts: {inproc / par:.2f}x)")


if __name__ == "__main__":
    main()
