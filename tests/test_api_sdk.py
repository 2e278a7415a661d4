"""The ECS actions driven by Alibaba Cloud's own SDKs, as they are, against a real `lecs serve`
over real QEMU: two tiny guests launched once (RunInstances, Amount=2) and shared by the
module's tests, which run in order: launch, network, power, disks, errors, delete."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from alibabacloud_ecs20140526 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.StartInstanceRequest import StartInstanceRequest
from aliyunsdkecs.request.v20140526.StopInstanceRequest import StopInstanceRequest

from backend.inventory.paths import Paths
from tests.qemu_probe import http_get
from tests.serve_helpers import Serve, core_call, core_client, lecs, running_serve, tea_client

pytestmark = pytest.mark.qemu
MARK = "served-from-user-data"
USER_DATA = f"#!/bin/sh\necho {MARK} > /www/index.html\n"


def wait_for(check: Any, timeout: float = 90.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def statuses(ecs: Any, ids: list[str]) -> dict[str, str]:
    body = ecs.describe_instances(models.DescribeInstancesRequest(
        region_id="local", instance_ids=json.dumps(ids))).body
    return {i.instance_id: i.status for i in body.instances.instance}


def forward(ecs: Any, instance_id: str, port: int) -> tuple[str, int] | None:
    """Where the API says guest tcp `port` is reachable (the lecs:forward: system tag)."""
    body = ecs.describe_instances(models.DescribeInstancesRequest(
        region_id="local", instance_ids=json.dumps([instance_id]))).body
    for tag in body.instances.instance[0].tags.tag:
        if tag.tag_key == f"lecs:forward:tcp:{port}":
            host, _, number = tag.tag_value.rpartition(":")
            return host, int(number)
    return None


def fetch(where: tuple[str, int] | None) -> str:
    if where is None:
        return ""
    try:
        return http_get(where[1], timeout=3)
    except (urllib.error.URLError, ConnectionError, OSError):
        return ""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, tiny_guest: Any) -> Iterator[Serve]:
    home = tmp_path_factory.mktemp("api") / "home"
    with running_serve(home) as serve:
        yield serve
    marker = str(Paths.from_env(str(home)).runtime)
    for proc in psutil.process_iter(["cmdline"]):  # whatever a failed test left
        if any(marker in arg for arg in proc.info["cmdline"] or []):
            proc.kill()


@pytest.fixture(scope="module")
def fleet(srv: Serve) -> dict[str, Any]:
    """A key pair, a security group without ingress, and two instances of RunInstances."""
    ecs = tea_client(srv)
    key = ecs.create_key_pair(models.CreateKeyPairRequest(region_id="local",
                                                          key_pair_name="lab")).body
    assert "PRIVATE KEY" in key.private_key_body
    group = ecs.create_security_group(models.CreateSecurityGroupRequest(
        region_id="local", security_group_name="web")).body.security_group_id
    image = ecs.describe_images(models.DescribeImagesRequest(region_id="local")
                                ).body.images.image[0].image_id
    ran = ecs.run_instances(models.RunInstancesRequest(
        region_id="local", image_id=image, instance_type="t1.nano", amount=2,
        security_group_id=group, key_pair_name="lab", instance_name="web[1,2]",
        user_data=base64.b64encode(USER_DATA.encode()).decode(),
        tag=[models.RunInstancesRequestTag(key="env", value="lab")])).body
    ids = ran.instance_id_sets.instance_id_set
    return {"ecs": ecs, "ids": ids, "group": group, "image": image}


def test_run_instances_both_running(fleet: dict[str, Any]) -> None:
    ecs, ids = fleet["ecs"], fleet["ids"]
    assert len(ids) == 2
    wait_for(lambda: set(statuses(ecs, ids).values()) == {"Running"})
    body = ecs.describe_instances(models.DescribeInstancesRequest(
        region_id="local", instance_ids=json.dumps(ids), page_size=1)).body
    assert body.total_count == 2 and body.page_size == 1 and len(body.instances.instance) == 1
    inst = body.instances.instance[0]
    assert inst.instance_name in ("web01", "web02") and inst.key_pair_name == "lab"
    assert inst.security_group_ids.security_group_id == [fleet["group"]]
    assert inst.zone_id == "local" and inst.region_id == "local"
    assert inst.creation_time.endswith("Z") and len(inst.creation_time) == 17
    assert {"env": "lab"}.items() <= {t.tag_key: t.tag_value for t in inst.tags.tag}.items()



def test_engine_events_name_the_access_key(srv: Serve, fleet: dict[str, Any]) -> None:
    """The instances' own events (their start ran on after RunInstances answered) are the
    key's, as the RunInstances call is."""
    events = [json.loads(line) for line in lecs(srv.home, "event", "export").stdout.split("\n")
              if line]
    mine = {(e["action"], e["resource"]): e["user"] for e in events}
    for instance_id in fleet["ids"]:
        assert mine[("instance.create", instance_id)] == "tester"
        assert mine[("instance.start", instance_id)] == "tester"
    assert any(e["action"] == "api.RunInstances" and e["user"] == "tester" for e in events)


