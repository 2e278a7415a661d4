"""NoCloud on real QEMU: hostname, authorized key and user-data script seen on the console;
`lecs instance ssh` builds the ssh command line with the forwarded port and the key pair."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.errors import ValidationError
from tests.qemu_probe import serial_run

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def current_guest() -> None:
    """The guest cache must hold the NoCloud-aware init (build_guest rebuilds when stale)."""
    subprocess.run([sys.executable, str(REPO / "sample_data" / "build_guest.py")], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


SCRIPT = """#!/bin/sh
echo "user-data says hello from $(hostname)"
echo "sum is $((40 + 2))"
"""


async def test_user_data_hostname_and_key_reach_the_guest_and_the_default_hostname(
    cloud: Cloud, tmp_path: Path
) -> None:
    """…and (#13 item 3) with no hostname given, a guest booted alongside is named after its
    instance (one boot side by side instead of a test of its own)."""
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nocloud@test: laptop",
                    "-f", str(key)], check=True, stdin=subprocess.DEVNULL)
    pair = cloud.keypairs.import_key("lab", Path(str(key) + ".pub"), key)
    inst, named = await asyncio.gather(
        cloud.instances.create("ud1", "tiny", "t1.micro", keypair="lab", user_data=SCRIPT,
                               hostname="box-7"),
        cloud.instances.create("web_9", "tiny", "t1.nano"))
    seed = cloud.paths.home / "seeds" / f"{inst.id}.iso"
    assert seed.stat().st_mode & 0o777 == 0o600
    assert inst.key_pair == "lab" and inst.hostname == "box-7"
    await cloud.instances.wait_ready(inst.id, timeout=90)
    log = (Path(inst.runtime_dir) / "serial.log").read_text(errors="replace")
    assert "user-data says hello from box-7" in log
    assert "sum is 42" in log
    assert "hostname box-7, 1 ssh key(s)" in log
    out = await serial_run(inst.runtime_dir, "cat /root/.ssh/authorized_keys; echo E=$((1+1))",
                           "E=2")
    assert pair.public_key.strip() in out.splitlines() or pair.public_key.strip() in out
    assert "nocloud@test: laptop" in out  # a comment with ': ' stays the key's own
    await cloud.instances.wait_ready(named.id, timeout=90)
    out = await serial_run(named.runtime_dir, "echo H=$(hostname)=", "H=web-9=")
    assert "H=web-9=" in out
    await cloud.instances.delete(named.id)

    # `lecs instance ssh`: a stand-in ssh on PATH prints the argv it was given
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ssh").write_text(f"#!{sys.executable}\nimport sys\nprint(' '.join(sys.argv[1:]))\n")
    (fake / "ssh").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}",
           "LECS_HOME": str(cloud.paths.home)}
    result = subprocess.run([sys.executable, "-m", "app.main", "instance", "ssh", "ud1"],
                            capture_output=True, text=True, env=env, cwd=REPO,
                            stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 0, result.stderr
    argv = result.stdout.split()
    assert argv[:2] == ["-p", str(inst.port_for(22))]
    assert argv[argv.index("-i") + 1] == str(key)
    assert argv[-1] == "root@127.0.0.1"

    await cloud.instances.delete("ud1")
    assert not seed.exists()


async def test_bad_user_data_and_hostname_are_refused(cloud: Cloud) -> None:
    with pytest.raises(ValidationError, match="invalid hostname"):
        await cloud.instances.create("h1", "tiny", "t1.nano", hostname="-bad-", start=False)
    with pytest.raises(ValidationError, match="at most 32768"):
        await cloud.instances.create("h2", "tiny", "t1.nano", user_data="x" * 40000,
                                     start=False)
    with pytest.raises(ValidationError, match="UTF-8"):
        await cloud.instances.create("h3", "tiny", "t1.nano", user_data=b"\xff\xfe",
                                     start=False)
    assert cloud.store.db["instances"].count == 0
    assert not list((cloud.paths.home / "seeds").glob("*.iso")) if (
        cloud.paths.home / "seeds").exists() else True
