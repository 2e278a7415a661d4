"""Images are untrusted input (issue #12): an imported image is ONE standalone file.

Every attack here is a real file made with real qemu-img that, on main before this test,
made lecs store host bytes (a canary file's) in the image store or keep a disk that opens a
host file. Each refusal must leave no image row, no file, and no canary byte under LECS_HOME.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend import Cloud
from backend.drivers.qemu import img, volume
from backend.drivers.qemu.volume import Volume
from backend.inventory.errors import LecsError, QemuError, ValidationError
from tests.test_images_storage import served

pytestmark = pytest.mark.qemu
__all__ = ["served"]  # the loopback http server fixture, shared with test_images_storage
REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    """A host file a guest must never read: 1 MiB of one random token, repeated."""
    token = b"CANARY-" + secrets.token_hex(8).encode() + b"\n"
    path = tmp_path / "host-secret.raw"
    path.write_bytes(token * (MIB // len(token)) + b"\0" * (MIB % len(token)))
    path.chmod(0o600)
    yield path, token


def leaked(home: Path, token: bytes) -> list[str]:
    """Files under LECS_HOME that hold the canary token."""
    found = []
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink() and token in path.read_bytes():
            found.append(str(path.relative_to(home)))
    return found


def image_dirs(cloud: Cloud) -> set[str]:
    return {p.name for p in cloud.paths.images.iterdir()} if cloud.paths.images.exists() else set()


async def refused(cloud: Cloud, token: bytes, importer: object, match: str) -> None:
    """Run the import (a coroutine) and prove it was refused and left nothing."""
    before_rows = {i.id for i in cloud.images.list()}
    before_dirs = image_dirs(cloud)
    with pytest.raises(ValidationError, match=match) as caught:
        await importer  # type: ignore[misc]
    assert "\n" not in str(caught.value)  # one line
    assert {i.id for i in cloud.images.list()} == before_rows
    assert image_dirs(cloud) == before_dirs
    assert leaked(cloud.paths.home, token) == []
    event = cloud.audit.list(limit=1)[0]  # the newest
    assert event.action == "image.import" and event.result == "failure"
    assert "refused" in event.error


def descriptor(extent: str) -> str:
    return (f'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
            f'createType="monolithicFlat"\n\n# Extent description\n'
            f'RW 2048 FLAT "{extent}" 0\n\n# The Disk Data Base\n#DDB\n'
            f'ddb.virtualHWVersion = "4"\nddb.adapterType = "ide"\n')


async def test_vmdk_descriptor_naming_a_host_file_is_refused_from_a_path(
    cloud: Cloud, tmp_path: Path, canary: tuple[Path, bytes]
) -> None:
    host, token = canary
    evil = tmp_path / "evil.vmdk"
    evil.write_text(descriptor(str(host)))
    await refused(cloud, token, cloud.images.import_disk(evil, "evil"),
                  rf"^image 'evil' refused: its vmdk extent names another file \({host}\)$")
    # naming the format changes nothing
    await refused(cloud, token, cloud.images.import_disk(evil, "evil", fmt="vmdk"),
                  "its vmdk extent names another file")


async def test_vmdk_descriptor_naming_a_host_file_is_refused_from_a_url(
    cloud: Cloud, served: tuple[str, Path], canary: tuple[Path, bytes]
) -> None:
    url, root = served
    host, token = canary
    (root / "evil.vmdk").write_text(descriptor(str(host)))
    await refused(cloud, token, cloud.images.import_url(f"{url}/evil.vmdk", "evil"),
                  "^image 'evil' refused: its vmdk extent names another file")


async def test_sparse_vmdk_with_an_embedded_descriptor_is_refused(
    cloud: Cloud, tmp_path: Path, canary: tuple[Path, bytes]
) -> None:
    """A sparse vmdk (KDMV) of capacity 0: qemu opens its embedded descriptor's extents."""
    host, token = canary
    header = b"KDMV" + struct.pack("<IIQQQQIQQQ", 1, 3, 0, 128, 1, 20, 512, 0, 0, 0)
    evil = tmp_path / "sparse.vmdk"
    evil.write_bytes(header.ljust(512, b"\0") + descriptor(str(host)).encode().ljust(
        20 * 512, b"\0"))
    await refused(cloud, token, cloud.images.import_disk(evil, "sparse"),
                  "its vmdk extent names another file")


