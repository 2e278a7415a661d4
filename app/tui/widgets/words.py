"""Words that agree with a count: "1 VM", "2 VMs", "its system disk", "their system disks"."""

from __future__ import annotations


def counted(n: int, one: str, many: str | None = None) -> str:
    """`counted(1, "VM")` → "1 VM"; `counted(2, "VM")` → "2 VMs"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def pick(n: int, one: str, many: str) -> str:
    """The singular or the plural phrase for `n` things."""
    return one if n == 1 else many
