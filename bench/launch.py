"""Create → QMP-ready: lecs vs bare qemu-system-x86_64 with the same argv (medians, ratio).

Run: .venv/bin/python bench/launch.py [--runs 7]
Both sides start the same tiny guest under the same accelerator; the baseline spawns the
argv lecs would build (daemonized, same sockets) and polls QMP; lecs runs
`Cloud.instances.create`, which also writes the inventory, the audit event, the overlay and
the port forwards. Each VM is killed after it answers QMP. With passt installed both sides
also start passt for the egress NIC (user mode's sealed egress).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import Cloud  # noqa: E402
from backend.drivers.qemu import monitor, passt, process  # noqa: E402
from backend.drivers.qemu.argv import build_argv  # noqa: E402
from backend.inventory.paths import Paths  # noqa: E402


async def bare_once(cloud: Cloud, template_id: str, rundir: Path) -> float:
    spec = cloud.instances.launch_spec(template_id)
    spec = type(spec)(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__},
                         "rundir": rundir})
    rundir.mkdir(mode=0o700, exist_ok=True)
    argv = build_argv(spec)
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL)
    await proc.wait()
    if spec.egress:  # the same netdev: bare passt on the egress NIC (backend/drivers/qemu/passt.py)
        passt.launch(rundir, host_loopback=spec.egress == passt.HOST)
    await monitor.wait_for_socket(spec.qmp_socket, 10)
    took = time.perf_counter() - t0
    passt.stop(rundir)
    pid = process.read_pid(spec.pidfile)
    if pid:
        process.kill(pid, rundir)
        await process.wait_exit(pid, rundir, 5)
    process.clean_runtime(rundir)
    return took


async def lecs_once(cloud: Cloud, n: int) -> float:
    t0 = time.perf_counter()
    inst = await cloud.instances.create(f"bench{n}", "tiny", "t1.micro")
    took = time.perf_counter() - t0
    await cloud.instances.delete(inst.id)
    return took


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LECS_HOME"] = str(Path(tmp) / "home")
        cloud = await Cloud.open()
        if not cloud.images.list():
            sys.exit("tiny guest not built: python sample_data/build_guest.py")
        # a stopped instance whose launch spec (ports, disk) the baseline reuses
        template = await cloud.instances.create("template", "tiny", "t1.micro", start=False)
        bare_dir = Paths.from_env().runtime / "bare"
        bare, lecs = [], []
        for n in range(runs):
            bare.append(await bare_once(cloud, template.id, bare_dir))
            lecs.append(await lecs_once(cloud, n))
        await cloud.instances.delete(template.id)
        cloud.close()
    b, lc = statistics.median(bare), statistics.median(lecs)
    print(f"accelerator: {cloud.driver.accel}; runs: {runs}")
    print(f"bare qemu-system-x86_64 spawn -> QMP answers: median {b * 1000:7.1f} ms "
          f"(min {min(bare) * 1000:.1f}, max {max(bare) * 1000:.1f})")
    print(f"lecs instance create   -> QMP answers: median {lc * 1000:7.1f} ms "
          f"(min {min(lecs) * 1000:.1f}, max {max(lecs) * 1000:.1f})")
    print(f"ratio lecs/bare: {lc / b:.2f} (target <= 1.15)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