async def test_qcow2_with_an_external_data_file_is_refused(
    cloud: Cloud, tmp_path: Path, canary: tuple[Path, bytes]
) -> None:
    host, token = canary
    evil = tmp_path / "datafile.qcow2"
    scratch = tmp_path / "scratch.raw"  # create zeroes its data file: point it at host after
    qemu_img("create", "-q", "-f", "qcow2", "-o", f"data_file={scratch},data_file_raw=on",
             str(evil), "1M")
    qemu_img("amend", "-f", "qcow2", "-o", f"data_file={host}", str(evil))
    await refused(cloud, token, cloud.images.import_disk(evil, "datafile"),
                  rf"^image 'datafile' refused: it names an external data file \({host}\);"
                  " if it is a raw disk, import it with --format raw$")
    evil.chmod(0o666)  # copied first, then checked: refused all the same
    await refused(cloud, token, cloud.images.import_disk(evil, "datafile", fmt="qcow2"),
                  rf"^image 'datafile' refused: it names an external data file \({host}\)$")


def _json_backing(host: Path) -> str:
    return "json:" + json.dumps({"driver": "raw", "file": {"driver": "file",
                                                            "filename": str(host)}})


@pytest.mark.parametrize("fmt,backing", [
    ("qcow2", "{host}"),
    ("qcow2", "json"),
    ("qcow2", "nbd:127.0.0.1:10809"),
    ("qcow2", "file:{host}"),
    ("qed", "{host}"),
    ("vmdk", "{vmdk}"),
], ids=["qcow2-path", "qcow2-json", "qcow2-nbd", "qcow2-file", "qed-path", "vmdk-parent"])
async def test_an_image_with_a_backing_file_is_refused(
    cloud: Cloud, tmp_path: Path, canary: tuple[Path, bytes], fmt: str, backing: str
) -> None:
    host, token = canary
    evil = tmp_path / f"child.{fmt}"
    if backing == "{vmdk}":  # a vmdk parent: parentFileNameHint in the child's descriptor
        parent = tmp_path / "parent.vmdk"
        qemu_img("convert", "-f", "raw", "-O", "vmdk", str(host), str(parent))
        qemu_img("create", "-q", "-f", "vmdk", "-b", str(parent), "-F", "vmdk", str(evil))
        name, backing_fmt = str(parent), "vmdk"
    else:
        name = _json_backing(host) if backing == "json" else backing.format(host=host)
        backing_fmt = "raw"
        qemu_img("create", "-q", "-u", "-f", fmt, "-b", name, "-F", backing_fmt, str(evil), "1M")
    await refused(cloud, token, cloud.images.import_disk(evil, "child"),
                  "^image 'child' refused: it names a backing file")
    if fmt == "vmdk":
        assert leaked(cloud.paths.home, token) == []


async def test_corrupt_qcow2_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    good = tmp_path / "whole.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(good), "64M")
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 4M", str(good)], check=True,
                   capture_output=True)
    cut = tmp_path / "cut.qcow2"
    cut.write_bytes(good.read_bytes()[:300 << 10])  # its data clusters are gone
    await refused(cloud, b"\x00never-found\x00", cloud.images.import_disk(cut, "cut"),
                  r"^image 'cut' refused: qemu-img check found \d+ corruption")


@pytest.mark.parametrize("fmt", ["luks", "qcow2"])
async def test_an_encrypted_image_is_refused(cloud: Cloud, tmp_path: Path, fmt: str) -> None:
    src = tmp_path / f"locked.{fmt}"
    options = ("encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10"
               if fmt == "qcow2" else "key-secret=s0,iter-time=10")
    for _ in range(8):  # LUKS benchmarks PBKDF2 on a clock some VMs keep coarse: retry
        made = subprocess.run(["qemu-img", "create", "-q", "--object",
                               "secret,id=s0,data=hunter2", "-f", fmt, "-o", options, str(src),
                               "1M"], capture_output=True, text=True)
        if made.returncode == 0:
            break
        assert "Unable to get accurate CPU usage" in made.stderr, made.stderr
    await refused(cloud, b"\x00never-found\x00", cloud.images.import_disk(src, "locked"),
                  "^image 'locked' refused: it is (a LUKS-)?encrypted")


