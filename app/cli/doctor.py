"""`lecs doctor`: checks QEMU, qemu-img, the accelerator, dirs, the tiny guest, the Debian cloud
image, isolation."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
from typing import Any

from app.cli.output import out
from backend import Cloud
from backend.api.presence import running as serve_running
from backend.inventory.paths import cloud_image_dir, guest_dir


def checks(cloud: Cloud) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    def add(check: str, ok: bool, detail: str, required: bool = True) -> None:
        results.append({"check": check, "ok": ok, "detail": detail, "required": required})

    facts = cloud.host_facts()
    qemu = facts.qemu_binary
    add("qemu", bool(qemu), f"{qemu} (QEMU {facts.qemu_version})" if qemu
        else "qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    img = shutil.which("qemu-img")
    add("qemu-img", bool(img), img or "qemu-img not found: apt-get install qemu-utils")
    limit = shutil.which("prlimit")  # imported images are inspected under resource limits
    add("prlimit", bool(limit), f"{limit} (image inspection under CPU and memory limits)"
        if limit else "prlimit not found: apt-get install util-linux (image import needs it)")
    add("accelerator", True, f"{facts.accel.upper()}: {facts.accel_reason}")
    for label, path in (("data dir", cloud.paths.home), ("runtime dir", cloud.paths.runtime)):
        mode = stat.S_IMODE(path.stat().st_mode)
        add(label, mode == 0o700, f"{path} (mode {mode:o})")
    db_mode = stat.S_IMODE(cloud.paths.db.stat().st_mode)
    read_only = ", read-only: it can be listed, not changed" if cloud.store.read_only else ""
    add("inventory", db_mode == 0o600 and not read_only,
        f"{cloud.paths.db} (mode {db_mode:o}, schema v{cloud.store.version}{read_only})")
    manifest = guest_dir() / "manifest.json"
    add("tiny guest", manifest.exists(),
        str(guest_dir()) if manifest.exists()
        else "not built: python sample_data/build_guest.py", required=False)
    add("debian cloud image", *cloud_image(), required=False)
    stray = cloud.unowned_files()
    add("unowned files", not stray,
        "none" if not stray else f"{len(stray)} under {cloud.paths.home} belong to no"
        f" resource (yours? lecs leaves them be): {', '.join(str(p) for p in stray[:3])}",
        required=False)
    failed = cloud.recovery_failures()
    add("recovery", not failed, "nothing left by a killed operation" if not failed
        else f"{len(failed)} not recovered, retried at the next start: {failed[0]}")
    serve = serve_running(cloud.paths)
    add("serve", True, f"runs: pid {serve.pid}, the ECS API on {serve.address}" if serve
        else "not running (`lecs serve`: the ECS API, and alarms judged without a dashboard)",
        required=False)
    from backend.network import isolation

    for line in isolation.report():  # what each networking mode seals here, and its gaps
        add(f"isolation ({line.mode})", line.ok, line.detail, required=False)
    add("user", True, f"uid {os.getuid()}", required=False)
    return results


def cloud_image() -> tuple[bool, str]:
    """Whether sample_data/build_cloud_image.py's image is built, and how to build or use it."""
    directory = cloud_image_dir()
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        image = directory / str(manifest["image"])
        user = str(manifest["login_user"])
        if image.is_file():
            return True, (f"{image} (login user {user}; lecs image import {image}"
                          f" --name debian-12 --login-user {user})")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return False, (f"not built in {directory} (the cloud-image test tier needs it): as root,"
                   " python3 sample_data/build_cloud_image.py")


async def doctor(cloud: Cloud, args: argparse.Namespace) -> None:
    results = checks(cloud)
    unsafe = await cloud.unsafe_chains()
    results.insert(-1, {"check": "disk chains", "ok": not unsafe, "required": False,
                        "detail": "every disk and image opens only lecs's own files"
                        if not unsafe else f"{len(unsafe)} open a file not lecs's own"
                        f" (recreate them from a checked import): {unsafe[0]}"})
    out(args, results, lambda: "\n".join(
        f"{'ok  ' if r['ok'] else 'FAIL'} {r['check']}: {r['detail']}" for r in results))
    if not all(r["ok"] for r in results if r.get("required")):
        raise SystemExit(1)


def register(nouns: Any) -> None:
    """A noun with no verb: `lecs doctor [--json]`."""
    p = nouns.add_parser("doctor", help="check QEMU, qemu-img, KVM, dirs")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(handler=doctor)
