"""Instances: Describe*, Start/Stop/Reboot/Delete (one and many), ModifyInstanceAttribute.

Power operations answer as ECS does: at once when the operation ends within a few seconds,
else with the instance in its transitional status (Stopping, Starting) while it goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from backend.api import shapes
from backend.api.errors import ApiError, invalid_parameter, missing_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine, settle
from backend.compute import states

if TYPE_CHECKING:
    from backend.cloud import Cloud
    from backend.compute.records import Instance

PAGING = ("PageNumber", "PageSize", "NextToken", "MaxResults")


def group_ids(cloud: Cloud) -> dict[str, str]:
    """Security group name → id (instances name their groups)."""
    return {g.name: g.id for g in cloud.sgs.list()}


def find(cloud: Cloud, ref: str, reconcile: bool = True) -> Instance:
    """The instance whose id is `ref` (ECS names instances by id only)."""
    with engine("instance"):
        inst = cloud.instances.get(ref, reconcile=reconcile)
    if inst.id != ref:
        raise not_found(ref)
    return inst


def not_found(ref: str) -> ApiError:
    return ApiError("InvalidInstanceId.NotFound",
                    f"The specified InstanceId {ref!r} does not exist.", 404)


def check_state(inst: Instance, operation: str) -> None:
    with engine("instance"):
        states.check(operation, inst.state, inst.name)


def _matches(inst: Instance, wanted: dict[str, Any], group_map: dict[str, str]) -> bool:
    if wanted["ids"] is not None and inst.id not in wanted["ids"]:
        return False
    if wanted["name"] and not fnmatchcase(inst.name, wanted["name"]):
        return False
    if wanted["status"] and shapes.INSTANCE_STATUS.get(inst.state.value) != wanted["status"]:
        return False
    for field, value in (("image_id", wanted["image"]), ("type", wanted["type"]),
                         ("key_pair", wanted["keypair"])):
        if value and getattr(inst, field) != value:
            return False
    if wanted["group"] and wanted["group"] not in {group_map.get(g, g)
                                                   for g in inst.security_groups}:
        return False
    return shapes.tagged(inst.tags, wanted["tags"])


@action("DescribeInstances", params=("RegionId", "InstanceIds", "InstanceName", "Status",
                                     "ZoneId", "Tag.*.Key", "Tag.*.Value", "ImageId",
                                     "InstanceType", "SecurityGroupId", "KeyPairName",
                                     "DryRun", *PAGING))
async def describe_instances(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    p.zone()
    wanted = {
        "ids": p.json_list("InstanceIds"), "name": p.text("InstanceName"),
        "status": p.choice("Status", shapes.ECS_INSTANCE_STATUSES),
        "image": p.text("ImageId"), "type": p.text("InstanceType"),
        "keypair": p.text("KeyPairName"), "group": p.text("SecurityGroupId"),
        "tags": p.tag_filter(),
    }
    items, paging, groups = listing(call.cloud, p, wanted)
    p.done(dry_run=True)
    return {**paging, "Instances": {"Instance": [shapes.instance(i, groups) for i in items]}}


def listing(cloud: Cloud, p: Params, wanted: dict[str, Any]
            ) -> tuple[list[Instance], dict[str, Any], dict[str, str]]:
    """The page of instances a DescribeInstances asks for, each checked against its QEMU.
    Without filters on the instances' fields only the page's rows are read and reconciled
    (a listing of 1,000 in pages of 100 reads each row once, not ten times); a Status filter
    reconciles every row first."""
    groups = group_ids(cloud)
    if not any(wanted[k] for k in ("name", "status", "image", "type", "keypair", "group",
                                   "tags")):
        order = cloud.instances.newest_first()
        if wanted["ids"] is not None:
            keep = set(wanted["ids"])
            order = [i for i in order if i in keep]
        page, paging = shapes.page(p, order, most=100)
        return cloud.instances.list(ids=list(page)), paging, groups
    by_status = bool(wanted["status"])
    listed = sorted(cloud.instances.list(reconcile=by_status),
                    key=lambda i: (-i.created_at, i.id))
    chosen = [i for i in listed if _matches(i, wanted, groups)]
    found, paging = shapes.page(p, chosen, most=100)
    items = list(found)
    if not by_status and items:
        changed = set(cloud.instances.reconcile([i.id for i in items]))
        items = [cloud.instances.get(i.id, reconcile=False) if i.id in changed else i
                 for i in items]
    return items, paging, groups


@action("DescribeInstanceStatus", params=("RegionId", "ZoneId", "InstanceId.*", "PageNumber",
                                          "PageSize"))
async def describe_instance_status(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    p.zone()
    ids = set(p.repeat("InstanceId"))
    chosen = [i for i in call.cloud.instances.newest_first() if not ids or i in ids]
    number = p.integer("PageNumber", 1, low=1) or 1
    size = p.integer("PageSize", 10, low=1, high=50) or 10
    p.done()
    items = call.cloud.instances.list(ids=chosen[(number - 1) * size:number * size])
    return {"TotalCount": len(chosen), "PageNumber": number, "PageSize": size,
            "InstanceStatuses": {"InstanceStatus": [
                {"InstanceId": i.id, "Status": shapes.INSTANCE_STATUS[i.state.value]}
                for i in items]}}


@action("DescribeInstanceAttribute", params=("RegionId", "InstanceId",))
async def describe_instance_attribute(call: Call) -> dict[str, Any]:
    p = Params(call)
    inst = find(call.cloud, p.need("InstanceId"))
    p.done()
    return shapes.instance(inst, group_ids(call.cloud))


# ---- power -------------------------------------------------------------------------
Operation = Callable[[str], Awaitable[Any]]


def _operation(cloud: Cloud, verb: str, force: bool) -> tuple[str, Operation]:
    """The state-machine operation and the facade call of an ECS power action."""
    ins = cloud.instances
    if verb == "stop":
        return ("force-stop", ins.force_stop) if force else ("stop", ins.stop)
    if verb == "reboot":
        if force:  # a forced reboot: off at once, then on again
            async def hard_reboot(ref: str) -> Any:
                await ins.force_stop(ref)
                return await ins.start(ref)

            return "reboot", hard_reboot
        return "reboot", ins.reboot
    if verb == "delete":
        return "delete", ins.delete
    return "start", ins.start


async def _power_one(call: Call, verb: str, force_name: str = "ForceStop") -> dict[str, Any]:
    p = Params(call)
    inst = find(call.cloud, p.need("InstanceId"))
    force = p.flag(force_name)
    if verb == "stop":
        p.choice("StoppedMode", ("KeepCharging",))
        p.flag("ConfirmStop")
    if verb == "delete":
        p.only("TerminateSubscription", "false")
        if not force and inst.state.value not in ("stopped", "error"):
            p.done()
            raise ApiError("IncorrectInstanceStatus", f"The current status of the resource"
                           f" does not support this operation: instance {inst.name!r} is"
                           f" {shapes.INSTANCE_STATUS[inst.state.value]} (delete needs"
                           " Stopped, or Force=true).", 403)
    operation, run = _operation(call.cloud, verb, force)
    check_state(inst, operation)
    p.done(dry_run=True)
    await settle(run(inst.id))
    return {}


@action("StartInstance", params=("RegionId", "InstanceId", "DryRun", "InitLocalDisk"))
async def start_instance(call: Call) -> dict[str, Any]:
    Params(call).only("InitLocalDisk", "false")
    return await _power_one(call, "start")


@action("StopInstance", params=("RegionId", "InstanceId", "ForceStop", "StoppedMode", "ConfirmStop",
                                "DryRun"))
async def stop_instance(call: Call) -> dict[str, Any]:
    return await _power_one(call, "stop")


@action("RebootInstance", params=("RegionId", "InstanceId", "ForceStop", "DryRun"))
async def reboot_instance(call: Call) -> dict[str, Any]:
    return await _power_one(call, "reboot")


@action("DeleteInstance", params=("RegionId", "InstanceId", "Force",
                                  "TerminateSubscription", "DryRun"))
async def delete_instance(call: Call) -> dict[str, Any]:
    return await _power_one(call, "delete", force_name="Force")


async def _power_many(call: Call, verb: str, force_name: str = "ForceStop"
                      ) -> list[dict[str, Any]]:
    """The batch actions: every instance checked first; then each one's outcome."""
    p = Params(call)
    p.region()
    ids = p.repeat("InstanceId")
    if not ids:
        raise missing_parameter("InstanceId.1")
    force = p.flag(force_name)
    if verb == "stop":
        p.choice("StoppedMode", ("KeepCharging",))
    p.choice("BatchOptimization", ("AllTogether",))
    insts = [find(call.cloud, ref) for ref in ids]
    operation, run = _operation(call.cloud, verb, force)
    for inst in insts:
        if verb == "delete" and not force and inst.state.value not in ("stopped", "error"):
            raise ApiError("IncorrectInstanceStatus", f"instance {inst.name!r} is"
                           f" {shapes.INSTANCE_STATUS[inst.state.value]} (delete needs"
                           " Stopped, or Force=true)", 403)
        check_state(inst, operation)
    p.done(dry_run=True)
    answers = []
    for inst in insts:  # each one's outcome in its own answer, as ECS's batch actions
        before = shapes.INSTANCE_STATUS[inst.state.value]
        outcome = {"Code": "200", "Message": "success"}
        try:
            await settle(run(inst.id), within=0.5)
        except ApiError as exc:
            outcome = {"Code": exc.code, "Message": exc.message}
        now = {i.id: i for i in call.cloud.instances.list(reconcile=False)}
        current = shapes.INSTANCE_STATUS[now[inst.id].state.value] if inst.id in now \
            else "Deleted"
        answers.append({"InstanceId": inst.id, **outcome, "PreviousStatus": before,
                        "CurrentStatus": current})
    return answers