async def test_raw_disk_holding_a_qcow2_header_stays_raw_data(
    cloud: Cloud, tmp_path: Path, canary: tuple[Path, bytes]
) -> None:
    """A raw disk a guest wrote a qcow2 header into: `--format raw` keeps it raw bytes and
    follows nothing; without a format it is sniffed as qcow2 and refused, with a hint."""
    host, token = canary
    disk = tmp_path / "guest-disk.raw"
    qemu_img("create", "-q", "-u", "-f", "qcow2", "-b", str(host), "-F", "raw", str(disk),
             "1M")
    with open(disk, "ab") as f:
        f.truncate(2 * MIB)  # a whole disk, sector aligned
    await refused(cloud, token, cloud.images.import_disk(disk, "guest"),
                  "it names a backing file .*import it with --format raw")
    image = await cloud.images.import_disk(disk, "guest", fmt="raw")
    assert image.format == "raw" and image.size_bytes == 2 * MIB
    assert Path(image.path).read_bytes() == disk.read_bytes()
    assert leaked(cloud.paths.home, token) == []
    inst = await cloud.instances.create("onraw", "guest", "t1.nano", start=False)
    meta = json.loads(qemu_img("info", "--output=json", "-f", "qcow2", inst.disks[0].path))
    assert meta["backing-filename"] == image.path and meta["backing-filename-format"] == "raw"
    await cloud.instances.delete("onraw")


@pytest.mark.parametrize("fmt", ["qcow2", "raw", "vmdk", "vmdk-stream", "vdi", "vpc", "vhdx",
                                 "qed"])
async def test_a_good_image_still_imports(cloud: Cloud, tmp_path: Path, fmt: str) -> None:
    base = tmp_path / "base.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(base), "8M")
    subprocess.run(["qemu-io", "-c", "write -P 0x6b 1M 2M", str(base)], check=True,
                   capture_output=True)
    src = tmp_path / f"good.{fmt}"
    options = ["-o", "subformat=streamOptimized"] if fmt == "vmdk-stream" else []
    fmt = fmt.removesuffix("-stream")
    qemu_img("convert", "-f", "qcow2", "-O", fmt, *options, str(base), str(src))
    image = await cloud.images.import_disk(src, f"good-{fmt}")
    assert image.format == ("raw" if fmt == "raw" else "qcow2")
    stored = Path(image.path)
    assert stored.parent.name == image.id and stored.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in stored.parent.iterdir()) == [stored.name]  # no upload left
    meta = json.loads(qemu_img("info", "--output=json", "-f", image.format, image.path))
    assert "backing-filename" not in meta and "data-file" not in json.dumps(meta)
    qemu_img("compare", "-q", "-f", "qcow2", "-F", image.format, str(base), image.path)


async def test_files_others_can_write_are_copied_first_and_changes_are_refused(
    cloud: Cloud, tmp_path: Path, canary: tuple[Path, bytes]
) -> None:
    """A vmdk only lecs's user can write is read in place through a held descriptor; one that
    others can write is copied first; either way a file that changes under the import is
    refused."""
    host, token = canary
    evil = tmp_path / "shared.vmdk"
    evil.write_text(descriptor(str(host)))
    evil.chmod(0o666)
    await refused(cloud, token, cloud.images.import_disk(evil, "shared"),
                  rf"its vmdk extent names another file \({host}\)$")
    good = tmp_path / "good.vmdk"
    qemu_img("create", "-q", "-f", "vmdk", str(good), "8M")
    good.chmod(0o664)
    image = await cloud.images.import_disk(good, "shared-good")
    assert image.format == "qcow2"
    good.chmod(0o644)

    moving = [good]

    def touch(_fraction: float, _label: str) -> None:
        os.utime(moving[0])  # a change under the import

    await refused(cloud, token, cloud.images.import_disk(good, "moving", progress=touch),
                  f"^image 'moving' refused: {good} changed while it was imported$")
    kept = tmp_path / "kept.qcow2"  # a qcow2 is copied while it is checked
    qemu_img("create", "-q", "-f", "qcow2", str(kept), "8M")
    moving[0] = kept
    await refused(cloud, token, cloud.images.import_disk(kept, "moving", progress=touch),
                  f"^image 'moving' refused: {kept} changed while it was imported$")


