"""Instance operations of issue #15 on real QEMU (one tiny guest for all of them): pause
freezes the guest (QMP runstate, serial output, its clock) and resume lets it go on; a user's
pause is never resumed by the I/O-error follower; rename keeps everything but the name;
console-log shows the serial output, also of a stopped instance (its last boot)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.errors import (
    ConflictError,
    LecsError,
    NotFoundError,
    StateError,
    ValidationError,
)
from backend.inventory.records import InstanceState as S
from tests.qemu_probe import qemu_pids, qmp_status, serial_run
from tests.test_cli import assert_one_line_error, lecs

pytestmark = pytest.mark.qemu


async def uptime(rundir: str) -> float:
    """The guest's own clock: seconds since its boot."""
    out = await serial_run(rundir, "cat /proc/uptime; echo UP$((40+2))", "UP42", timeout=60)
    found = re.findall(r"^(\d+\.\d+) \d+\.\d+", out, re.M)
    return float(found[-1])


async def test_pause_resume_rename_console_log(cloud: Cloud) -> None:
    inst = await cloud.instances.create("op1", "tiny", "t1.nano", wait=True, wait_timeout=120)
    ops = cloud.instance_ops
    before, wall = await uptime(inst.runtime_dir), time.monotonic()

    paused = await ops.pause("op1")
    assert paused.state is S.PAUSED and paused.last_error == ""
    assert await qmp_status(inst.runtime_dir) == "paused"
    # the guest answers nothing while paused: its console is silent
    with pytest.raises(AssertionError, match="not seen"):
        await serial_run(inst.runtime_dir, "echo AWAKE=$((6*7))", "AWAKE=42", timeout=2)
    # the I/O-error follower (sampler, show, open) leaves a user's pause alone
    assert not await cloud.instances.follow_status(inst.id)
    await cloud.instances.follow_paused()
    assert cloud.instances.list()[0].state is S.PAUSED  # reconcile keeps it
    assert await qmp_status(inst.runtime_dir) == "paused"
    shown = json.loads(lecs(cloud.paths.home, "metric", "show", "op1", "--json").stdout)
    assert shown["state"] == "paused" and "paused" in shown["note"]
    shown_text = lecs(cloud.paths.home, "instance", "show", "op1").stdout
    assert "state:     paused (lecs instance pause; `lecs instance resume op1`" in shown_text
    listed = lecs(cloud.paths.home, "instance", "list").stdout
    assert "paused" in listed.splitlines()[1]
    with pytest.raises(StateError, match="it is paused"):
        await ops.pause("op1")
    with pytest.raises(StateError, match="it is paused"):
        await cloud.instances.stop("op1")
    time.sleep(3)

    resumed = await ops.resume("op1")
    assert resumed.state is S.RUNNING
    assert await qmp_status(inst.runtime_dir) == "running"
    after, wall = await uptime(inst.runtime_dir), time.monotonic() - wall
    # the guest's clock stood still for the 3 s (and more) it was paused
    assert wall > 3 and after - before < wall - 2.5, (after - before, wall)
    with pytest.raises(StateError, match="it is running"):
        await ops.resume("op1")

    renamed = await ops.rename("op1", "op2")
    assert (renamed.id, renamed.name, renamed.state) == (inst.id, "op2", S.RUNNING)
    assert [d.id for d in renamed.disks] == [d.id for d in inst.disks]
    assert renamed.forwards == inst.forwards
    await cloud.instances.create("other", "tiny", "t1.nano", start=False)
    with pytest.raises(ConflictError, match="exists already"):
        await ops.rename("op2", "other")
    with pytest.raises(ValidationError):
        await ops.rename("op2", "../x")
    actions = [(e.action, e.result) for e in cloud.audit.list(inst.id)][:5]
    assert ("instance.rename", "failure") in actions and ("instance.pause", "success") in [
        (e.action, e.result) for e in cloud.audit.list(inst.id)]

    log = ops.console_log("op2", tail=3)
    assert len(log.text.splitlines()) == 3 and log.truncated and log.boot == "current"
    await cloud.instances.stop("op2")
    last = ops.console_log("op2")
    assert last.boot == "last" and "LECS-GUEST-READY" in last.text
    assert "\x1b" not in last.text and "\r" not in last.text