@action("StartInstances", params=("RegionId", "InstanceId.*", "BatchOptimization", "DryRun"))
async def start_instances(call: Call) -> dict[str, Any]:
    return {"InstanceResponses": {"InstanceResponse": await _power_many(call, "start")}}


@action("StopInstances", params=("RegionId", "InstanceId.*", "ForceStop", "StoppedMode",
                                 "BatchOptimization", "DryRun"))
async def stop_instances(call: Call) -> dict[str, Any]:
    return {"InstanceResponses": {"InstanceResponse": await _power_many(call, "stop")}}


@action("RebootInstances", params=("RegionId", "InstanceId.*", "ForceReboot",
                                   "BatchOptimization", "DryRun"))
async def reboot_instances(call: Call) -> dict[str, Any]:
    answers = await _power_many(call, "reboot", force_name="ForceReboot")
    return {"InstanceResponses": {"InstanceResponse": answers}}


@action("DeleteInstances", params=("RegionId", "InstanceId.*", "Force",
                                   "TerminateSubscription", "DryRun"))
async def delete_instances(call: Call) -> dict[str, Any]:
    Params(call).only("TerminateSubscription", "false")
    await _power_many(call, "delete", force_name="Force")
    return {}


@action("ModifyInstanceAttribute", params=("RegionId", "InstanceId", "InstanceName", "HostName",
                                           "Description", "SecurityGroupIds.*"))
