"""Which accelerator QEMU should use here, and why: KVM where it really works, TCG otherwise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

QEMU_BINARY = "qemu-system-x86_64"


@dataclass(frozen=True, slots=True)
class Accel:
    name: str  # kvm | tcg
    reason: str


def detect(env: dict[str, str] | None = None, sys_module: Path = Path("/sys/module")) -> Accel:
    env = dict(os.environ) if env is None else env
    forced = env.get("LECS_ACCEL", "").strip().lower()
    if forced in {"kvm", "tcg"}:
        return Accel(forced, f"forced by LECS_ACCEL={forced}")
    if not os.path.exists("/dev/kvm"):
        return Accel("tcg", "/dev/kvm is absent")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accel("tcg", "/dev/kvm is not readable and writable by this user")
    if (sys_module / "kvm_pvm").exists():
        return Accel("tcg", "KVM is backed by kvm_pvm (nested, no VT-x): guests hang, so TCG")
    if not ((sys_module / "kvm_intel").exists() or (sys_module / "kvm_amd").exists()):
        return Accel("tcg", "no kvm_intel or kvm_amd module loaded")
    return Accel("kvm", "/dev/kvm is usable with a hardware KVM module")


@cache
def host_accel() -> Accel:
    return detect()


def qemu_binary() -> str | None:
    return shutil.which(os.environ.get("LECS_QEMU", QEMU_BINARY))


@cache
def qemu_version() -> str:
    binary = qemu_binary()
    if not binary:
        return "not installed"
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return "unknown"
    found = re.search(r"version (\S+)", out)
    return found.group(1) if found else "unknown"
