"""Full-instance images: system + data disks captured from a stopped instance, booted again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import blake3
import pytest

from backend import Cloud
from backend.inventory.errors import (
    ConflictError,
    LecsError,
    NotFoundError,
    StateError,
    ValidationError,
)
from backend.inventory.records import Image
from tests.qemu_probe import serial_run

pytestmark = pytest.mark.qemu


def qemu(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


def inventory(cloud: Cloud) -> tuple[Any, ...]:
    """Everything a refused image or instance operation must leave as it was."""
    return (
        sorted(i.name for i in cloud.images.list()), cloud.store.db["image_disks"].count,
        sorted(os.listdir(cloud.paths.images)), cloud.keys.ids(),
        sorted(d.name for d in cloud.disks.list()), sorted(os.listdir(cloud.paths.disks)),
        sorted(i.name for i in cloud.instances.list(reconcile=False)),
    )


def image_key(cloud: Cloud, image: Image, position: int) -> Path:
    return cloud.keys.path(f"{image.id}.{image.disks[position].source_disk_id}")


def check_clean(path: str, key: Path | None = None) -> None:
    """`qemu-img check` exits 0 (no errors, no leaks) on a plain or LUKS qcow2."""
    if key is None:
        qemu("qemu-img", "check", "-q", path)
    else:
        qemu("qemu-img", "check", "-q", "--object", f"secret,id=k,file={key}", "--image-opts",
             f"driver=qcow2,file.filename={path},encrypt.key-secret=k")


def assert_captured(cloud: Cloud, image: Image, src_id: str) -> None:
    assert image.format == "kernel" and image.source == f"instance:{src_id}"
    assert [(d.position, d.role, d.encrypted, d.source_disk_name) for d in image.disks] == [
        (0, "system", False, "src-system"), (1, "data", False, "data1"), (2, "data", True, "vault")]
    assert image.path == image.disks[0].path and image.checksum == image.disks[0].checksum
    for d in image.disks:
        file = Path(d.path)
        assert d.checksum == "blake3:" + blake3.blake3(file.read_bytes()).hexdigest()
        assert file.stat().st_mode & 0o777 == 0o600 and d.size_gib == 1
        info = json.loads(qemu("qemu-img", "info", "--output=json", d.path))
        assert "backing-filename" not in info and info["virtual-size"] == 1 << 30
        check_clean(d.path, image_key(cloud, image, d.position) if d.encrypted else None)


async def test_full_instance_image_boots_with_its_data_disks(cloud: Cloud) -> None:
    src = await cloud.instances.create("src", "tiny", "t1.micro", start=False)
    await cloud.disks.create("data1", 1)
    await cloud.disks.attach("data1", "src")  # cold attach
    vault = await cloud.disks.create("vault", 1, encrypted=True)
    await cloud.disks.attach("vault", "src")
    run = (await cloud.instances.start("src", wait=True, timeout=90)).runtime_dir
    for n, (dev, mark) in enumerate([("vda", "LECS-SYS-0"), ("vdb", "LECS-DATA-1"),
                                     ("vdc", "LECS-VAULT-2")]):
        await serial_run(run, f"echo {mark} | dd of=/dev/{dev} conv=fsync 2>/dev/null;"
                         f" echo W=$((40+{n}))", f"W={40 + n}", timeout=60)

    before = inventory(cloud)
    with pytest.raises(StateError, match="it is running .*needs it stopped"):
        await cloud.images.create_from_instance("src", "src-full", full=True)
    assert inventory(cloud) == before
    await cloud.instances.stop("src")

    seen: list[tuple[float, str]] = []
    image = await cloud.images.create_from_instance(
        "src", "src-full", progress=lambda f, label: seen.append((f, label)), full=True)
    assert_captured(cloud, image, src.id)
    labels = {label for _, label in seen}
    assert {"system disk", "data disk 1/2 (data1)", "data disk 2/2 (vault)"} <= labels
    assert all(max(f for f, lb in seen if lb == label) == 1.0 for label in labels)
    assert image_key(cloud, image, 2).stat().st_mode & 0o777 == 0o600  # a key of its own
    assert image_key(cloud, image, 2).read_text() != cloud.keys.path(vault.id).read_text()
    assert b"LECS-VAULT-2" not in Path(image.disks[2].path).read_bytes()
    qemu("qemu-img", "compare", "-q", cloud.disks.get("data1").path, image.disks[1].path)

    # a new instance gets the system disk and one data disk per captured disk, in order
    clone = await cloud.instances.create("clone", "src-full", "t1.micro", wait=True,
                                         wait_timeout=90)
    assert [(d.name, d.role, d.position, d.delete_with_instance, d.encrypted,
             d.backing_image_id) for d in clone.disks] == [
        ("clone-system", "system", 0, True, False, image.id),
        ("clone-data1", "data", 1, True, False, image.id),
        ("clone-data2", "data", 2, True, True, None)]
    overlay = json.loads(qemu("qemu-img", "info", "-U", "--output=json",
                               clone.disks[1].path))
    assert overlay["backing-filename"] == image.disks[1].path  # copy-on-write, O(1)
    assert Path(clone.disks[1].path).stat().st_size < 1 << 20
    assert cloud.keys.path(clone.disks[2].id).read_text() != image_key(cloud, image, 2).read_text()
    for dev, mark in [("vda", "LECS-SYS-0"), ("vdb", "LECS-DATA-1"), ("vdc", "LECS-VAULT-2")]:
        out = await serial_run(clone.runtime_dir,
                               f"dd if=/dev/{dev} bs={len(mark)} count=1 2>/dev/null; echo",
                               mark, timeout=60)
        assert mark in out

    before = inventory(cloud)
    with pytest.raises(ConflictError, match="in use by clone"):
        cloud.images.delete("src-full")
    assert inventory(cloud) == before
    await cloud.instances.stop("clone")
    assert await cloud.disks.check_all() == {}
    assert_captured(cloud, image, src.id)  # the image is untouched by the clone's writes


async def test_full_image_refusals_dependencies_cli_and_delete(cloud: Cloud) -> None:
    src = await cloud.instances.create("src", "tiny", "t1.micro", start=False)
    data = await cloud.disks.create("data1", 1)
    await cloud.disks.attach("data1", "src")
    await cloud.disks.create("vault", 1, encrypted=True)
    await cloud.disks.attach("vault", "src")
    qemu("qemu-io", "-c", "write -P 0x44 0 4k", data.path)

    before = inventory(cloud)
    for call, error, text in [
        (lambda: cloud.images.create_from_instance("ghost", "x", full=True), NotFoundError,
         "instance 'ghost' not found"),
        (lambda: cloud.images.create_from_instance("src", "tiny", full=True), ConflictError,
         "an image named 'tiny' exists already"),
        (lambda: cloud.images.create_from_instance("src", "a/b", full=True), ValidationError,
         "invalid image name"),
    ]:
        with pytest.raises(error, match=re.escape(text)):
            await call()
    assert inventory(cloud) == before
    # a capture that fails half-way (the data disk's key is gone) leaves nothing behind
    key = cloud.keys.path(cloud.disks.get("vault").id)
    key.rename(key.with_suffix(".away"))
    with pytest.raises(LecsError, match="key of encrypted volume .* is missing"):
        await cloud.images.create_from_instance("src", "half", full=True)
    key.with_suffix(".away").rename(key)
    assert inventory(cloud) == before
    failed = [e for e in cloud.audit.list() if e.action == "image.create-from-instance"]
    assert len(failed) == 4 and all(e.result == "failure" and e.error for e in failed)

    # the CLI: --with-data (alias of --full), and --json shows the image's disks
    env = dict(os.environ, LECS_HOME=str(cloud.paths.home))

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app.main", *argv], capture_output=True,
                              text=True, env=env, timeout=120)

    made = cli("image", "create-from-instance", "src", "--name", "src-full", "--with-data",
               "--json")
    assert made.returncode == 0, made.stderr
    shown = json.loads(cli("image", "show", "src-full", "--json").stdout)
    assert [(d["position"], d["role"], d["encrypted"]) for d in shown["disks"]] == [
        (0, "system", False), (1, "data", False), (2, "data", True)]
    assert json.loads(made.stdout)["disks"] == shown["disks"]
    image = cloud.images.get("src-full")
    assert_captured(cloud, image, src.id)
    dup = cli("image", "create-from-instance", "src", "--name", "src-full", "--full")
    assert dup.returncode != 0 and dup.stderr.count("\n") == 1 and "exists already" in dup.stderr

    # an instance's disk names are checked before anything is made
    await cloud.disks.create("c3-data1", 1)
    before = inventory(cloud)
    with pytest.raises(ConflictError, match="a disk named 'c3-data1' exists already"):
        await cloud.instances.create("c3", "src-full", "t1.micro", start=False)
    assert inventory(cloud) == before
    await cloud.disks.delete("c3-data1")

    # an instance, or a data disk that outlives it, keeps the image from being deleted
    c2 = await cloud.instances.create("c2", "src-full", "t1.micro", start=False)
    kept = await cloud.disks.detach("c2-data1")
    await cloud.instances.delete("c2")  # its other disks go with it (delete_with_instance)
    assert sorted(d.name for d in cloud.disks.list()) == ["c2-data1", "data1", "src-system",
                                                          "vault"]
    assert not Path(c2.disks[2].path).exists() and not cloud.keys.exists(c2.disks[2].id)
    before = inventory(cloud)
    with pytest.raises(ConflictError, match="in use by c2-data1"):
        cloud.images.delete("src-full")
    assert inventory(cloud) == before
    qemu("qemu-img", "compare", "-q", data.path, kept.path)  # the kept disk reads the data
    await cloud.disks.delete("c2-data1")

    deleted = cli("image", "delete", "src-full", "--yes", "--json")
    assert deleted.returncode == 0, deleted.stderr
    assert not (cloud.paths.images / image.id).exists()
    assert not [k for k in cloud.keys.ids() if k.startswith(image.id)]
    assert cloud.store.db["image_disks"].count == 0
    assert not list((cloud.paths.home / "cache").glob(f"*{image.id}*"))
    assert [i.name for i in cloud.images.list()] == ["tiny"]
    assert await cloud.disks.check_all() == {}
