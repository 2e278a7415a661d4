"""Issue #13 items 1, 14 (the tiny guest's part) and 15, on real QEMU with the tiny guest:
dropbear answers `lecs instance ssh` with the key pair's key only; busybox's wget works, -T
too; #! user-data runs once per instance; the seed is a CD-ROM (sr0), so data disks are vdb…"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.tui.app import LecsApp
from backend import Cloud
from backend.network.rules import RuleInput
from tests.qemu_probe import serial_run
from tests.test_dashboard import wait_for

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parent.parent


def lecs(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LECS_HOME": str(cloud.paths.home)}
    return subprocess.run([sys.executable, "-m", "app.main", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, stdin=subprocess.DEVNULL, timeout=60)


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    return path


async def test_instance_ssh_runs_a_command_with_the_key_pair_and_refuses_another_key(
    cloud: Cloud, tmp_path: Path
) -> None:
    made = lecs(cloud, "keypair", "create", "k1")
    assert made.returncode == 0, made.stderr
    inst = await cloud.instances.create("sshbox", "tiny", "t1.micro", keypair="k1",
                                        wait=True, wait_timeout=90)
    assert inst.port_for(22)
    log = (Path(inst.runtime_dir) / "serial.log").read_text(errors="replace")
    assert "lecs-init: ssh host key: SHA256:" in log  # made at this boot, in the guest

    hi = lecs(cloud, "instance", "ssh", "sshbox", "--", "echo", "hi")
    assert (hi.returncode, hi.stdout) == (0, "hi\n"), hi.stderr
    status = lecs(cloud, "instance", "ssh", "sshbox", "--", "exit 3")
    assert status.returncode == 3  # the remote command's status is ssh's, and the verb's

    wrong = lecs(cloud, "instance", "ssh", "sshbox", "-i", str(keygen(tmp_path / "other")),
                 "--", "echo", "hi")
    assert wrong.returncode == 255 and "hi" not in wrong.stdout
    assert "Permission denied (publickey)" in wrong.stderr

    # the dashboard's session runner: a refused key is said with ssh's status and words
    from backend.compute.console import ssh_argv, ssh_outcome, ssh_session

    code, said = ssh_session(ssh_argv(inst, key=str(tmp_path / "other"), command=["true"]))
    assert code == 255 and "Permission denied" in said
    assert ssh_outcome("sshbox", code, said).startswith(
        "ssh to 'sshbox' exited with status 255 (ssh could not log in")


async def test_instance_ssh_logs_in_as_the_images_login_user(cloud: Cloud) -> None:
    """The image's login user is ssh's default (the tiny guest knows only root: an image of
    it said to log in as `nobody` is refused), `--user` overrides it."""
    tiny = cloud.images.get("tiny")
    await cloud.images.import_kernel(tiny.kernel, tiny.initrd, "tiny-nobody",
                                     cmdline=tiny.cmdline, login_user="nobody")
    await cloud.keypairs.create("k3")
    inst = await cloud.instances.create("asuser", "tiny-nobody", "t1.nano", keypair="k3",
                                        wait=True, wait_timeout=90)
    assert inst.login_user == "nobody"
    refused = lecs(cloud, "instance", "ssh", "asuser", "--", "id", "-un")
    assert refused.returncode == 255 and "nobody@" not in refused.stdout, refused.stdout
    ok = lecs(cloud, "instance", "ssh", "asuser", "--user", "root", "--", "id", "-un")
    assert (ok.returncode, ok.stdout) == (0, "root\n"), ok.stderr


async def test_dashboard_ssh_says_why_it_cannot_start(cloud: Cloud) -> None:
    """`s` on an instance ssh cannot reach shows a notice with the reason."""
    await cloud.keypairs.create("k2")
    keyless = await cloud.instances.create("nokey", "tiny", "t1.nano", wait=True,
                                           wait_timeout=90)
    await cloud.instances.create("off", "tiny", "t1.nano", keypair="k2", start=False)
    app = LecsApp(cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        notes = app._notifications
        app.ssh_to(keyless.id)
        await wait_for(pilot, lambda: any("has no key pair" in n.message for n in notes), 5)
        app.ssh_to(cloud.instances.get("off").id)
        await wait_for(pilot, lambda: any("it is stopped (needs running)" in n.message
                                          for n in notes), 5)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[int]:
    """An HTTP service on the host's loopback, serving a known page."""
    (tmp_path / "index.html").write_text("lecs-page-from-the-host\n")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield int(server.server_address[1])
        server.shutdown()


