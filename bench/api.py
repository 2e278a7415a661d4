"""The ECS API of `lecs serve` through Alibaba Cloud's SDK, beside the CLI, in the same run.
Prints numbers and ratios; it is not a test.

1. DescribeInstances over 1,000 instances (the SDK, PageSize=100: one page, and the whole
   listing in 10 pages), p50/p99, beside the engine's own list (`cloud.instances.list()` and
   its JSON, in-process) and `lecs instance list --json` (a fresh process).
2. RunInstances (Amount=1) until DescribeInstances says Running, beside `lecs instance create`
   (which returns once QEMU answers), on the tiny guest, interleaved.
3. DescribeInstances requests/s with 10 concurrent clients beside 1 client.

Run: python bench/api.py [--runs 30] [--instances 1000] [--launches 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.serve_helpers import Serve, running_serve, tea_client  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(label: str, values: list[float], base: float | None = None) -> None:
    p50, p99 = pct(values, 0.5), pct(values, 0.99)
    ratio = f"{p50 / base:6.2f}x" if base else "  base "
    print(f"  {label:<44} p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  {ratio}")


def describe(ecs: Any, **kw: Any) -> Any:
    from alibabacloud_ecs20140526 import models

    return ecs.describe_instances(models.DescribeInstancesRequest(region_id="local", **kw)).body


def listing(srv: Serve, runs: int) -> None:
    from app import render
    from backend import Cloud

    ecs = tea_client(srv)
    env = dict(os.environ, LECS_HOME=str(srv.home))
    cli = [sys.executable, "-m", "app.main", "instance", "list", "--json"]

    async def engine_list() -> float:
        cloud = await Cloud.open(str(srv.home))
        t0 = time.perf_counter()
        json.dumps(render.to_jsonable(cloud.instances.list()))
        spent = time.perf_counter() - t0
        cloud.close()
        return spent

    def whole() -> int:
        token, seen = "", 0
        while True:
            body = describe(ecs, max_results=100, **({"next_token": token} if token else {}))
            seen += len(body.instances.instance)
            token = body.next_token
            if not token:
                return seen

    count = describe(ecs, page_size=1).total_count  # the bulk rows and the demo's own
    times: dict[str, list[float]] = {k: [] for k in ("engine", "page", "whole", "cli")}
    for _ in range(runs):  # interleaved: the machine's load hits each alike
        times["engine"].append(asyncio.run(engine_list()))
        t0 = time.perf_counter()
        describe(ecs, page_size=100)
        times["page"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert whole() == count
        times["whole"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(cli, env=env, check=True, stdout=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)
        times["cli"].append(time.perf_counter() - t0)
    base = pct(times["engine"], 0.5)
    print(f"DescribeInstances over {count} instances ({runs} runs)")
    row("engine: instances.list() + JSON, in-process", times["engine"])
    row("SDK DescribeInstances, one page of 100", times["page"], base)
    row(f"SDK DescribeInstances, all {count} ({-(-count // 100)} pages)", times["whole"], base)
    row("lecs instance list --json (fresh process)", times["cli"], base)


def launches(srv: Serve, count: int) -> None:
    from alibabacloud_ecs20140526 import models

    ecs = tea_client(srv)
    env = dict(os.environ, LECS_HOME=str(srv.home))
    image = ecs.describe_images(models.DescribeImagesRequest(region_id="local")
                                ).body.images.image[0].image_id
    api: list[float] = []
    cli: list[float] = []
    for n in range(count):
        t0 = time.perf_counter()
        ids = ecs.run_instances(models.RunInstancesRequest(
            region_id="local", image_id=image, instance_type="t1.nano",
            instance_name=f"api{n}")).body.instance_id_sets.instance_id_set
        while describe(ecs, instance_ids=json.dumps(ids)).instances.instance[0].status \
                != "Running":
            time.sleep(0.05)
        api.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.main", "instance", "create", f"cli{n}",
                        "--image", "tiny", "--type", "t1.nano"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        cli.append(time.perf_counter() - t0)
        ecs.delete_instance(models.DeleteInstanceRequest(instance_id=ids[0], force=True))
        subprocess.run([sys.executable, "-m", "app.main", "instance", "delete", f"cli{n}",
                        "--yes"], env=env, check=True, stdout=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)
    print(f"Launch to Running ({count} each, interleaved)")
    row("lecs instance create (fresh process)", cli)
    row("SDK RunInstances -> DescribeInstances Running", api, pct(cli, 0.5))


def _client_loop(endpoint: str, key_id: str, secret: str, seconds: float) -> int:
    """One client process: DescribeInstances (PageSize=10) in a loop for `seconds`."""
    from alibabacloud_ecs20140526 import models
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi import models as open_api

    ecs = Client(open_api.Config(access_key_id=key_id, access_key_secret=secret,
                                 endpoint=endpoint, protocol="http", region_id="local"))
    done, stop = 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        ecs.describe_instances(models.DescribeInstancesRequest(region_id="local", page_size=10))
        done += 1
    return done


def throughput(srv: Serve, seconds: float) -> None:
    """Clients in processes of their own (signing in one process would measure its GIL)."""
    def rate(clients: int) -> float:
        spawn = multiprocessing.get_context("spawn")  # a forked child shares the SDK's pool
        with ProcessPoolExecutor(clients, mp_context=spawn) as pool:
            jobs = [pool.submit(_client_loop, srv.endpoint, srv.key_id, srv.secret, seconds)
                    for _ in range(clients)]
            return sum(j.result() for j in jobs) / seconds

    one, ten = rate(1), rate(10)
    print(f"DescribeInstances (PageSize=10) requests/s over {seconds:.0f} s, clients in"
          " processes")
    print(f"  1 client   {one:8.1f}/s")
    print(f"  10 clients {ten:8.1f}/s   {ten / one:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.chdir(REPO)
    bulk = Path(tempfile.mkdtemp(prefix="lecs-bench-api-")) / "home"
    subprocess.run([sys.executable, "-c", "from sample_data.demo import load_bulk;"
                    f" load_bulk({str(bulk)!r}, {args.instances})"], cwd=REPO, check=True,
                   stdin=subprocess.DEVNULL)
    with running_serve(bulk) as srv:
        listing(srv, args.runs)
        throughput(srv, args.seconds)
    fresh = Path(tempfile.mkdtemp(prefix="lecs-bench-api-")) / "home"
    with running_serve(fresh) as srv:
        launches(srv, args.launches)


if __name__ == "__main__":
    main()