def test_cli_pause_refusals_and_console_log(home: Path, tiny_guest: Path) -> None:
    lecs(home, "instance", "create", "c1", "--image", "tiny", "--no-start")
    refused = lecs(home, "instance", "pause", "c1", check=False)
    assert_one_line_error(refused, "cannot pause instance 'c1': it is stopped (pause needs"
                          " running)")
    empty = json.loads(lecs(home, "instance", "console-log", "c1", "--json").stdout)
    assert empty["text"] == "" and empty["boot"] == "last"
    bad = lecs(home, "instance", "console-log", "c1", "--tail", "0", check=False)
    assert_one_line_error(bad, "invalid --tail 0")
    renamed = json.loads(lecs(home, "instance", "rename", "c1", "c2", "--json").stdout)
    assert renamed["name"] == "c2"
    unasked = lecs(home, "instance", "rebuild", "c2", "--image", "tiny", check=False)
    assert_one_line_error(unasked, "refusing to replace the system disk of c2")
    rebuilt = json.loads(lecs(home, "instance", "rebuild", "c2", "--image", "tiny", "--yes",
                              "--json").stdout)
    assert rebuilt["disks"][0]["id"] != renamed["disks"][0]["id"]
    resized = json.loads(lecs(home, "instance", "resize", "c2", "--type", "t1.micro",
                              "--json").stdout)
    assert (resized["type"], resized["memory_mib"]) == ("t1.micro", 256)
    events = json.loads(lecs(home, "event", "list", "--json", "--limit", "6").stdout)
    assert [(e["action"], e["result"]) for e in events][:5] == [
        ("instance.resize", "success"), ("instance.rebuild", "success"),
        ("instance.rebuild", "failure"), ("instance.rename", "success"),
        ("instance.pause", "failure")]


async def qmp(rundir: str, command: str) -> object:
    from qemu.qmp import QMPClient

    client = QMPClient("test-probe")
    await client.connect(str(Path(rundir) / "qmp.sock"))
    try:
        return await client.execute(command)
    finally:
        await client.disconnect()


async def test_resize_stopped_instance_gets_the_new_vcpus_and_memory(cloud: Cloud) -> None:
    inst = await cloud.instances.create("rs1", "tiny", "t1.nano")
    with pytest.raises(StateError, match=r"it is running \(resize needs stopped\); stop it"
                       " first"):
        await cloud.instance_ops.resize("rs1", "s1.medium")
    with pytest.raises(LecsError, match="--live is not supported: QEMU 7.2"):
        await cloud.instance_ops.resize("rs1", "s1.medium", live=True)
    await cloud.instances.force_stop("rs1")
    with pytest.raises(NotFoundError, match="unknown instance type 'x9'"):
        await cloud.instance_ops.resize("rs1", "x9")
    resized = await cloud.instance_ops.resize("rs1", "s1.medium")
    assert (resized.type, resized.vcpus, resized.memory_mib) == ("s1.medium", 2, 1024)
    await cloud.instances.start("rs1")
    cpus = await qmp(inst.runtime_dir, "query-cpus-fast")
    memory = await qmp(inst.runtime_dir, "query-memory-size-summary")
    assert isinstance(cpus, list) and len(cpus) == 2
    assert isinstance(memory, dict) and memory["base-memory"] == 1024 << 20
    events = [(e.action, e.result) for e in cloud.audit.list(inst.id)]
    assert events.count(("instance.resize", "failure")) == 3
    assert ("instance.resize", "success") in events


def qemu_io(path: str, command: str) -> str:
    return subprocess.run(["qemu-io", "-c", command, path], check=True, capture_output=True,
                          text=True).stdout


