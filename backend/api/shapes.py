"""lecs records in ECS's response shapes: field names, nesting, status values, time format
and paging (after the `alibabacloud_ecs20140526` models)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from backend.api.errors import invalid_parameter
from backend.api.params import REGION, ZONE, Params

if TYPE_CHECKING:
    from backend.compute.records import Instance, InstanceType
    from backend.inventory.records import Disk, Image
    from backend.network.records import KeyPair, Rule, SecurityGroup
    from backend.storage.records import Snapshot

T = TypeVar("T")

# lecs state → ECS Status. ECS has no paused or error: a paused guest (lecs instance pause, or
# a host disk error) is "Paused" (a lecs extension, docs/ecs-api.md); one in error can be started,
# as a Stopped one.
INSTANCE_STATUS = {
    "pending": "Pending", "starting": "Starting", "running": "Running",
    "stopping": "Stopping", "stopped": "Stopped", "rebooting": "Starting",
    "paused": "Paused", "error": "Stopped", "deleted": "Stopped",
}
ECS_INSTANCE_STATUSES = ("Pending", "Starting", "Running", "Stopping", "Stopped", "Paused")
DISK_STATUS = {"creating": "Creating", "available": "Available", "in-use": "In_use",
               "error": "Error", "deleted": "Available"}
IMAGE_STATUS = {"creating": "Creating", "available": "Available", "error": "CreateFailed"}
SNAPSHOT_STATUS = {"creating": "progressing", "available": "accomplished", "error": "failed"}
FORWARD_TAG = "lecs:forward:"  # system tag: lecs:forward:tcp:80 = 127.0.0.1:50345
RESERVED_TAG_PREFIXES = ("lecs:", "acs:", "aliyun")
DISK_CATEGORY = "cloud_essd"  # lecs has one category; DescribeZones offers it


def when(stamp: float | None) -> str:
    """ECS's time format: 2026-12-06T12:00Z (UTC, to the minute)."""
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(stamp)) if stamp else ""


def tags(pairs: dict[str, str]) -> dict[str, Any]:
    return {"Tag": [{"TagKey": k, "TagValue": v} for k, v in sorted(pairs.items())]}


def tagged(have: dict[str, str], wanted: dict[str, str | None]) -> bool:
    """A tag filter: every key present, with its value where one is asked for."""
    return all(k in have and (v is None or have[k] == v) for k, v in wanted.items())


def page(p: Params, items: Sequence[T], size: int = 10, most: int = 100
         ) -> tuple[Sequence[T], dict[str, Any]]:
    """One page of `items`, by PageNumber/PageSize or by NextToken/MaxResults (not both)."""
    token = p.text("NextToken")
    results = p.integer("MaxResults", low=1, high=most)
    number = p.integer("PageNumber", low=1)
    count = p.integer("PageSize", low=1, high=most)
    if (token is not None or results is not None) and (number is not None or count is not None):
        raise invalid_parameter("NextToken", "cannot be combined with PageNumber/PageSize")
    if token is not None or results is not None:
        start = 0
        if token:
            if not token.isdigit() or int(token) > len(items):
                raise invalid_parameter("NextToken", "is not a token this listing gave")
            start = int(token)
        take = results or size
        end = start + take
        fields: dict[str, Any] = {"TotalCount": len(items), "MaxResults": take,
                                  "NextToken": str(end) if end < len(items) else ""}
        return items[start:end], fields
    number, count = number or 1, count or size
    start = (number - 1) * count
    return items[start:start + count], {"TotalCount": len(items), "PageNumber": number,
                                        "PageSize": count}


def forwards(inst: Instance) -> dict[str, str]:
    """Where each forwarded guest port is on the host, as system tags (docs/ecs-api.md)."""
    out: dict[str, str] = {}
    for fwd in inst.forwards:
        host = "127.0.0.1" if fwd.host_addr in ("0.0.0.0", "") else fwd.host_addr
        out[f"{FORWARD_TAG}{fwd.protocol}:{fwd.guest_port}"] = f"{host}:{fwd.host_port}"
    return out


def instance(inst: Instance, group_ids: dict[str, str]) -> dict[str, Any]:
    family = inst.type.split(".")[0]
    private = [inst.ip] if inst.ip else []
    return {
        "InstanceId": inst.id, "InstanceName": inst.name, "HostName": inst.hostname or inst.name,
        "Description": "", "Status": INSTANCE_STATUS.get(inst.state.value, "Stopped"),
        "InstanceType": inst.type, "InstanceTypeFamily": f"ecs.{family}",
        "Cpu": inst.vcpus, "Memory": inst.memory_mib, "ImageId": inst.image_id,
        "OSName": inst.image_name, "OSType": "linux", "RegionId": REGION, "ZoneId": ZONE,
        "CreationTime": when(inst.created_at), "StartTime": when(inst.started_at),
        "KeyPairName": inst.key_pair,
        "SecurityGroupIds": {"SecurityGroupId": [group_ids.get(g, g)
                                                 for g in inst.security_groups]},
        "Tags": tags({**inst.tags, **forwards(inst)}),
        "InstanceNetworkType": "vpc" if inst.network else "classic",
        "PublicIpAddress": {"IpAddress": ["127.0.0.1"] if inst.forwards else []},
        "InnerIpAddress": {"IpAddress": private},
        "VpcAttributes": {"VpcId": inst.network, "VSwitchId": inst.network,
                          "PrivateIpAddress": {"IpAddress": private}, "NatIpAddress": ""},
        "EipAddress": {"IpAddress": "", "AllocationId": "", "Bandwidth": 0},
        "InstanceChargeType": "PostPaid", "InternetChargeType": "PayByTraffic",
        "StoppedMode": "Not-applicable", "DeletionProtection": False,
        "IoOptimized": True, "SerialNumber": inst.id, "ExpiredTime": "2099-12-31T15:59Z",
        "OperationLocks": {"LockReason": []},
    }


