"""Images over http(s) (progress, checksum, conversion, cancel) and images from instances."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, LecsError, StateError, ValidationError
from backend.inventory.records import ImageState
from tests.qemu_probe import serial_run

pytestmark = pytest.mark.qemu


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Slow(http.server.BaseHTTPRequestHandler):
    """Promises 64 MiB and trickles it out: a download to cancel half-way."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(64 << 20))
        self.end_headers()
        try:
            for _ in range(256):
                self.wfile.write(b"\0" * (256 << 10))
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def qemu(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


async def test_import_from_url_with_progress_checksum_and_conversion(
    cloud: Cloud, served: tuple[str, Path]
) -> None:
    base, root = served
    qcow = root / "cloud.qcow2"
    qemu("qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "64M")
    qemu("qemu-io", "-c", "write -P 0x5a 0 6M", str(qcow))
    qemu("qemu-img", "convert", "-O", "vmdk", str(qcow), str(root / "cloud.vmdk"))
    digest = hashlib.sha256(qcow.read_bytes()).hexdigest()
    b3 = blake3.blake3(qcow.read_bytes()).hexdigest()

    events: list[tuple[float, str]] = []
    image = await cloud.images.import_url(f"{base}/cloud.qcow2", "web-qcow2", "test",
                                          checksum=f"sha256:{digest}",
                                          progress=lambda f, p: events.append((f, p)))
    assert image.state is ImageState.AVAILABLE and image.format == "qcow2"
    # verified against the sha256 asked for; recorded as the BLAKE3 of the bytes received
    assert image.checksum == f"blake3:{b3}" and image.size_bytes == 64 << 20
    assert image.source == f"url:{base}/cloud.qcow2"
    assert len(events) >= 3 and events[-1] == (1.0, "download")
    assert [f for f, _ in events] == sorted(f for f, _ in events)
    assert Path(image.path).stat().st_mode & 0o777 == 0o600

    phases: list[str] = []
    vmdk_b3 = blake3.blake3((root / "cloud.vmdk").read_bytes()).hexdigest()
    vmdk = await cloud.images.import_url(f"{base}/cloud.vmdk", "web-vmdk",
                                         checksum=f"blake3:{vmdk_b3.upper()}",
                                         progress=lambda f, p: phases.append(p))
    assert vmdk.format == "qcow2" and {"download", "convert"} <= set(phases)
    assert vmdk.checksum == f"blake3:{vmdk_b3}"  # of the vmdk received, not the qcow2 kept
    qemu("qemu-img", "compare", str(qcow), vmdk.path)  # same guest-visible bytes

    before = (cloud.store.db["images"].count, sorted(os.listdir(cloud.paths.images)))
    for url, checksum, error, text in [
        (f"{base}/cloud.qcow2", "sha256:" + "0" * 64, ValidationError, "checksum mismatch"),
        (f"{base}/cloud.qcow2", "0" * 64, ValidationError, "expected sha256 0000"),
        (f"{base}/cloud.qcow2", f"blake3:{digest}", ValidationError, "expected blake3"),
        (f"{base}/cloud.qcow2", "md5:abc", ValidationError, "invalid checksum"),
        (f"{base}/missing.qcow2", None, LecsError, "HTTP 404"),
        ("ftp://127.0.0.1/x.qcow2", None, ValidationError, "use http:// or https://"),
        ("http://127.0.0.1:1/x.qcow2", None, LecsError, "download of"),
    ]:
        with pytest.raises(error, match=text):
            await cloud.images.import_url(url, "bad-one", checksum=checksum)
    with pytest.raises(ConflictError, match="exists already"):
        await cloud.images.import_url(f"{base}/cloud.qcow2", "web-qcow2")
    assert (cloud.store.db["images"].count, sorted(os.listdir(cloud.paths.images))) == before

    # the CLI takes a URL where it takes a path
    env = dict(os.environ, LECS_HOME=str(cloud.paths.home))
    done = subprocess.run([sys.executable, "-m", "app.main", "image", "import",
                           f"{base}/cloud.vmdk", "--name", "cli-vmdk", "--json"],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    assert json.loads(done.stdout)["format"] == "qcow2"


async def test_import_is_cancellable(cloud: Cloud) -> None:
    slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        started = asyncio.Event()
        task = asyncio.create_task(cloud.images.import_url(
            f"http://127.0.0.1:{slow.server_address[1]}/big.raw", "slow",
            progress=lambda f, p: started.set()))
        await asyncio.wait_for(started.wait(), 30)
        assert cloud.images.get("slow").state is ImageState.CREATING
        with pytest.raises(StateError, match="it is creating"):
            cloud.images.delete("slow")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        slow.shutdown()
        slow.server_close()
    assert [i.name for i in cloud.images.list()] == ["tiny"]
    assert len(os.listdir(cloud.paths.images)) == 1
    event = next(e for e in cloud.audit.list() if e.action == "image.import")
    assert event.result == "failure" and "Cancelled" in event.error


async def test_image_from_stopped_instance_boots(cloud: Cloud) -> None:
    src = await cloud.instances.create("golden", "tiny", "t1.micro", start=False)
    qemu("qemu-io", "-c", "write -P 0x4c 0 4k", src.disks[0].path)  # 'LLLL…' on its disk
    image = await cloud.images.create_from_instance("golden", "golden-img")
    assert image.format == "kernel" and image.source == f"instance:{src.id}"
    assert image.checksum == "blake3:" + blake3.blake3(Path(image.path).read_bytes()).hexdigest()
    assert "backing-filename" not in json.loads(qemu("qemu-img", "info", "--output=json",
                                                     image.path))

    clone = await cloud.instances.create("clone", "golden-img", "t1.micro", wait=True,
                                         wait_timeout=90)
    assert clone.disks[0].backing_image_id == image.id  # copy-on-write on the new image
    seen = await serial_run(clone.runtime_dir, "dd if=/dev/vda bs=8 count=1 2>/dev/null; echo",
                            "LLLLLLLL", timeout=60)
    assert "LLLLLLLL" in seen
    with pytest.raises(StateError, match="it is running .*needs it stopped"):
        await cloud.images.create_from_instance("clone", "nope")
    with pytest.raises(ConflictError, match="in use by clone"):
        cloud.images.delete("golden-img")
    assert [i.name for i in cloud.images.list()] == ["golden-img", "tiny"]
