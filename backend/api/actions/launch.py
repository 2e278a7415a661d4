"""RunInstances and CreateInstance: every parameter checked, against the inventory too, before
the first instance is made; then each one created (and, for RunInstances, started)."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backend.api import shapes
from backend.api.errors import ApiError, invalid_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine, settle
from backend.inventory import validate
from backend.inventory.errors import ValidationError

if TYPE_CHECKING:
    from backend.cloud import Cloud

RANGE = re.compile(r"\[(\d+),(\d+)\]")
MAX_AMOUNT = 100
MAX_USER_DATA = 32 * 1024  # ECS: 32 KiB before base64
COMMON = ("RegionId", "ZoneId", "ImageId", "InstanceType", "SecurityGroupId",
          "InstanceName", "HostName", "KeyPairName", "UserData", "Tag.*.Key", "Tag.*.Value",
          "SystemDisk.Size", "SystemDisk.Category", "DataDisk.*.Size", "DataDisk.*.Category",
          "DataDisk.*.DeleteWithInstance", "InstanceChargeType", "ClientToken", "DryRun",
          "Description")


def expand(template: str, count: int, what: str) -> list[str]:
    """ECS's name ranges: `web[1,3]` → web001, web002, …; without one, `count` must be 1."""
    found = RANGE.findall(template)
    if len(found) > 1:
        raise invalid_parameter(what, "may hold one [begin,width] range only")
    if not found:
        if count > 1:
            raise invalid_parameter(what, "must hold a [begin,width] range (e.g. web-[1,3])"
                                    " or UniqueSuffix=true when Amount > 1: lecs names are"
                                    " unique")
        return [template]
    begin, width = int(found[0][0]), int(found[0][1])
    if not 1 <= width <= 8:
        raise invalid_parameter(what, "has a range width outside 1-8")
    return [RANGE.sub(str(begin + n).zfill(width), template) for n in range(count)]


@dataclass(slots=True)
class Launch:
    """One checked request: what every instance of it is made with."""

    names: list[str]
    hostnames: list[str | None]
    image: str
    itype: str
    groups: list[str]
    keypair: str | None
    user_data: bytes | None
    tags: dict[str, str]
    system_gib: int | None
    data_disks: list[tuple[int, bool]] = field(default_factory=list)  # (GiB, with instance)


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    for n, (key, value) in enumerate(tags.items(), 1):
        if key.startswith(shapes.RESERVED_TAG_PREFIXES) or len(key) > 128:
            raise invalid_parameter(f"Tag.{n}.Key", "is reserved (lecs:, acs:, aliyun) or"
                                    " longer than 128 characters")
        if len(value) > 128:
            raise invalid_parameter(f"Tag.{n}.Value", "is longer than 128 characters")
    return tags


def _user_data(p: Params) -> bytes | None:
    text = p.text("UserData", max_len=MAX_USER_DATA * 2)
    if text is None:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("InvalidUserData.Base64FormatInvalid",
                       "The specified UserData is not valid base64.") from None
    if len(data) > MAX_USER_DATA:
        raise ApiError("InvalidUserData.SizeExceeded",
                       f"The specified UserData is larger than {MAX_USER_DATA} bytes.")
    return data


def _disks(p: Params) -> list[tuple[int, bool]]:
    disks = []
    for n, item in enumerate(p.structs("DataDisk", ("Size", "Category", "DeleteWithInstance"),
                                       limit=16), 1):
        if item.get("Category", shapes.DISK_CATEGORY) != shapes.DISK_CATEGORY:
            raise invalid_parameter(f"DataDisk.{n}.Category",
                                    f"can only be {shapes.DISK_CATEGORY!r} in lecs")
        size = item.get("Size")
        if not size or not size.isdigit() or not 1 <= int(size) <= 16384:
            raise invalid_parameter(f"DataDisk.{n}.Size", "must be 1-16384 (GiB)")
        with_instance = item.get("DeleteWithInstance", "true").lower()
        if with_instance not in ("true", "false"):
            raise invalid_parameter(f"DataDisk.{n}.DeleteWithInstance", "must be true or false")
        disks.append((int(size), with_instance == "true"))
    return disks


def read_launch(p: Params, cloud: Cloud, amount: int, unique: bool) -> Launch:
    """Every parameter read and checked against the inventory: no effect yet."""
    p.region()
    p.zone()
    p.only("InstanceChargeType", "PostPaid")
    p.only("SystemDisk.Category", shapes.DISK_CATEGORY)
    p.only("Description", "")
    image, itype = p.need("ImageId"), p.need("InstanceType")
    groups = p.repeat("SecurityGroupIds", limit=5)
    single = p.text("SecurityGroupId")
    if single and groups:
        raise invalid_parameter("SecurityGroupId", "cannot be given with SecurityGroupIds.N")
    groups = [single] if single else groups
    template = p.text("InstanceName", max_len=128)
    if template is None:
        template = f"ecs-{secrets.token_hex(3)}" + ("-[1,3]" if amount > 1 else "")
    elif unique and amount > 1 and not RANGE.search(template):
        template += "[1,3]"
    names = expand(template, amount, "InstanceName")
    host = p.text("HostName", max_len=64)
    hostnames: list[str | None] = [None] * amount
    if host is not None:
        if unique and amount > 1 and not RANGE.search(host):
            host += "[1,3]"
        hostnames = list(expand(host, amount, "HostName"))
    launch = Launch(names, hostnames, image, itype, groups, p.text("KeyPairName"),
                    _user_data(p), check_tags(p.tags()),
                    p.integer("SystemDisk.Size", low=1, high=16384), _disks(p))
    _check_inventory(cloud, launch)
    return launch


