"""Images: disk images copied or converted into the store; instances on copy-on-write overlays."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import blake3
import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, ValidationError
from tests.qemu_probe import qmp_status


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


async def test_qcow2_import_records_checksum_and_overlays_are_cow(
    cloud: Cloud, tmp_path: Path
) -> None:
    src = tmp_path / "base.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(src), "2G")
    image = await cloud.images.import_disk(src, "base", os_name="empty")
    assert image.format == "qcow2" and image.size_bytes == 2 << 30
    # the BLAKE3 of the file imported, labelled with its algorithm
    assert image.checksum == "blake3:" + blake3.blake3(src.read_bytes()).hexdigest()
    assert Path(image.path).read_bytes() == src.read_bytes()
    assert cloud.images.get("base").checksum == image.checksum
    assert Path(image.path).stat().st_mode & 0o777 == 0o600

    # a row from before BLAKE3 holds a bare sha256 hex digest: it reads back labelled
    legacy = hashlib.sha256(src.read_bytes()).hexdigest()
    with cloud.store.transaction() as db:
        db.table("images").update(image.id, {"checksum": legacy})
    assert cloud.images.get("base").checksum == f"sha256:{legacy}"
    with cloud.store.transaction() as db:
        db.table("images").update(image.id, {"checksum": image.checksum})

    inst = await cloud.instances.create("cow", "base", "t1.nano")
    assert await qmp_status(inst.runtime_dir) == "running"  # SeaBIOS finds no boot disk
    system = inst.disks[0]
    info = json.loads(qemu_img("info", "--output=json", "-U", system.path))
    assert info["backing-filename"] == image.path
    assert Path(system.path).stat().st_size < 1 << 20  # an overlay, not a copy
    assert system.backing_image_id == image.id and system.size_gib == 2

    with pytest.raises(ConflictError, match="in use by cow"):
        cloud.images.delete("base")
    await cloud.instances.delete("cow")
    cloud.images.delete("base")
    assert not Path(image.path).exists()


async def test_vmdk_is_converted_to_qcow2(cloud: Cloud, tmp_path: Path) -> None:
    src = tmp_path / "disk.vmdk"
    qemu_img("create", "-q", "-f", "vmdk", str(src), "64M")
    image = await cloud.images.import_disk(src, "fromvmdk")
    assert image.format == "qcow2" and image.path.endswith(".qcow2")
    assert json.loads(qemu_img("info", "--output=json", image.path))["format"] == "qcow2"


async def test_image_with_backing_file_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    base = tmp_path / "b.qcow2"
    top = tmp_path / "t.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(base), "64M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top))
    before = len(cloud.images.list())
    with pytest.raises(ValidationError, match="backing file"):
        await cloud.images.import_disk(top, "layered")
    assert len(cloud.images.list()) == before
    assert [p.name for p in cloud.paths.images.iterdir()] == [cloud.images.get("tiny").id]


async def test_duplicate_image_name_refused(cloud: Cloud, tmp_path: Path) -> None:
    src = tmp_path / "x.raw"
    src.write_bytes(b"\0" * 4096)
    with pytest.raises(ConflictError, match="exists already"):
        await cloud.images.import_disk(src, "tiny")


async def test_tiny_is_registered_on_first_run(cloud: Cloud) -> None:
    tiny = cloud.images.get("tiny")
    assert tiny.format == "kernel" and tiny.kernel and tiny.initrd
    assert "console=ttyS0" in tiny.cmdline
    algorithm, _, digest = tiny.checksum.partition(":")
    assert algorithm == "sha256" and len(digest) == 64  # over the kernel's and initrd's


async def test_tags_and_event_filter(cloud: Cloud) -> None:
    inst = await cloud.instances.create("tagged", "tiny", "t1.nano", tags={"a": "1"},
                                        start=False)
    after = cloud.instances.tag("tagged", {"b": "2"}, ["a"])
    assert after.tags == {"b": "2"}
    actions = [e.action for e in cloud.audit.list(inst.id)]
    assert actions == ["instance.tag", "instance.create"]


def lecs_cli(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    env = {**os.environ, "LECS_HOME": str(cloud.paths.home)}
    return subprocess.run([sys.executable, "-m", "app.main", *args], capture_output=True,
                          text=True, env=env, cwd=Path(__file__).resolve().parent.parent,
                          stdin=subprocess.DEVNULL, timeout=60)


async def test_login_user_is_stored_shown_and_validated(cloud: Cloud, tmp_path: Path) -> None:
    """`image import --login-user`: kept on the image, shown in image and instance details;
    an invalid one is refused in one line, stores nothing and is audited."""
    assert cloud.images.get("tiny").login_user == "root"
    src = tmp_path / "cloud.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(src), "64M")
    made = lecs_cli(cloud, "image", "import", str(src), "--name", "deb",
                    "--login-user", "debian", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["login_user"] == "debian"
    shown = json.loads(lecs_cli(cloud, "image", "show", "deb", "--json").stdout)
    assert shown["login_user"] == "debian"
    listed = json.loads(lecs_cli(cloud, "image", "list", "--json").stdout)
    assert {i["name"]: i["login_user"] for i in listed} == {"deb": "debian", "tiny": "root"}

    inst = await cloud.instances.create("deb1", "deb", "t1.nano", start=False)
    assert inst.login_user == "debian"
    text = lecs_cli(cloud, "instance", "show", "deb1").stdout
    assert "login:     debian" in text
    assert json.loads(lecs_cli(cloud, "instance", "show", "deb1", "--json").stdout)[
        "login_user"] == "debian"

    before = {i.id for i in cloud.images.list()}
    bad = lecs_cli(cloud, "image", "import", str(src), "--name", "evil",
                   "--login-user", "root; rm -rf /")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "invalid login user" in bad.stderr
    assert {i.id for i in cloud.images.list()} == before
    assert sorted(p.name for p in cloud.paths.images.iterdir()) == sorted(before)
    refused = [e for e in cloud.audit.list(limit=5) if e.action == "image.import"][0]
    assert refused.result == "failure" and "login user" in refused.error