async def modify_instance_attribute(call: Call) -> dict[str, Any]:
    """lecs renames an instance and changes its security groups; its hostname is fixed."""
    p = Params(call)
    inst = find(call.cloud, p.need("InstanceId"))
    for name, current in (("HostName", inst.hostname or inst.name), ("Description", "")):
        value = p.text(name)
        if value is not None and value != current:
            raise invalid_parameter(name, "cannot be changed by lecs (it is fixed at creation)")
    new_name = p.text("InstanceName", max_len=128)
    wanted = p.repeat("SecurityGroupIds", limit=5)
    groups = group_ids(call.cloud)
    for gid in wanted:
        if gid not in groups.values():
            raise ApiError("InvalidSecurityGroupId.NotFound",
                           f"The specified SecurityGroupId {gid!r} does not exist.", 404)
    p.done()
    with engine("instance"):
        if new_name is not None and new_name != inst.name:
            await call.cloud.instance_ops.rename(inst.id, new_name)
        if not wanted:
            return {}
        have = [groups.get(g, g) for g in inst.security_groups]
        for gid in wanted:
            if gid not in have:
                await call.cloud.sgs.attach(inst.id, gid)
        for gid in have:
            if gid not in wanted:
                await call.cloud.sgs.detach(inst.id, gid)
    return {}