def _check_inventory(cloud: Cloud, launch: Launch) -> None:
    taken = {i.name for i in cloud.instances.list(reconcile=False)}
    for name, host in zip(launch.names, launch.hostnames, strict=True):
        for param, value in (("InstanceName", name), ("HostName", host)):
            try:
                if value is not None:
                    validate.name(value, param)
            except ValidationError as exc:
                raise invalid_parameter(param, f"is not a name lecs takes ({exc})") from None
        if name in taken:
            raise ApiError("InvalidInstanceName.Duplicate",
                           f"An instance named {name!r} exists already.", 400)
    disks = {d.name for d in cloud.disks.list()}
    for name in launch.names:
        for wanted in [f"{name}-system"] + [f"{name}-data{d}"
                                             for d in range(1, len(launch.data_disks) + 1)]:
            if wanted in disks:
                raise ApiError("InvalidInstanceName.Duplicate", f"A disk named {wanted!r}"
                               f" exists already (instance {name!r} would make one).", 400)
    with engine("image"):
        img = cloud.images.get(launch.image)
    if img.id != launch.image or img.state.value != "available":
        raise ApiError("InvalidImageId.NotFound",
                       f"The specified ImageId {launch.image!r} does not exist or is not"
                       " available.", 404)
    with engine("instance type"):
        cloud.types.get(launch.itype)
    known = {g.id for g in cloud.sgs.list()}
    for gid in launch.groups:
        if gid not in known:
            raise ApiError("InvalidSecurityGroupId.NotFound",
                           f"The specified SecurityGroupId {gid!r} does not exist.", 404)
    if launch.keypair:
        with engine("key pair"):
            cloud.keypairs.get(launch.keypair)


async def _make(cloud: Cloud, launch: Launch, n: int) -> str:
    """One instance, stopped, with its data disks attached; its id."""
    with engine("instance"):
        inst = await cloud.instances.create(
            launch.names[n], launch.image, launch.itype, tags=launch.tags,
            disk_gib=launch.system_gib, start=False, sgs=launch.groups or None,
            keypair=launch.keypair, user_data=launch.user_data, hostname=launch.hostnames[n])
    made: list[str] = []  # the data disks of this launch: none outlives a rollback
    try:
        with engine("disk"):
            for d, (size, with_instance) in enumerate(launch.data_disks, 1):
                disk = await cloud.disks.create(f"{inst.name}-data{d}", size,
                                                delete_with_instance=with_instance)
                made.append(disk.id)
                await cloud.disks.attach(disk.id, inst.id, with_instance)
    except BaseException:
        with suppress(ApiError), engine("instance"):
            await cloud.instances.delete(inst.id)
        for disk_id in made:  # kept ones (DeleteWithInstance=false) or never attached
            with suppress(ApiError), engine("disk"):
                await cloud.disks.delete(disk_id)
        raise
    return inst.id


async def launch_all(cloud: Cloud, launch: Launch, start: bool) -> list[str]:
    """Create every instance (undoing those made if one fails), then start them."""
    made: list[str] = []
    try:
        for n in range(len(launch.names)):
            made.append(await _make(cloud, launch, n))
    except BaseException:
        for instance_id in made:
            with suppress(ApiError), engine("instance"):
                await cloud.instances.delete(instance_id)
        raise
    try:
        for instance_id in made if start else []:
            await settle(cloud.instances.start(instance_id), within=0.5)
    except ApiError:  # one could not start at all (e.g. no QEMU): none of them stays
        for instance_id in made:
            with suppress(ApiError), engine("instance"):
                await cloud.instances.delete(instance_id)
        raise
    return made


@action("RunInstances", params=("RegionId", *COMMON, "SecurityGroupIds.*", "Amount", "MinAmount",
                                "UniqueSuffix"))
async def run_instances(call: Call) -> dict[str, Any]:
    p = Params(call)
    amount = p.integer("Amount", 1, low=1, high=MAX_AMOUNT) or 1
    least = p.integer("MinAmount", low=1, high=MAX_AMOUNT)
    if least is not None and least > amount:
        raise invalid_parameter("MinAmount", "is above Amount")
    launch = read_launch(p, call.cloud, amount, p.flag("UniqueSuffix"))
    p.done(dry_run=True)
    ids = await launch_all(call.cloud, launch, start=True)
    return {"InstanceIdSets": {"InstanceIdSet": ids}, "TradePrice": 0.0}


@action("CreateInstance", params=COMMON)
async def create_instance(call: Call) -> dict[str, Any]:
    """ECS's CreateInstance: one instance, Stopped (StartInstance starts it)."""
    p = Params(call)
    launch = read_launch(p, call.cloud, 1, False)
    p.done(dry_run=True)
    ids = await launch_all(call.cloud, launch, start=False)
    return {"InstanceId": ids[0]}
