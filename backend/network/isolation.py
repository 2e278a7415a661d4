"""What each networking mode seals on this host, and what it cannot: `lecs doctor`'s lines."""

from __future__ import annotations

import os
from dataclasses import dataclass

from backend.drivers.qemu import passt


@dataclass(frozen=True, slots=True)
class Isolation:
    mode: str
    ok: bool
    detail: str

    @property
    def summary(self) -> str:
        """A few words for the Security groups pane (the detail is `lecs doctor`'s)."""
        head = self.detail.split(":", 1)[0]
        gap = "; gaps: see lecs doctor" if "not sealed:" in self.detail else ""
        return f"{self.mode}: {head if self.ok else 'UNSEALED (' + head + ')'}{gap}"


def _other_addresses() -> list[str]:
    """The host's IPv4 addresses besides loopback and the default route's (passt hands
    that one to the guest as its own, so a guest cannot reach the host through it)."""
    import psutil

    found: list[str] = []
    for addrs in psutil.net_if_addrs().values():
        found += [a.address for a in addrs if a.family.name == "AF_INET"
                  and not a.address.startswith("127.")]
    return found[1:] if found else []


def user_mode() -> Isolation:
    if not passt.available():
        return Isolation("user mode", False,
                         f"passt not found: {passt.APT}; until then user-mode guests with"
                         " egress use slirp alone, UNSEALED: they reach the host's loopback"
                         " services and other instances' forwards (shown in their details)")
    others = _other_addresses()
    gap = (f"; not sealed: services listening on the host's other addresses"
           f" ({', '.join(others[:4])})" if others else "")
    return Isolation("user mode", True,
                     "sealed: egress (passt --no-map-gw) reaches the host's loopback and other"
                     " instances' forwards only through an egress rule to 127.0.0.1/32" + gap)


def bridge_mode() -> Isolation:
    if os.geteuid() != 0:
        return Isolation("bridge mode", True, "not available (needs root); nothing to seal")
    return Isolation("bridge mode", True,
                     "sealed: nftables input chain drops bridge guests' traffic to the host"
                     " (DHCP from lecs's dnsmasq excepted) unless an egress rule names the"
                     " host (127.0.0.1/32, or one of its addresses)")


def report() -> list[Isolation]:
    return [user_mode(), bridge_mode()]
