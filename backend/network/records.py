"""Typed records of networking (backend/network): rules, security groups, key pairs, networks."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Direction(enum.StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class Protocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ALL = "all"


class Action(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(slots=True, frozen=True)
class Rule:
    """One security group rule; `cidr` is the source (ingress) or destination (egress)."""

    id: str
    group_id: str
    direction: Direction
    protocol: Protocol
    port_min: int  # 1..65535; 0 (with port_max 0) for icmp/all, which have no ports
    port_max: int
    cidr: str  # "" when remote_group names the peer instead
    action: Action
    priority: int  # 1..100, lower first; deny wins at equal priority
    description: str = ""
    remote_group: str = ""  # a group id as source/destination (bridge mode only)

    @property
    def ports(self) -> str:
        if self.port_min == 0:
            return "all"
        if self.port_min == self.port_max:
            return str(self.port_min)
        return f"{self.port_min}-{self.port_max}"

    @property
    def peer(self) -> str:
        return self.cidr or f"group:{self.remote_group}"


@dataclass(slots=True)
class SecurityGroup:
    id: str
    name: str
    description: str
    created_at: float
    rules: list[Rule] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)  # instance ids


@dataclass(slots=True, frozen=True)
class KeyPair:
    name: str
    key_type: str  # ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...
    fingerprint: str  # SHA256:… as ssh-keygen -l prints it
    public_key: str
    comment: str
    created_at: float
    private_key_path: str = ""  # set when lecs generated the pair or was told where it is


@dataclass(slots=True)
class Network:
    """A bridge network (VPC/subnet analog): a Linux bridge, dnsmasq and nftables."""

    id: str
    name: str
    cidr: str
    bridge: str
    netns: str  # "" = the host's namespace
    created_at: float