async def test_guest_wget_fetches_a_page_its_rules_allow(cloud: Cloud, page: int) -> None:
    """busybox's wget with -T (Debian's build segfaulted on it) from user-data and a shell."""
    cloud.sgs.create("to-host")
    await cloud.sgs.rule_add("to-host", RuleInput(direction="egress", protocol="all",
                                                  cidr="127.0.0.1/32", priority=10))
    script = ("#!/bin/sh\ngw=$(ip route | awk '/^default/{print $3}')\n"
              f"wget -q -T 5 -O /tmp/got http://$gw:{page}/ && echo \"fetched: $(cat /tmp/got)\"\n")
    inst = await cloud.instances.create("fetch", "tiny", "t1.micro", sgs=["to-host"],
                                        user_data=script, wait=True, wait_timeout=90)
    log = (Path(inst.runtime_dir) / "serial.log").read_text(errors="replace")
    assert "fetched: lecs-page-from-the-host" in log, log
    out = await serial_run(inst.runtime_dir, "gw=$(ip route | awk '/^default/{print $3}');"
                           f" wget -T 5 -q -O - http://$gw:{page}/; echo rc$((0))=$?=end$((0))",
                           "=end0", timeout=30)
    assert "lecs-page-from-the-host" in out and "rc0=0=" in out


def _boots(inst_dir: str, text: str) -> int:
    return (Path(inst_dir) / "serial.log").read_text(errors="replace").count(text)


async def test_user_data_runs_once_per_instance_and_a_boothook_every_boot(cloud: Cloud) -> None:
    # The two guests boot and reboot side by side (one TCG vCPU each, two cores).
    once, hook = await asyncio.gather(
        cloud.instances.create("once", "tiny", "t1.nano", wait=True, wait_timeout=90,
                               user_data="#!/bin/sh\necho ran-$((40+2))\n"),
        cloud.instances.create("hook", "tiny", "t1.nano", wait=True, wait_timeout=90,
                               user_data="#cloud-boothook\necho hook-$((40+2))\n"))
    assert _boots(once.runtime_dir, "\nran-42") == 1
    assert _boots(hook.runtime_dir, "\nhook-42") == 1
    assert cloud.instances.net.seed_view(once.id, disk_image=False) == {
        "path": str(cloud.paths.home / "seeds" / f"{once.id}.iso"),
        "device": "cdrom sr0 (virtio-scsi), label cidata", "user_data": "first boot"}

    async def once_again() -> None:
        await cloud.instances.reboot("once", wait=True, timeout=90)  # same QEMU, new medium
        assert _boots(once.runtime_dir, "\nran-42") == 0
        await cloud.instances.stop("once")
        await cloud.instances.start("once", wait=True, timeout=90)  # a new QEMU, the new seed
        assert _boots(once.runtime_dir, "\nran-42") == 0
        assert _boots(once.runtime_dir, "cidata on /dev/sr0") == 1  # the seed is still there

    await asyncio.gather(once_again(), cloud.instances.reboot("hook", wait=True, timeout=90))
    assert _boots(hook.runtime_dir, "\nhook-42") == 1
    shown = lecs(cloud, "instance", "show", "once")
    assert "user-data: ran on the first boot" in shown.stdout, shown.stderr
    assert "every boot (#cloud-boothook)" in lecs(cloud, "instance", "show", "hook").stdout


async def test_seed_is_a_cdrom_so_data_disks_start_at_vdb(cloud: Cloud) -> None:
    inst = await cloud.instances.create("disks", "tiny", "t1.micro", hostname="seeded",
                                        wait=True, wait_timeout=90)
    disk = await cloud.disks.create("data1", 1)
    await cloud.disks.attach("data1", "disks")
    out = await serial_run(inst.runtime_dir, "until [ -b /dev/vdb ]; do sleep 0.1; done;"
                           " echo DEV $(ls /dev/vd* /dev/sr*) END$((0))",
                           "END0", timeout=30)
    assert "DEV /dev/sr0 /dev/vda /dev/vdb END0" in out  # sorted by ls: sr0, then vda, vdb
    # every virtio disk's serial is its lecs id (udev's /dev/disk/by-id/virtio-<id>), the
    # hot-plugged one too; the tiny guest has no udev: sysfs says it
    system = inst.disks[0].id
    out = await serial_run(inst.runtime_dir, "echo SER $(cat /sys/block/vda/serial)"
                           " $(cat /sys/block/vdb/serial) END$((1))", "END1", timeout=30)
    assert f"SER {system} {disk.id} END1" in out
    await cloud.disks.detach("data1")
    assert cloud.disks.get(disk.id).state.value == "available"

    shown = lecs(cloud, "instance", "show", "disks")
    seed = f"seed:      {cloud.paths.home}/seeds/{inst.id}.iso (cdrom sr0 (virtio-scsi)"
    assert seed in shown.stdout, shown.stdout + shown.stderr
    as_json = lecs(cloud, "instance", "show", "disks", "--json")
    assert '"device": "cdrom sr0 (virtio-scsi), label cidata"' in as_json.stdout
