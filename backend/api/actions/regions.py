"""DescribeRegions and DescribeZones: lecs is one region, `local`, with one zone, `local`."""

from __future__ import annotations

from typing import Any

from backend.api.errors import ApiError, invalid_parameter, missing_parameter
from backend.api.registry import Call, action

REGION = "local"
ZONE = "local"
NAMES = {"zh-CN": "本机", "en-US": "Local", "ja": "ローカル"}
RESOURCE_TYPES = ("instance", "disk", "reservedinstance", "scu")


def _read(call: Call, name: str, default: str = "") -> str:
    call.consumed.add(name)
    return call.params.get(name, default)


def _language(call: Call) -> str:
    lang = _read(call, "AcceptLanguage", "zh-CN")
    if lang not in NAMES:
        raise invalid_parameter("AcceptLanguage", f"must be one of {', '.join(NAMES)}")
    return NAMES[lang]


def _post_paid(call: Call) -> None:
    charge = _read(call, "InstanceChargeType", "PostPaid")
    if charge != "PostPaid":
        raise invalid_parameter("InstanceChargeType", "cannot be honoured: lecs instances are"
                                " PostPaid only")


def check_region(call: Call) -> None:
    """RegionId, where an action takes it: `local` is the only one."""
    region = _read(call, "RegionId")
    if region and region != REGION:
        raise ApiError("InvalidRegionId.NotFound", f"The specified RegionId {region!r} does"
                       f" not exist (lecs has one region, {REGION!r}).", 404)


@action("DescribeRegions", params=("AcceptLanguage", "InstanceChargeType", "ResourceType",
                                   "RegionId"))
async def describe_regions(call: Call) -> dict[str, Any]:
    name = _language(call)
    _post_paid(call)
    check_region(call)
    kind = _read(call, "ResourceType", "instance")
    if kind not in RESOURCE_TYPES:
        raise invalid_parameter("ResourceType", f"must be one of {', '.join(RESOURCE_TYPES)}")
    return {"Regions": {"Region": [{"RegionId": REGION, "RegionEndpoint": "127.0.0.1",
                                    "LocalName": name, "Status": "available"}]}}


@action("DescribeZones", params=("RegionId", "AcceptLanguage", "InstanceChargeType",
                                 "SpotStrategy", "Verbose"))
async def describe_zones(call: Call) -> dict[str, Any]:
    if not call.params.get("RegionId"):
        raise missing_parameter("RegionId")
    check_region(call)
    name = _language(call)
    _post_paid(call)
    if _read(call, "SpotStrategy", "NoSpot") != "NoSpot":
        raise invalid_parameter("SpotStrategy", "cannot be honoured: lecs has no spot instances")
    verbose = _read(call, "Verbose", "true").lower()
    if verbose not in ("true", "false"):
        raise invalid_parameter("Verbose", "must be true or false")
    zone: dict[str, Any] = {"ZoneId": ZONE, "LocalName": name, "ZoneType": "AvailabilityZone"}
    if verbose == "true":
        types = [t.name for t in call.cloud.types.list()]
        zone |= {
            "AvailableResourceCreation": {"ResourceTypes": ["Instance", "Disk"]},
            "AvailableDiskCategories": {"DiskCategories": ["cloud_essd"]},
            "AvailableVolumeCategories": {"VolumeCategories": []},
            "AvailableInstanceTypes": {"InstanceTypes": types},
            "AvailableDedicatedHostTypes": {"DedicatedHostType": []},
            "DedicatedHostGenerations": {"DedicatedHostGeneration": []},
            "AvailableResources": {"ResourcesInfo": [{
                "IoOptimized": True,
                "InstanceTypes": {"supportedInstanceType": types},
                "InstanceTypeFamilies": {"supportedInstanceTypeFamily": []},
                "InstanceGenerations": {"supportedInstanceGeneration": []},
                "SystemDiskCategories": {"supportedSystemDiskCategory": ["cloud_essd"]},
                "DataDiskCategories": {"supportedDataDiskCategory": ["cloud_essd"]},
                "NetworkTypes": {"supportedNetworkCategory": ["vpc"]},
            }]},
        }
    return {"Zones": {"Zone": [zone]}}
