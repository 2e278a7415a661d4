"""The ECS actions' handlers over a real Cloud and SQLite file, no QEMU (CreateInstance makes
Stopped instances): typed parameters, refusals before any effect, shapes, paging, tags.
The SDKs over real QEMU are in test_api_sdk.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from backend import Cloud
from backend.api.actions import load
from backend.api.errors import ApiError
from backend.api.registry import ACTIONS, Call, unaccepted

load()


async def call(cloud: Cloud, name: str, **params: Any) -> dict[str, Any]:
    """As the server does: undeclared names refused first, then the handler."""
    raw = {k.replace("__", "."): str(v) for k, v in params.items()}
    refused = unaccepted(name, raw)
    if refused:
        raise ApiError("InvalidParameter", f"{refused[0]} not declared")
    return await ACTIONS[name](Call(cloud, raw, "tester", "req-1"))


async def code(cloud: Cloud, name: str, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ApiError) as err:
        await call(cloud, name, **params)
    return err.value.code, err.value.status, err.value.message


def events(cloud: Cloud) -> int:
    return len(cloud.audit.list(limit=1000))


@pytest.fixture
async def lab(cloud: Cloud) -> dict[str, Any]:
    image = (await call(cloud, "DescribeImages"))["Images"]["Image"][0]["ImageId"]
    group = (await call(cloud, "CreateSecurityGroup", SecurityGroupName="web"))[
        "SecurityGroupId"]
    return {"cloud": cloud, "image": image, "group": group}


async def test_create_instance_shapes_and_filters(lab: dict[str, Any]) -> None:
    cloud, image = lab["cloud"], lab["image"]
    made = []
    for n in range(3):
        made.append((await call(cloud, "CreateInstance", RegionId="local", ImageId=image,
                                 InstanceType="t1.nano", InstanceName=f"box{n}",
                                 SecurityGroupId=lab["group"], Tag__1__Key="team",
                                 Tag__1__Value="a" if n else "b"))["InstanceId"])
    body = await call(cloud, "DescribeInstances", InstanceIds=json.dumps(made[:2]))
    assert body["TotalCount"] == 2
    inst = body["Instances"]["Instance"][0]
    assert inst["Status"] == "Stopped" and inst["ZoneId"] == "local"
    assert inst["SecurityGroupIds"] == {"SecurityGroupId": [lab["group"]]}
    assert inst["Cpu"] == 1 and inst["Memory"] == 128 and inst["ImageId"] == image
    assert len(inst["CreationTime"]) == len("2026-12-06T12:00Z")
    tagged = await call(cloud, "DescribeInstances", Tag__1__Key="team", Tag__1__Value="a")
    assert {i["InstanceName"] for i in tagged["Instances"]["Instance"]} == {"box1", "box2"}
    keyed = await call(cloud, "DescribeInstances", Tag__1__Key="team")  # any value
    assert keyed["TotalCount"] == 3
    named = await call(cloud, "DescribeInstances", InstanceName="box*", Status="Stopped")
    assert named["TotalCount"] == 3
    first = await call(cloud, "DescribeInstances", MaxResults=2)
    rest = await call(cloud, "DescribeInstances", MaxResults=2, NextToken=first["NextToken"])
    seen = [i["InstanceId"] for i in first["Instances"]["Instance"] + rest["Instances"][
        "Instance"]]
    assert sorted(seen) == sorted(made) and rest["NextToken"] == ""
    page2 = await call(cloud, "DescribeInstances", PageNumber=2, PageSize=2)
    assert (page2["PageNumber"], len(page2["Instances"]["Instance"])) == (2, 1)
    status = await call(cloud, "DescribeInstanceStatus", InstanceId__1=made[0])
    assert status["InstanceStatuses"]["InstanceStatus"] == [{"InstanceId": made[0],
                                                             "Status": "Stopped"}]


async def test_refused_before_any_effect(lab: dict[str, Any]) -> None:
    cloud, image = lab["cloud"], lab["image"]
    base = {"ImageId": image, "InstanceType": "t1.nano"}
    await call(cloud, "CreateDisk", Size=1, DiskName="taken02-data1")
    before = events(cloud)
    cases = [
        ({**base, "InstanceName": "taken[1,2]", "Amount": "2", "DataDisk__1__Size": "1"},
         "InvalidInstanceName.Duplicate"),  # the second one's data disk name is taken
        ({**base, "InstanceName": "x", "InternetMaxBandwidthOut": "5"}, "InvalidParameter"),
        ({**base, "InstanceName": "bad name!"}, "InvalidParameter"),
        ({**base, "InstanceName": "x", "SecurityGroupId": "sg-none"},
         "InvalidSecurityGroupId.NotFound"),
        ({**base, "InstanceName": "x", "KeyPairName": "nope"}, "InvalidKeyPairName.NotFound"),
        ({**base, "InstanceName": "x", "InstanceType": "huge.1"},
         "InvalidInstanceType.ValueNotSupported"),
        ({**base, "InstanceName": "x", "ImageId": "img-none"}, "InvalidImageId.NotFound"),
        ({**base, "InstanceName": "x", "UserData": "%%%"}, "InvalidUserData.Base64FormatInvalid"),
        ({**base, "InstanceName": "x", "Amount": "2"}, "InvalidParameter"),  # names unique
        ({**base, "InstanceName": "x", "Tag__1__Key": "lecs:forward:tcp:80"}, "InvalidParameter"),
        ({**base, "InstanceName": "x", "DataDisk__1__Size": "0"}, "InvalidParameter"),
        ({**base, "InstanceName": "x", "SystemDisk__Category": "cloud_ssd"}, "InvalidParameter"),
        ({**base, "InstanceName": "x", "RegionId": "cn-hangzhou"}, "InvalidRegionId.NotFound"),
        ({**base, "InstanceName": "x[1,2]", "Amount": "2", "DryRun": "true"}, "DryRunOperation"),
    ]
    for params, expected in cases:
        assert (await code(cloud, "RunInstances", **params))[0] == expected, params
    assert cloud.instances.list() == []
    assert events(cloud) == before  # nothing was even attempted


async def test_name_ranges_and_unique_suffix() -> None:
    from backend.api.actions.launch import expand

    assert expand("web-[1,3]-x", 3, "InstanceName") == ["web-001-x", "web-002-x", "web-003-x"]
    assert expand("node[8,1]", 2, "InstanceName") == ["node8", "node9"]
    with pytest.raises(ApiError, match="one"):
        expand("a[1,2]b[1,2]", 2, "InstanceName")


async def test_power_state_errors_and_delete_needs_force(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                       InstanceName="idle"))["InstanceId"]
    assert (await code(cloud, "StopInstance", InstanceId=made))[:2] == (
        "IncorrectInstanceStatus", 403)
    assert (await code(cloud, "RebootInstance", InstanceId=made))[0] == "IncorrectInstanceStatus"
    assert (await code(cloud, "StartInstance", InstanceId="i-nothere00"))[:2] == (
        "InvalidInstanceId.NotFound", 404)
    assert (await code(cloud, "DescribeInstanceAttribute", InstanceId="idle"))[0] == (
        "InvalidInstanceId.NotFound")  # ECS names instances by id only
    assert (await code(cloud, "DeleteInstance", InstanceId=made, DryRun="true"))[0] == (
        "DryRunOperation")
    await call(cloud, "DeleteInstance", InstanceId=made)  # Stopped: no Force needed
    assert cloud.instances.list() == []


async def test_tags_and_groups(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                       InstanceName="tagged"))["InstanceId"]
    await call(cloud, "TagResources", ResourceType="instance", ResourceId__1=made,
               Tag__1__Key="env", Tag__1__Value="lab", Tag__2__Key="owner", Tag__2__Value="me")
    listed = await call(cloud, "ListTagResources", ResourceId__1=made)
    assert {(t["TagKey"], t["TagValue"]) for t in listed["TagResources"]["TagResource"]} == {
        ("env", "lab"), ("owner", "me")}
    await call(cloud, "UntagResources", ResourceId__1=made, TagKey__1="owner")
    assert cloud.instances.get(made).tags == {"env": "lab"}
    assert (await code(cloud, "TagResources", ResourceType="disk", ResourceId__1="d-1",
                       Tag__1__Key="a"))[0] == "InvalidParameter"
    default = [g for g in (await call(cloud, "DescribeSecurityGroups"))["SecurityGroups"][
        "SecurityGroup"] if g["SecurityGroupName"] == "default"][0]["SecurityGroupId"]
    await call(cloud, "ModifyInstanceAttribute", InstanceId=made,
               SecurityGroupIds__1=lab["group"])
    assert cloud.instances.get(made).security_groups == ["web"]
    assert (await code(cloud, "DeleteSecurityGroup", SecurityGroupId=lab["group"]))[:2] == (
        "DependencyViolation", 403)  # in use
    await call(cloud, "JoinSecurityGroup", InstanceId=made, SecurityGroupId=default)
    await call(cloud, "LeaveSecurityGroup", InstanceId=made, SecurityGroupId=lab["group"])
    assert cloud.instances.get(made).security_groups == ["default"]
    assert (await code(cloud, "ModifyInstanceAttribute", InstanceId=made,
                       HostName="other"))[0] == "InvalidParameter"
    await call(cloud, "ModifyInstanceAttribute", InstanceId=made, InstanceName="renamed")
    assert cloud.instances.get(made).name == "renamed"


async def test_spec_system_disk_and_console_output(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                       InstanceName="ops"))["InstanceId"]
    assert (await code(cloud, "ModifyInstanceSpec", InstanceId=made,
                       InstanceType="huge.1"))[0] == "InvalidInstanceType.ValueNotSupported"
    await call(cloud, "ModifyInstanceSpec", InstanceId=made, InstanceType="t1.micro")
    assert cloud.instances.get(made).type == "t1.micro"
    old = [d.id for d in cloud.instances.get(made).disks if d.role == "system"]
    assert (await code(cloud, "ReplaceSystemDisk", InstanceId=made, ImageId=lab["image"],
                       SystemDisk__Size="20"))[0] == "InvalidParameter"
    new = (await call(cloud, "ReplaceSystemDisk", InstanceId=made, ImageId=lab["image"]))[
        "DiskId"]
    assert new and [new] != old
    assert [d.id for d in cloud.instances.get(made).disks if d.role == "system"] == [new]
    out = await call(cloud, "GetInstanceConsoleOutput", InstanceId=made)
    assert out["InstanceId"] == made and base64.b64decode(out["ConsoleOutput"]) == b""


async def test_rules_keypairs_and_disks(lab: dict[str, Any]) -> None:
    cloud, group = lab["cloud"], lab["group"]
    await call(cloud, "AuthorizeSecurityGroup", SecurityGroupId=group,
               Permissions__1__IpProtocol="TCP", Permissions__1__PortRange="8000/8080",
               Permissions__1__SourceCidrIp="10.0.0.0/8", Permissions__1__Policy="drop",
               Permissions__1__Priority="5")
    rules = (await call(cloud, "DescribeSecurityGroupAttribute", SecurityGroupId=group,
                        Direction="ingress"))["Permissions"]["Permission"]
    assert [(r["PortRange"], r["SourceCidrIp"], r["Policy"], r["Priority"]) for r in rules] == [
        ("8000/8080", "10.0.0.0/8", "Drop", "5")]
    assert (await code(cloud, "AuthorizeSecurityGroup", SecurityGroupId=group,
                       IpProtocol="tcp", PortRange="80"))[0] == "InvalidParameter"
    await call(cloud, "RevokeSecurityGroup", SecurityGroupId=group,
               SecurityGroupRuleId__1=rules[0]["SecurityGroupRuleId"])
    assert not [r for r in cloud.sgs.get(group).rules if r.direction.value == "ingress"]

    public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x"
    got = await call(cloud, "ImportKeyPair", KeyPairName="mine", PublicKeyBody=public)
    assert got["KeyPairFingerPrint"].startswith("SHA256:")
    assert (await code(cloud, "ImportKeyPair", KeyPairName="path",
                       PublicKeyBody="/etc/passwd"))[0] == "InvalidParameter"  # never a file
    assert (await code(cloud, "ImportKeyPair", KeyPairName="mine",
                       PublicKeyBody=public))[0] == "KeyPair.AlreadyExist"
    pairs = (await call(cloud, "DescribeKeyPairs"))["KeyPairs"]["KeyPair"]
    assert [k["KeyPairName"] for k in pairs] == ["mine"]
    await call(cloud, "DeleteKeyPairs", KeyPairNames=json.dumps(["mine"]))
    assert cloud.keypairs.list() == []

    disk = (await call(cloud, "CreateDisk", Size=1, DiskName="vol"))["DiskId"]
    assert (await code(cloud, "CreateDisk", Size=1, DiskName="vol"))[:2] == (
        "InvalidDiskName.Duplicate", 400)
    await call(cloud, "ModifyDiskAttribute", DiskId=disk, DeleteWithInstance="true")
    view = (await call(cloud, "DescribeDisks", DiskIds=json.dumps([disk])))["Disks"]["Disk"][0]
    assert (view["Status"], view["Size"], view["DeleteWithInstance"]) == ("Available", 1, True)
    assert (await code(cloud, "DescribeDisks", DiskIds="d-1"))[0] == "InvalidParameter"
    assert (await code(cloud, "DeleteDisk", DiskId="d-none"))[:2] == ("InvalidDiskId.NotFound",
                                                                      404)
    await call(cloud, "DeleteDisk", DiskId=disk)


async def test_user_data_is_base64(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    script = b"#!/bin/sh\necho hi\n"
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                       InstanceName="ud", UserData=base64.b64encode(script).decode(),
                       HostName="ud-host"))["InstanceId"]
    inst = cloud.instances.get(made)
    assert inst.hostname == "ud-host"
    assert cloud.instances.net.seed_view(made, disk_image=False)["user_data"] == "first boot"
    plain = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                        InstanceName="plain", SystemDisk__Category="cloud_essd",
                        SystemDisk__Size="2"))["InstanceId"]  # the category DescribeZones offers
    assert [d.size_gib for d in cloud.instances.get(plain).disks] == [2]
    assert (cloud.instances.net.seed_view(plain, disk_image=False) or {}).get("user_data") is None


async def test_images_from_an_instance(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                       InstanceName="src"))["InstanceId"]
    assert (await code(cloud, "CreateImage", InstanceId=made, SnapshotId="sn-1"))[0] == (
        "InvalidParameter")
    image = (await call(cloud, "CreateImage", InstanceId=made, ImageName="golden"))["ImageId"]
    await call(cloud, "DeleteInstance", InstanceId=made)
    shown = (await call(cloud, "DescribeImages", ImageId=image))["Images"]["Image"]
    assert [(i["ImageName"], i["Status"]) for i in shown] == [("golden", "Available")]
    types = (await call(cloud, "DescribeInstanceTypes", InstanceTypes__1="t1.micro"))
    assert [(t["InstanceTypeId"], t["CpuCoreCount"], t["MemorySize"]) for t in types[
        "InstanceTypes"]["InstanceType"]] == [("t1.micro", 1, 0.25)]
    await call(cloud, "DeleteImage", ImageId=image)
    assert (await code(cloud, "DeleteImage", ImageId=image))[:2] == ("InvalidImageId.NotFound",
                                                                     404)


async def test_a_nameless_instance_gets_one(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano")
            )["InstanceId"]
    shown = await call(cloud, "DescribeInstanceAttribute", InstanceId=made)
    assert shown["InstanceName"].startswith("ecs-") and shown["Status"] == "Stopped"


async def test_slow_operations_answer_early_and_serve_waits_for_them() -> None:
    import asyncio

    from backend.api import translate
    from backend.inventory.errors import StateError

    finished: list[str] = []

    async def slow() -> str:
        await asyncio.sleep(0.3)
        finished.append("slow")
        return "done"

    async def refused() -> None:
        raise StateError("cannot stop instance 'x': it is stopped (stop needs running)")

    assert await translate.settle(slow(), within=0.05) is None  # answered, still going
    assert finished == []
    assert await translate.drain(5.0) == [] and finished == ["slow"]  # serve's stop waits
    with pytest.raises(ApiError) as err:  # an error in time is the answer
        await translate.settle(refused(), within=1.0)
    assert (err.value.code, err.value.status) == ("IncorrectInstanceStatus", 403)


async def test_data_disks_of_a_launch(lab: dict[str, Any]) -> None:
    cloud = lab["cloud"]
    made = (await call(cloud, "CreateInstance", ImageId=lab["image"], InstanceType="t1.nano",
                       InstanceName="dd", DataDisk__1__Size="1", DataDisk__2__Size="2",
                       DataDisk__2__DeleteWithInstance="false",
                       DataDisk__2__Category="cloud_essd"))["InstanceId"]
    disks = (await call(cloud, "DescribeDisks", InstanceId=made, DiskType="data"))["Disks"][
        "Disk"]
    assert sorted((d["DiskName"], d["Size"], d["DeleteWithInstance"], d["Status"])
                  for d in disks) == [("dd-data1", 1, True, "In_use"),
                                      ("dd-data2", 2, False, "In_use")]
    await call(cloud, "DeleteInstance", InstanceId=made)
    left = (await call(cloud, "DescribeDisks"))["Disks"]["Disk"]
    assert [(d["DiskName"], d["Status"]) for d in left] == [("dd-data2", "Available")]