async def test_rebuild_boots_the_new_image_and_keeps_data_disk_ports_tags(cloud: Cloud) -> None:
    # the new OS: an image of an instance whose system disk starts with 'N' bytes
    src = await cloud.instances.create("newos-src", "tiny", "t1.nano", start=False)
    qemu_io(src.disks[0].path, "write -P 0x4e 0 4k")
    await cloud.images.create_from_instance("newos-src", "newos")

    inst = await cloud.instances.create("rb", "tiny", "t1.nano", tags={"env": "lab"})
    data = await cloud.disks.create("rb-data", 1)
    await cloud.disks.attach("rb-data", "rb")
    with pytest.raises(StateError, match="it is running .*; stop it first"):
        await cloud.instance_ops.rebuild("rb", "newos")
    await cloud.instances.force_stop("rb")
    qemu_io(data.path, "write -P 0x44 0 4k")  # the marker on the data disk
    old_system = inst.disks[0]
    with pytest.raises(NotFoundError):
        await cloud.instance_ops.rebuild("rb", "no-such-image")

    done = await cloud.instance_ops.rebuild("rb", "newos", keep_old=True)
    assert (done.id, done.name, done.image_name, done.tags) == (inst.id, "rb", "newos",
                                                                 {"env": "lab"})
    assert done.forwards == inst.forwards and done.security_groups == inst.security_groups
    system, kept_data = done.disks
    assert system.role == "system" and system.id != old_system.id and system.name == "rb-system"
    assert kept_data.id == data.id
    kept = cloud.disks.get(old_system.id)  # --keep-old: a detached disk, file and all
    assert kept.instance_id is None and kept.name == f"rb-old-{old_system.id}"
    assert Path(kept.path).exists()

    booted = await cloud.instances.start("rb", wait=True, timeout=90)
    for dev, mark in [("vda", "NNNNNNNN"), ("vdb", "DDDDDDDD")]:
        out = await serial_run(booted.runtime_dir,
                               f"dd if=/dev/{dev} bs=8 count=1 2>/dev/null; echo", mark,
                               timeout=60)
        assert mark in out
    await cloud.instances.force_stop("rb")

    again = await cloud.instance_ops.rebuild("rb", "tiny")  # the old one deleted this time
    gone = again.disks[0]
    assert again.image_name == "tiny" and not Path(system.path).exists()
    assert gone.id != system.id and [d.id for d in again.disks][1:] == [data.id]
    with pytest.raises(NotFoundError):
        cloud.disks.get(system.id)
    events = [(e.action, e.result) for e in cloud.audit.list(inst.id)]
    assert events.count(("instance.rebuild", "success")) == 2
    assert events.count(("instance.rebuild", "failure")) == 2


def test_bulk_count_names_tags_all(home: Path, tiny_guest: Path) -> None:
    made = json.loads(lecs(home, "instance", "create", "w", "--image", "tiny", "--count", "3",
                           "--tag", "grp=a", "--json").stdout)
    assert [(r["name"], r["ok"], r["state"]) for r in made] == [
        (f"w-{n}", True, "running") for n in range(1, 4)]
    listed = json.loads(lecs(home, "instance", "list", "--json").stdout)
    assert sorted(i["name"] for i in listed) == [f"w-{n}" for n in range(1, 4)]
    for inst in listed:  # three QEMUs, each its own (two paused, one left running below)
        assert inst["state"] == "running" and qemu_pids(inst["runtime_dir"]) == [inst["pid"]]
    again = lecs(home, "instance", "create", "w", "--image", "tiny", "--count", "2",
                 check=False)
    assert_one_line_error(again, "create: 2 of 2 failed: w-1: an instance named 'w-1'")

    paused = lecs(home, "instance", "pause", "w-1", "w-2").stdout
    assert paused.splitlines() == ["w-1: paused", "w-2: paused"]
    unasked = lecs(home, "instance", "resume", "--tag", "grp=a", check=False)
    assert_one_line_error(unasked, "refusing to resume 3 instance(s)")
    resumed = lecs(home, "instance", "resume", "--tag", "grp=a", "--yes", check=False)
    assert resumed.returncode == 1 and "resume: 1 of 3 failed: w-3: cannot resume" in \
        resumed.stderr and "it is running" in resumed.stderr
    assert "w-1: running" in resumed.stdout and "w-3: failed: " in resumed.stdout
    assert_one_line_error(lecs(home, "instance", "stop", "--tag", "grp=zz", check=False),
                          "no instance is tagged grp=zz")

    gone = json.loads(lecs(home, "instance", "delete", "--all", "--yes", "--json").stdout)
    assert {r["state"] for r in gone} == {"deleted"} and len(gone) == 3
    assert all(qemu_pids(i["runtime_dir"]) == [] for i in listed)
    events = json.loads(lecs(home, "event", "list", "--json", "--limit", "40").stdout)
    assert sum(e["action"] == "instance.delete" and e["result"] == "success"
               for e in events) == 3
    assert sum(e["action"] == "instance.resume" and e["result"] == "failure"
               for e in events) == 1 + 1  # each refused resume, and the unconfirmed bulk


