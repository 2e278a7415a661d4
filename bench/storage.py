"""Storage benches: instance create from a 10 GiB vs a 10 MiB image; image import vs qemu-img.

Run: .venv/bin/python bench/storage.py [--runs 9] [--data-mib 512]

1. Create (stopped, so only the disk and the inventory are timed) from a 10 GiB qcow2 image
   holding `--data-mib` of data and from a 10 MiB one: system disks are copy-on-write
   overlays, so the medians should match (target ratio <= 1.2).
2. Import of one qcow2 file (`--data-mib` of non-zero data) as lecs does it (copy into the
   store, with a BLAKE3 checksum and the untrusted-image checks of backend/images/inspect.py,
   qemu-img info and check under limits, run alongside the copy) against plain `qemu-img
   convert -O qcow2` of the same file (target ratio <= 1.1); and, for information, the vmdk
   path (both sides run qemu-img convert; lecs checks first) and an http import from a
   local server. The machine must be quiet: on 2 shared cores a busy neighbour moves the
   ratios more than the checks do (see `uptime`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import Cloud  # noqa: E402
from backend.images.capture import file_checksum  # noqa: E402


def sh(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True)


def make_image(path: Path, size: str, data_mib: int) -> None:
    sh("qemu-img", "create", "-q", "-f", "qcow2", str(path), size)
    if data_mib:
        sh("qemu-io", "-c", f"write -P 0x5a 0 {data_mib}M", str(path))


def median_ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.1f} ms (min {min(values) * 1000:.1f})"


async def bench_create(cloud: Cloud, work: Path, runs: int, data_mib: int) -> None:
    make_image(work / "big.qcow2", "10G", data_mib)
    make_image(work / "small.qcow2", "10M", 1)
    await cloud.images.import_disk(work / "big.qcow2", "big")
    await cloud.images.import_disk(work / "small.qcow2", "small")
    times: dict[str, list[float]] = {"big": [], "small": []}
    for n in range(runs + 1):
        for image in ("big", "small") if n % 2 else ("small", "big"):
            t0 = time.perf_counter()
            inst = await cloud.instances.create(f"{image}{n}", image, "t1.micro", start=False)
            took = time.perf_counter() - t0
            if n:  # the first round warms the overlay templates
                times[image].append(took)
            await cloud.instances.delete(inst.id)
    big, small = statistics.median(times["big"]), statistics.median(times["small"])
    print(f"create from 10 GiB image ({data_mib} MiB data): {median_ms(times['big'])}")
    print(f"create from 10 MiB image:                  {median_ms(times['small'])}")
    print(f"ratio 10 GiB / 10 MiB: {big / small:.2f} (target <= 1.2)")


def serve(root: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def bench_import(cloud: Cloud, work: Path, runs: int, data_mib: int) -> None:
    src = work / "www" / "src.qcow2"
    src.parent.mkdir()
    make_image(src, "4G", data_mib)
    sh("qemu-img", "convert", "-O", "vmdk", str(src), str(src.with_suffix(".vmdk")))
    server = serve(src.parent)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    rows: dict[str, list[float]] = {k: [] for k in (
        "convert", "import", "convert-vmdk", "import-vmdk", "convert-cold", "import-cold", "url")}
    for n in range(runs):
        out = work / "out.qcow2"
        for kind, source in (("", src), ("-vmdk", src.with_suffix(".vmdk")), ("-cold", src)):
            evict(source, kind == "-cold")
            t0 = time.perf_counter()
            sh("qemu-img", "convert", "-O", "qcow2", str(source), str(out))
            rows["convert" + kind].append(time.perf_counter() - t0)
            out.unlink()
            evict(source, kind == "-cold")
            t0 = time.perf_counter()
            image = await cloud.images.import_disk(source, f"imp{kind}{n}")
            rows["import" + kind].append(time.perf_counter() - t0)
            cloud.images.delete(image.id)
        t0 = time.perf_counter()
        image = await cloud.images.import_url(f"{url}/src.qcow2", f"url{n}")
        rows["url"].append(time.perf_counter() - t0)
        cloud.images.delete(image.id)
    server.shutdown()
    size = src.stat().st_size
    for key, label in (("convert", "qemu-img convert qcow2->qcow2"),
                       ("import", "lecs image import (qcow2 file)"),
                       ("convert-vmdk", "qemu-img convert vmdk->qcow2"),
                       ("import-vmdk", "lecs image import (vmdk file)"),
                       ("convert-cold", "qemu-img convert, source not cached"),
                       ("import-cold", "lecs image import, source not cached"),
                       ("url", "lecs image import (http://127.0.0.1)")):
        mb_s = size / statistics.median(rows[key]) / (1 << 20)
        print(f"{label:38s} {median_ms(rows[key])}  {mb_s:7.0f} MiB/s")
    ratio = statistics.median(rows["import"]) / statistics.median(rows["convert"])
    ratio_vmdk = statistics.median(rows["import-vmdk"]) / statistics.median(rows["convert-vmdk"])
    ratio_cold = statistics.median(rows["import-cold"]) / statistics.median(rows["convert-cold"])
    print(f"ratio import / qemu-img convert: qcow2 {ratio:.2f}, vmdk {ratio_vmdk:.2f},"
          f" qcow2 not cached {ratio_cold:.2f} (target <= 1.1)")
    fastest = {k: min(v) for k, v in rows.items()}
    print("ratio of the fastest runs (less moved by busy neighbours): qcow2"
          f" {fastest['import'] / fastest['convert']:.2f}, vmdk"
          f" {fastest['import-vmdk'] / fastest['convert-vmdk']:.2f}, qcow2 not cached"
          f" {fastest['import-cold'] / fastest['convert-cold']:.2f}")
    t0 = time.perf_counter()
    file_checksum(src)
    b3 = time.perf_counter() - t0
    t0 = time.perf_counter()
    with open(src, "rb") as fin:
        hashlib.file_digest(fin, "sha256")
    print(f"(hash of the file alone, overlapped with the copy: blake3 {b3 * 1000:.0f} ms;"
          f" sha256, as imports hashed before, {(time.perf_counter() - t0) * 1000:.0f} ms)")


def evict(path: Path, cold: bool) -> None:
    """Drop the file's clean pages from the page cache, so it is read from the disk."""
    if cold:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


async def main(runs: int, data_mib: int) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("LECS_BENCH_DIR")) as tmp:
        work = Path(tmp)
        os.environ["LECS_HOME"] = str(work / "home")
        cloud = await Cloud.open()
        try:
            print(f"file of {data_mib} MiB data; runs: {runs}")
            await bench_create(cloud, work, runs, data_mib)
            await bench_import(cloud, work, max(3, runs // 3), data_mib)
        finally:
            cloud.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--data-mib", type=int, default=512)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.data_mib))
