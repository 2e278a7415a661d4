"""Security groups: Create, Describe, DescribeSecurityGroupAttribute, Authorize/Revoke (ingress
and egress), Delete, Join/Leave. An ingress rule's ports are forwarded to the guest (user-mode
networking): DescribeInstances reports where (docs/ecs-api.md)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from backend.api import shapes
from backend.api.actions.instances import find as find_instance
from backend.api.errors import ApiError, invalid_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine
from backend.network import rules as rulemod
from backend.network.rules import RuleInput

if TYPE_CHECKING:
    from backend.cloud import Cloud
    from backend.network.records import Rule, SecurityGroup

PAGING = ("PageNumber", "PageSize", "NextToken", "MaxResults")
RULE_FIELDS = ("IpProtocol", "PortRange", "SourceCidrIp", "DestCidrIp", "Policy", "Priority",
               "Description", "NicType", "SourceGroupId", "DestGroupId")
MEMBERSHIP = ("RegionId", "SecurityGroupId", "InstanceId", "NetworkInterfaceId")
POLICY = {"accept": "allow", "drop": "deny"}


def find_group(cloud: Cloud, ref: str) -> SecurityGroup:
    with engine("security group"):
        group = cloud.sgs.get(ref)
    if group.id != ref:
        raise ApiError("InvalidSecurityGroupId.NotFound",
                       f"The specified SecurityGroupId {ref!r} does not exist.", 404)
    return group


@action("CreateSecurityGroup", params=("RegionId", "SecurityGroupName", "Description",
                                       "SecurityGroupType", "VpcId", "ClientToken", "DryRun"))
async def create_security_group(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    name = p.text("SecurityGroupName", max_len=128) or f"sg-{secrets.token_hex(4)}"
    description = p.text("Description", "", max_len=256) or ""
    p.only("SecurityGroupType", "normal")
    p.only("VpcId", "")
    p.done(dry_run=True)
    with engine("security group"):
        group = call.cloud.sgs.create(name, description)
    return {"SecurityGroupId": group.id}


@action("DescribeSecurityGroups", params=("RegionId", "SecurityGroupIds", "SecurityGroupId",
                                          "SecurityGroupName", "DryRun", *PAGING))
async def describe_security_groups(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    ids, single = p.json_list("SecurityGroupIds"), p.text("SecurityGroupId")
    name = p.text("SecurityGroupName")
    chosen = [g for g in call.cloud.sgs.list()
              if (ids is None or g.id in ids) and (not single or g.id == single)
              and (not name or g.name == name)]
    items, paging = shapes.page(p, chosen, most=100)
    p.done(dry_run=True)
    return {**paging, "RegionId": "local",
            "SecurityGroups": {"SecurityGroup": [shapes.security_group(g) for g in items]}}


@action("DescribeSecurityGroupAttribute", params=("RegionId", "SecurityGroupId", "Direction",
                                                  "NicType"))
async def describe_security_group_attribute(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    group = find_group(call.cloud, p.need("SecurityGroupId"))
    direction = p.choice("Direction", ("all", "ingress", "egress"), "all")
    p.only("NicType", "intranet")
    p.done()
    rules = [r for r in group.rules if direction in ("all", r.direction.value)]
    return {"SecurityGroupId": group.id, "SecurityGroupName": group.name,
            "Description": group.description, "RegionId": "local", "VpcId": "",
            "InnerAccessPolicy": "Accept",
            "Permissions": {"Permission": [shapes.permission(r) for r in rules]}}


def _ports(text: str, protocol: str, where: str) -> str:
    """ECS's `80/80`, `8000/8080`, `-1/-1` → lecs's `80`, `8000-8080`, ``."""
    low, sep, high = text.partition("/")
    if not sep:
        raise invalid_parameter(where, "must be FROM/TO, e.g. 80/80 (or -1/-1)")
    if (low, high) == ("-1", "-1") or protocol in ("icmp", "all"):
        if (low, high) not in (("-1", "-1"), ("1", "65535")):
            raise invalid_parameter(where, f"must be -1/-1 for {protocol.upper()}")
        return "" if protocol in ("icmp", "all") else "all"
    return low if low == high else f"{low}-{high}"


def _specs(p: Params, egress: bool) -> list[tuple[str, RuleInput]]:
    """The rules of an Authorize/Revoke: top-level fields or Permissions.N.* (not both)."""
    peer = "DestCidrIp" if egress else "SourceCidrIp"
    group_field = "DestGroupId" if egress else "SourceGroupId"
    listed = p.structs("Permissions", RULE_FIELDS, limit=100)
    top = {f: v for f in RULE_FIELDS if (v := p.text(f)) is not None}
    if listed and top:
        raise invalid_parameter("Permissions.1.IpProtocol", "cannot be given with top-level"
                                " rule fields")
    items = [(f"Permissions.{n}.", item) for n, item in enumerate(listed, 1)] or [("", top)]
    specs = []
    for prefix, item in items:
        protocol = item.get("IpProtocol", "").lower()
        if protocol not in ("tcp", "udp", "icmp", "all"):
            raise invalid_parameter(prefix + "IpProtocol", "must be TCP, UDP, ICMP or ALL")
        policy = POLICY.get(item.get("Policy", "accept").lower())
        if policy is None:
            raise invalid_parameter(prefix + "Policy", "must be accept or drop")
        if item.get("NicType", "intranet") != "intranet":
            raise invalid_parameter(prefix + "NicType", "can only be intranet in lecs")
        for other in ("DestCidrIp", "DestGroupId") if not egress else ("SourceCidrIp",
                                                                       "SourceGroupId"):
            if item.get(other):
                raise invalid_parameter(prefix + other, "does not apply to this direction")
        specs.append((prefix, RuleInput(
            direction="egress" if egress else "ingress", protocol=protocol,
            ports=_ports(item.get("PortRange", ""), protocol, prefix + "PortRange"),
            cidr=item.get(peer, ""), action=policy, priority=item.get("Priority", "1"),
            description=item.get("Description", ""),
            remote_group=item.get(group_field, ""))))
    return specs


def _same(rule: Rule, spec: RuleInput, remote: str) -> bool:
    built = rulemod.build(spec, rule.id, rule.group_id, remote)
    return (built.direction, built.protocol, built.port_min, built.port_max, built.cidr,
            built.action, built.priority, built.remote_group) == (
        rule.direction, rule.protocol, rule.port_min, rule.port_max, rule.cidr, rule.action,
        rule.priority, rule.remote_group)


async def _authorize(call: Call, egress: bool) -> dict[str, Any]:
    p = Params(call)
    p.region()
    group = find_group(call.cloud, p.need("SecurityGroupId"))
    specs = _specs(p, egress)
    p.done()
    with engine("security group"):
        for _prefix, spec in specs:
            await call.cloud.sgs.rule_add(group.id, spec)
    return {}


async def _revoke(call: Call, egress: bool) -> dict[str, Any]:
    p = Params(call)
    p.region()
    group = find_group(call.cloud, p.need("SecurityGroupId"))
    ids = p.repeat("SecurityGroupRuleId")
    specs = [] if ids else _specs(p, egress)
    p.done()
    direction = "egress" if egress else "ingress"
    mine = [r for r in group.rules if r.direction.value == direction]
    doomed: list[str] = []
    for rule_id in ids:
        if not any(r.id == rule_id for r in mine):
            raise ApiError("InvalidSecurityGroupRuleId.NotFound",
                           f"The specified SecurityGroupRuleId {rule_id!r} does not exist.",
                           404)
        doomed.append(rule_id)
    with engine("security group"):
        for prefix, spec in specs:
            remote = call.cloud.sgs.get(spec.remote_group).id if spec.remote_group else ""
            matched = [r.id for r in mine if _same(r, spec, remote)]
            if not matched:
                raise ApiError("InvalidSecurityGroupRule.RuleNotExist",
                               f"No {direction} rule of {group.id} matches"
                               f" {prefix or 'the request'}.", 404)
            doomed += matched
        for rule_id in dict.fromkeys(doomed):
            await call.cloud.sgs.rule_delete(group.id, rule_id)
    return {}


@action("AuthorizeSecurityGroup", params=("RegionId", "SecurityGroupId", *RULE_FIELDS,
                                          *(f"Permissions.*.{f}" for f in RULE_FIELDS),
                                          "ClientToken"))
async def authorize_security_group(call: Call) -> dict[str, Any]:
    return await _authorize(call, egress=False)


@action("AuthorizeSecurityGroupEgress", params=("RegionId", "SecurityGroupId", *RULE_FIELDS,
                                                *(f"Permissions.*.{f}" for f in RULE_FIELDS),
                                                "ClientToken"))
async def authorize_security_group_egress(call: Call) -> dict[str, Any]:
    return await _authorize(call, egress=True)


@action("RevokeSecurityGroup", params=("RegionId", "SecurityGroupId", *RULE_FIELDS,
                                       *(f"Permissions.*.{f}" for f in RULE_FIELDS),
                                       "SecurityGroupRuleId.*", "ClientToken"))
async def revoke_security_group(call: Call) -> dict[str, Any]:
    return await _revoke(call, egress=False)


@action("RevokeSecurityGroupEgress", params=("RegionId", "SecurityGroupId", *RULE_FIELDS,
                                             *(f"Permissions.*.{f}" for f in RULE_FIELDS),
                                             "SecurityGroupRuleId.*", "ClientToken"))
async def revoke_security_group_egress(call: Call) -> dict[str, Any]:
    return await _revoke(call, egress=True)


@action("DeleteSecurityGroup", params=("RegionId", "SecurityGroupId"))
async def delete_security_group(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    group = find_group(call.cloud, p.need("SecurityGroupId"))
    p.done()
    with engine("security group"):
        call.cloud.sgs.delete(group.id)
    return {}


async def _membership(call: Call, join: bool) -> dict[str, Any]:
    p = Params(call)
    group = find_group(call.cloud, p.need("SecurityGroupId"))
    inst = find_instance(call.cloud, p.need("InstanceId"))
    if p.has("NetworkInterfaceId"):
        raise invalid_parameter("NetworkInterfaceId", "cannot be honoured: lecs instances"
                                " have one network interface (give InstanceId)")
    p.done()
    with engine("security group"):
        if join:
            await call.cloud.sgs.attach(inst.id, group.id)
        else:
            await call.cloud.sgs.detach(inst.id, group.id)
    return {}


@action("JoinSecurityGroup", params=MEMBERSHIP)
async def join_security_group(call: Call) -> dict[str, Any]:
    return await _membership(call, join=True)


@action("LeaveSecurityGroup", params=MEMBERSHIP)
async def leave_security_group(call: Call) -> dict[str, Any]:
    return await _membership(call, join=False)