def test_authorize_opens_port_80_and_revoke_closes_it(fleet: dict[str, Any]) -> None:
    ecs, target = fleet["ecs"], fleet["ids"][0]
    assert forward(ecs, target, 80) is None  # the group has no ingress yet
    rule = {"region_id": "local", "security_group_id": fleet["group"], "ip_protocol": "tcp",
            "port_range": "80/80", "source_cidr_ip": "127.0.0.1/32"}
    ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(**rule))
    where = forward(ecs, target, 80)
    assert where is not None and where[0] == "127.0.0.1"
    wait_for(lambda: MARK in fetch(forward(ecs, target, 80)), timeout=90)  # user-data ran
    console = ecs.get_instance_console_output(models.GetInstanceConsoleOutputRequest(
        region_id="local", instance_id=target)).body
    assert "user-data" in base64.b64decode(console.console_output).decode()
    rules = ecs.describe_security_group_attribute(models.DescribeSecurityGroupAttributeRequest(
        region_id="local", security_group_id=fleet["group"])).body.permissions.permission
    assert [(r.ip_protocol, r.port_range, r.policy) for r in rules
            if r.direction == "ingress"] == [("TCP", "80/80", "Accept")]
    ecs.revoke_security_group(models.RevokeSecurityGroupRequest(**rule))
    assert forward(ecs, target, 80) is None
    assert fetch(where) == ""


def test_monitor_data_from_serves_sampler(fleet: dict[str, Any]) -> None:
    ecs, target = fleet["ecs"], fleet["ids"][0]
    stamp = "%Y-%m-%dT%H:%M:%SZ"

    def points() -> list[Any]:
        end = time.time() + 60
        return ecs.describe_instance_monitor_data(models.DescribeInstanceMonitorDataRequest(
            instance_id=target, period=60, start_time=time.strftime(stamp, time.gmtime(
                end - 600)), end_time=time.strftime(stamp, time.gmtime(end)))
        ).body.monitor_data.instance_monitor_data

    got = wait_for(points, timeout=30)  # serve samples every few seconds, no dashboard
    assert got[-1].instance_id == target and got[-1].cpu is not None
    assert got[-1].time_stamp.endswith("Z")
    system = ecs.describe_disks(models.DescribeDisksRequest(
        region_id="local", instance_id=target, disk_type="system")).body.disks.disk[0].disk_id
    end = time.time() + 60
    disk = ecs.describe_disk_monitor_data(models.DescribeDiskMonitorDataRequest(
        disk_id=system, period=60, start_time=time.strftime(stamp, time.gmtime(end - 600)),
        end_time=time.strftime(stamp, time.gmtime(end)))).body.monitor_data.disk_monitor_data
    assert disk and disk[-1].disk_id == system and disk[-1].iopstotal is not None


def test_stop_start_with_the_core_sdk(srv: Serve, fleet: dict[str, Any]) -> None:
    acs, target = core_client(srv), fleet["ids"][1]

    def status() -> str:
        request = DescribeInstancesRequest()
        request.set_InstanceIds(json.dumps([target]))
        return str(core_call(acs, srv, request)["Instances"]["Instance"][0]["Status"])

    stop = StopInstanceRequest()
    stop.set_InstanceId(target)
    stop.set_ForceStop(True)
    core_call(acs, srv, stop)
    wait_for(lambda: status() == "Stopped", timeout=60)
    start = StartInstanceRequest()
    start.set_InstanceId(target)
    core_call(acs, srv, start)
    wait_for(lambda: status() == "Running", timeout=60)


def test_disks_and_snapshots_with_signature_v1(srv: Serve, fleet: dict[str, Any]) -> None:
    ecs, target = tea_client(srv, "v2"), fleet["ids"][0]  # booted: it served HTTP
    disk = ecs.create_disk(models.CreateDiskRequest(region_id="local", zone_id="local",
                                                    disk_name="data1", size=1)).body.disk_id

    def disk_view() -> Any:
        return ecs.describe_disks(models.DescribeDisksRequest(
            region_id="local", disk_ids=json.dumps([disk]))).body.disks.disk[0]

    assert disk_view().status == "Available"
    snap = ecs.create_snapshot(models.CreateSnapshotRequest(disk_id=disk, snapshot_name="s1")
                               ).body.snapshot_id
    snaps = ecs.describe_snapshots(models.DescribeSnapshotsRequest(
        region_id="local", disk_id=disk)).body.snapshots.snapshot
    assert [(s.snapshot_id, s.status, s.source_disk_id) for s in snaps] == [
        (snap, "accomplished", disk)]
    ecs.reset_disk(models.ResetDiskRequest(disk_id=disk, snapshot_id=snap))
    ecs.resize_disk(models.ResizeDiskRequest(disk_id=disk, new_size=2))
    ecs.attach_disk(models.AttachDiskRequest(disk_id=disk, instance_id=target))
    view = disk_view()
    assert (view.status, view.instance_id, view.size, view.type) == ("In_use", target, 2,
                                                                     "data")
    with pytest.raises(ClientException) as err:  # attached: ECS refuses
        ecs.delete_disk(models.DeleteDiskRequest(disk_id=disk))
    assert err.value.code == "IncorrectDiskStatus"
    ecs.detach_disk(models.DetachDiskRequest(disk_id=disk, instance_id=target))
    wait_for(lambda: disk_view().status == "Available", timeout=60)
    ecs.delete_snapshot(models.DeleteSnapshotRequest(snapshot_id=snap))
    ecs.delete_disk(models.DeleteDiskRequest(disk_id=disk))
    assert not ecs.describe_disks(models.DescribeDisksRequest(
        region_id="local", disk_ids=json.dumps([disk]))).body.disks.disk


