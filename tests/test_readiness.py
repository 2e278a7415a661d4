"""How far a guest is (issue #14, item 4): booting, ready (SSH answers), configured (its
user-data ran), read from what real guests print on their serial console."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend import Cloud
from backend.compute.readiness import Readiness, from_text, level_of, of_log
from backend.inventory.errors import QemuError

# Lines as a Debian 12 cloud image (systemd 252, cloud-init 22.4) prints them on ttyS0.
SSHD = b"[  OK  ] Started \x1b[0;1;39mssh.service\x1b[0m - OpenBSD Secure Shell server.\r\n"
SSHD_PLAIN = b"[  OK  ] Started ssh.service - OpenBSD Secure Shell server.\r\n"
CLOUD_INIT_RUNNING = (b"[   40.1] cloud-init[512]: Cloud-init v. 22.4.2 running 'modules:final'"
                      b" at Sun, 06 Dec 2026 13:00:00 +0000. Up 40.00 seconds.\r\n")
CLOUD_INIT_DONE = (b"[   68.2] cloud-init[512]: Cloud-init v. 22.4.2 finished at Sun, 06 Dec"
                   b" 2026 13:00:28 +0000. Datasource DataSourceNoCloud [seed=/dev/sr0]"
                   b"[dsmode=net].  Up 68.12 seconds\r\n")


def test_levels_from_the_serial_console() -> None:
    assert from_text(b"Booting the kernel.\r\n" + CLOUD_INIT_RUNNING) is Readiness.BOOTING
    assert from_text(SSHD_PLAIN + CLOUD_INIT_RUNNING) is Readiness.READY
    assert from_text(SSHD + CLOUD_INIT_RUNNING) is Readiness.READY  # coloured, as on ttyS0
    assert from_text(SSHD_PLAIN + CLOUD_INIT_RUNNING + CLOUD_INIT_DONE) is Readiness.CONFIGURED
    # the tiny guest prints its marker after running its user-data (and starting dropbear)
    assert from_text(b"lecs-init: user-data: exit status 0\r\nLECS-GUEST-READY\r\n") \
        is Readiness.CONFIGURED
    assert from_text(b"\0" * 4096 + SSHD_PLAIN) is Readiness.READY  # after a reboot's truncation
    assert Readiness.CONFIGURED.rank > Readiness.READY.rank > Readiness.BOOTING.rank
    assert level_of(True) is Readiness.READY
    assert level_of(Readiness.CONFIGURED) is Readiness.CONFIGURED


def test_of_log_reads_again_only_what_changed(tmp_path: Path) -> None:
    log = tmp_path / "serial.log"
    assert of_log(str(log)) is None  # no log: not known
    log.write_bytes(b"Booting\r\n")
    assert of_log(str(log)) is Readiness.BOOTING
    with log.open("ab") as f:
        f.write(SSHD_PLAIN)
    assert of_log(str(log)) is Readiness.READY
    log.write_bytes(b"")  # a reboot empties it: this boot only
    os.utime(log, ns=(1, 1))
    assert of_log(str(log)) is Readiness.BOOTING


@pytest.mark.qemu
async def test_a_guest_that_powers_off_while_booting_says_what_its_console_said(
        cloud: Cloud) -> None:
    """--wait on a guest that powers itself off before it is configured: the error names the
    state and ends with the guest's last console line, so a panic or a power-off shows why."""
    script = b"#!/bin/sh\necho lecs-test: powering off now\nsync\npoweroff -f\n"
    with pytest.raises(QemuError) as failed:
        await cloud.instances.create("early", "tiny", "t1.nano", user_data=script,
                                     wait=Readiness.CONFIGURED, wait_timeout=90)
    text = str(failed.value)
    assert "stopped before the guest was configured" in text, text
    assert "its console ended: " in text and "\n" not in text, text
    assert cloud.instances.get("early").state.value == "stopped"