def instance_type(t: InstanceType) -> dict[str, Any]:
    return {"InstanceTypeId": t.name, "InstanceTypeFamily": f"ecs.{t.name.split('.')[0]}",
            "CpuCoreCount": t.vcpus, "MemorySize": round(t.memory_mib / 1024, 3),
            "CpuArchitecture": "X86", "InstanceCategory": "General-purpose",
            "LocalStorageCategory": "", "GPUAmount": 0, "EniQuantity": 1}


def image(img: Image) -> dict[str, Any]:
    size_gib = max(1, -(-img.size_bytes // (1 << 30)))
    mappings = [{"Device": f"/dev/vd{chr(ord('a') + d.position)}", "Size": str(d.size_gib),
                 "Type": d.role, "Format": d.format} for d in img.disks]
    return {
        "ImageId": img.id, "ImageName": img.name, "Description": img.source,
        "Status": IMAGE_STATUS.get(img.state.value, "UnAvailable"), "Progress": "100%"
        if img.state.value == "available" else "0%", "Size": size_gib,
        "OSName": img.os or img.name, "OSType": "linux", "Platform": img.os or "Linux",
        "Architecture": "x86_64", "Format": img.format.upper(),
        "CreationTime": when(img.created_at), "ImageOwnerAlias": "self",
        "IsSupportCloudinit": True, "IsSupportIoOptimized": True, "Usage": "instance",
        "DiskDeviceMappings": {"DiskDeviceMapping": mappings}, "Tags": {"Tag": []},
    }


def disk(d: Disk) -> dict[str, Any]:
    attached = bool(d.instance_id)
    status = DISK_STATUS.get(d.state.value) or ("In_use" if attached else "Available")
    return {
        "DiskId": d.id, "DiskName": d.name, "Description": "", "Size": d.size_gib,
        "Category": DISK_CATEGORY, "Type": d.role, "Status": status,
        "InstanceId": d.instance_id or "",
        "Device": f"/dev/vd{chr(ord('a') + d.position)}" if attached else "",
        "DeleteWithInstance": d.delete_with_instance, "Encrypted": d.encrypted,
        "Portable": d.role == "data", "ImageId": d.backing_image_id or "",
        "SourceSnapshotId": "", "RegionId": REGION, "ZoneId": ZONE,
        "CreationTime": when(d.created_at), "AttachedTime": when(d.created_at)
        if attached else "", "DiskChargeType": "PostPaid", "Tags": {"Tag": []},
        "OperationLocks": {"OperationLock": []},
    }


def snapshot(s: Snapshot, role: str) -> dict[str, Any]:
    return {
        "SnapshotId": s.id, "SnapshotName": s.name, "Description": "",
        "SourceDiskId": s.disk_id, "SourceDiskSize": str(s.disk_size_gib),
        "SourceDiskType": "System" if role == "system" else "Data",
        "Status": SNAPSHOT_STATUS.get(s.state.value, "failed"),
        "Progress": "100%" if s.state.value == "available" else "0%",
        "CreationTime": when(s.created_at), "LastModifiedTime": when(s.created_at),
        "Usage": "none", "Category": "standard", "SnapshotType": "user",
        "Encrypted": False, "Available": s.state.value == "available",
        "InstantAccess": False, "Tags": {"Tag": []},
    }


def security_group(g: SecurityGroup) -> dict[str, Any]:
    return {"SecurityGroupId": g.id, "SecurityGroupName": g.name, "Description": g.description,
            "SecurityGroupType": "normal", "VpcId": "", "CreationTime": when(g.created_at),
            "EcsCount": len(g.instances), "ServiceManaged": False, "Tags": {"Tag": []}}


def port_range(rule: Rule) -> str:
    return "-1/-1" if rule.port_min == 0 else f"{rule.port_min}/{rule.port_max}"


def permission(rule: Rule) -> dict[str, Any]:
    ingress = rule.direction.value == "ingress"
    cidr, group = rule.cidr, rule.remote_group
    return {
        "SecurityGroupRuleId": rule.id, "Direction": rule.direction.value,
        "IpProtocol": rule.protocol.value.upper(), "PortRange": port_range(rule),
        "SourceCidrIp": cidr if ingress else "", "DestCidrIp": "" if ingress else cidr,
        "SourceGroupId": group if ingress else "", "DestGroupId": "" if ingress else group,
        "Policy": "Accept" if rule.action.value == "allow" else "Drop",
        "Priority": str(rule.priority), "Description": rule.description,
        "NicType": "intranet", "SourcePortRange": "", "CreateTime": "",
    }


def keypair(k: KeyPair) -> dict[str, Any]:
    return {"KeyPairName": k.name, "KeyPairFingerPrint": k.fingerprint,
            "PublicKey": k.public_key, "CreationTime": when(k.created_at),
            "ResourceGroupId": "", "Tags": {"Tag": []}}