def test_refusals_are_the_sdks_own_exceptions(srv: Serve, fleet: dict[str, Any]) -> None:
    ecs, running = fleet["ecs"], fleet["ids"][0]
    with pytest.raises(ClientException) as err:
        ecs.stop_instance(models.StopInstanceRequest(instance_id="i-missing000"))
    assert (err.value.code, err.value.status_code) == ("InvalidInstanceId.NotFound", 404)
    with pytest.raises(ClientException) as err:
        ecs.start_instance(models.StartInstanceRequest(instance_id=running))
    assert (err.value.code, err.value.status_code) == ("IncorrectInstanceStatus", 403)
    with pytest.raises(ClientException) as err:  # a parameter lecs cannot honour
        ecs.run_instances(models.RunInstancesRequest(
            region_id="local", image_id=fleet["image"], instance_type="t1.nano",
            internet_max_bandwidth_out=5))
    assert err.value.code == "InvalidParameter"
    assert "InternetMaxBandwidthOut" in err.value.message
    with pytest.raises(ClientException) as err:  # checked, nothing made
        ecs.run_instances(models.RunInstancesRequest(
            region_id="local", image_id=fleet["image"], instance_type="t1.nano",
            instance_name="dry", dry_run=True))
    assert err.value.code == "DryRunOperation"
    stop = StopInstanceRequest()
    stop.set_InstanceId("i-missing000")
    with pytest.raises(ServerException) as core_err:
        core_call(core_client(srv), srv, stop)
    assert core_err.value.get_error_code() == "InvalidInstanceId.NotFound"
    hibernate = StopInstanceRequest()  # a parameter lecs cannot honour: refused, not ignored
    hibernate.set_InstanceId(running)
    hibernate.add_query_param("Hibernate", "true")
    with pytest.raises(ServerException) as core_err:
        core_call(core_client(srv), srv, hibernate)
    assert core_err.value.get_error_code() == "InvalidParameter"
    assert "Hibernate" in core_err.value.get_error_msg()
    assert len(statuses(ecs, fleet["ids"])) == 2  # the dry run made nothing


def test_a_repeated_client_token_makes_one_instance(fleet: dict[str, Any]) -> None:
    ecs = fleet["ecs"]
    request = models.CreateInstanceRequest(region_id="local", image_id=fleet["image"],
                                           instance_type="t1.nano", instance_name="once",
                                           client_token="token-once-1")
    first = ecs.create_instance(request).body.instance_id
    assert ecs.create_instance(request).body.instance_id == first  # a retry: the same answer
    assert statuses(ecs, [first]) == {first: "Stopped"}
    named = ecs.describe_instances(models.DescribeInstancesRequest(
        region_id="local", instance_name="once")).body
    assert named.total_count == 1
    ecs.delete_instance(models.DeleteInstanceRequest(instance_id=first))


def test_delete_force_leaves_no_qemu(srv: Serve, fleet: dict[str, Any]) -> None:
    ecs, ids = fleet["ecs"], fleet["ids"]
    stopped = ecs.stop_instances(models.StopInstancesRequest(  # ACPI: the guest powers off
        region_id="local", instance_id=[ids[1]])).body.instance_responses.instance_response
    assert [(r.instance_id, r.code, r.previous_status) for r in stopped] == [
        (ids[1], "200", "Running")]
    wait_for(lambda: statuses(ecs, [ids[1]]) == {ids[1]: "Stopped"}, timeout=60)
    ecs.delete_instances(models.DeleteInstancesRequest(region_id="local",
                                                       instance_id=[ids[1]]))  # Stopped
    with pytest.raises(ClientException) as err:  # running: ECS wants Force
        ecs.delete_instance(models.DeleteInstanceRequest(instance_id=ids[0]))
    assert err.value.code == "IncorrectInstanceStatus"
    ecs.delete_instance(models.DeleteInstanceRequest(instance_id=ids[0], force=True))
    wait_for(lambda: not statuses(ecs, ids), timeout=60)
    marker = str(Paths.from_env(str(srv.home)).runtime)
    qemu = [p for p in psutil.process_iter(["cmdline"])
            if "qemu" in " ".join(p.info["cmdline"] or [])
            and any(marker in arg for arg in p.info["cmdline"] or [])]
    assert qemu == []
