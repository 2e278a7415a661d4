"""Accelerator choice: KVM only where it really works (never on kvm_pvm)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.drivers.qemu.accel import detect


def test_forced_by_env() -> None:
    assert detect({"LECS_ACCEL": "tcg"}).name == "tcg"


@pytest.mark.skipif(not os.path.exists("/dev/kvm"), reason="needs /dev/kvm to reach the check")
def test_kvm_pvm_means_tcg(tmp_path: Path) -> None:
    (tmp_path / "kvm").mkdir()
    (tmp_path / "kvm_pvm").mkdir()
    found = detect({}, sys_module=tmp_path)
    assert found.name == "tcg" and "kvm_pvm" in found.reason


@pytest.mark.skipif(not os.access("/dev/kvm", os.R_OK | os.W_OK), reason="needs /dev/kvm")
def test_hardware_module_means_kvm(tmp_path: Path) -> None:
    (tmp_path / "kvm_intel").mkdir()
    assert detect({}, sys_module=tmp_path).name == "kvm"


def test_this_host_reason_is_given() -> None:
    found = detect()
    assert found.name in {"kvm", "tcg"} and found.reason