async def test_clone_running_instance_boots_on_its_own_disks(cloud: Cloud) -> None:
    pair = await cloud.keypairs.create("k1")
    src = await cloud.instances.create("src", "tiny", "t1.nano", tags={"env": "lab"},
                                       keypair=pair.name, wait=True, wait_timeout=90)
    await cloud.disks.create("src-d", 1)
    await cloud.disks.attach("src-d", "src")
    await serial_run(src.runtime_dir, "until [ -b /dev/vdb ]; do sleep 0.1; done;"
                     " echo SRCMARK1 | dd of=/dev/vdb conv=fsync"
                     " 2>/dev/null; echo W=$((40+1))", "W=41", timeout=60)

    clones = await cloud.instance_ops.clone("src", "cl", tags={"role": "copy"}, start=True)
    assert len(clones) == 1
    c = clones[0]
    assert c.name == "cl" and c.id != src.id and c.state is S.RUNNING
    assert c.tags == {"env": "lab", "role": "copy"} and c.key_pair == "k1"
    assert c.security_groups == src.security_groups
    assert {f.host_port for f in c.forwards}.isdisjoint({f.host_port for f in src.forwards})
    assert [d.role for d in c.disks] == ["system", "data"]
    assert not {d.path for d in c.disks} & {d.path for d in cloud.instances.get("src").disks}
    await cloud.instances.wait_ready(c.id, timeout=90)
    out = await serial_run(c.runtime_dir, "dd if=/dev/vdb bs=8 count=1 2>/dev/null; echo",
                           "SRCMARK1", timeout=60)
    assert "SRCMARK1" in out  # the live, crash-consistent copy holds the source's write
    await serial_run(c.runtime_dir, "echo CLONEWR2 | dd of=/dev/vdb conv=fsync 2>/dev/null;"
                     " echo W=$((40+2))", "W=42", timeout=60)
    out = await serial_run(src.runtime_dir, "dd if=/dev/vdb bs=8 count=1 2>/dev/null; echo",
                           "SRCMARK1", timeout=60)
    assert "CLONEWR2" not in out  # the clone's writes do not reach the source
    with pytest.raises(ConflictError, match="'cl' exists already"):
        await cloud.instance_ops.clone("src", "cl")
    assert cloud.disks.get("cl-data1").instance_id == c.id


async def test_clone_stopped_count_is_copy_on_write_on_the_image(cloud: Cloud) -> None:
    base = await cloud.instances.create("base", "tiny", "t1.nano", start=False)
    qemu_io(base.disks[0].path, "write -P 0x4e 0 4k")
    image = await cloud.images.create_from_instance("base", "baseimg")
    src = await cloud.instances.create("s", "baseimg", "t1.nano", start=False)
    qemu_io(src.disks[0].path, "write -P 0x53 64k 4k")  # the instance's own change
    made = await cloud.instance_ops.clone("s", "s-copy", count=2)
    assert [(i.name, i.state) for i in made] == [("s-copy-1", S.STOPPED),
                                                  ("s-copy-2", S.STOPPED)]
    for inst in made:
        info = json.loads(subprocess.run(
            ["qemu-img", "info", "--output=json", inst.disks[0].path], check=True,
            capture_output=True, text=True).stdout)
        assert info["backing-filename"] == image.path  # copy-on-write over the image
        assert "Pattern verification failed" not in qemu_io(  # the source's own change
            inst.disks[0].path, "read -P 0x53 64k 4k")
        assert Path(inst.disks[0].path).stat().st_size < 1 << 20
    events = [(e.action, e.result) for e in cloud.audit.list(src.id)]
    assert ("instance.clone", "success") in events