async def test_url_user_password_and_query_are_never_kept(
    cloud: Cloud, served: tuple[str, Path], tmp_path: Path, canary: tuple[Path, bytes]
) -> None:
    url, root = served
    host, _token = canary
    qemu_img("create", "-q", "-f", "qcow2", str(root / "ok.qcow2"), "1M")
    (root / "evil.vmdk").write_text(descriptor(str(host)))
    user, password, signature = "alice", "pw-" + secrets.token_hex(6), secrets.token_hex(12)
    secret_url = url.replace("http://", f"http://{user}:{password}@")
    query = f"?X-Amz-Credential=AKIA&X-Amz-Signature={signature}#frag"

    image = await cloud.images.import_url(f"{secret_url}/ok.qcow2{query}", "signed")
    assert image.source == f"url:{url}/ok.qcow2"
    with pytest.raises(ValidationError) as caught:
        await cloud.images.import_url(f"{secret_url}/evil.vmdk{query}", "signed-evil")
    with pytest.raises(LecsError) as missing:
        await cloud.images.import_url(f"{secret_url}/none.qcow2{query}", "signed-404")
    texts = [str(caught.value), str(missing.value), image.source]
    texts += [json.dumps([e.parameters, e.error, e.resource], default=str)
              for e in cloud.audit.list()]
    for text in texts:
        assert password not in text and signature not in text and "alice" not in text, text
    # nor anywhere in the inventory's files (the journal's rows, SQLite's free pages, WAL)
    for path in cloud.paths.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert password.encode() not in data and signature.encode() not in data, path


async def test_qemu_img_on_uploads_runs_under_resource_limits(tmp_path: Path) -> None:
    src = tmp_path / "x.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(src), "1M")
    assert (await img.info(src, fmt="qcow2", limits=img.INSPECT))["format"] == "qcow2"
    starved = img.Limits(cpu_seconds=1, address_space=8 * MIB)
    with pytest.raises(QemuError):  # too little address space to even start: limits apply
        await img.info(src, fmt="qcow2", limits=starved)


async def test_a_disk_chain_leaving_lecs_home_is_refused_and_restore_checks_copies(
    cloud: Cloud, canary: tuple[Path, bytes]
) -> None:
    """Images from instances and restored backups: only lecs's own files in any chain."""
    host, token = canary
    inst = await cloud.instances.create("chain", "tiny", "t1.nano", start=False)
    disk = await cloud.disks.create("chaindata", 1)
    await cloud.disks.attach("chaindata", "chain")
    backup = await cloud.backups.create("chain", "chain-bk")
    data_copy = next(d for d in backup.disks if d.disk_id == disk.id)
    # a tampered backup copy whose header names a host file: restore writes nothing
    qemu_img("rebase", "-u", "-f", "qcow2", "-b", str(host), "-F", "raw", data_copy.path)
    data_path = cloud.disks.row(disk.id)["path"]
    before = Path(data_path).read_bytes()
    with pytest.raises(LecsError, match="^cannot restore backup .* not a file of lecs's own"):
        await cloud.backups.restore("chain-bk")
    assert Path(data_path).read_bytes() == before
    assert leaked(cloud.paths.home, token) == []
    # a data disk whose chain leaves LECS_HOME: an image of it is refused, nothing kept
    qemu_img("rebase", "-u", "-f", "qcow2", "-b", str(host), "-F", "raw", data_path)
    before_dirs = image_dirs(cloud)
    with pytest.raises(LecsError, match="not a file of lecs's own"):
        await cloud.images.create_from_instance("chain", "chain-img", full=True)
    assert image_dirs(cloud) == before_dirs and leaked(cloud.paths.home, token) == []
    with pytest.raises(LecsError, match="not a file of lecs's own"):
        await volume.owned_chain(Volume(Path(data_path)), cloud.paths.home)
    assert inst.disks[0].path  # the system disk's chain (overlay -> tiny) stayed lecs's own
    await volume.owned_chain(Volume(Path(inst.disks[0].path)), cloud.paths.home)


def test_cli_refusal_is_one_line(home: Path, tmp_path: Path, canary: tuple[Path, bytes]
                                 ) -> None:
    host, token = canary
    evil = tmp_path / "evil.vmdk"
    evil.write_text(descriptor(str(host)))
    proc = subprocess.run(
        [sys.executable, "-m", "app.main", "image", "import", str(evil), "--name", "evil"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "LECS_HOME": str(home)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr == (f"lecs: error: image 'evil' refused: its vmdk extent names another"
                           f" file ({host})\n")
    assert leaked(home, token) == []
