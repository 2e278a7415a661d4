"""Typed reads of an ECS RPC request's parameters, each read marked in `Call.consumed`.

ECS encodes values as strings: integers, booleans `true`/`false`, JSON arrays
(`InstanceIds='["i-1","i-2"]'`), repeat lists (`SecurityGroupIds.1`, `InstanceId.2`) and
lists of structures (`Tag.1.Key`, `DataDisk.2.Size`). A value that cannot be read is refused
with InvalidParameter naming the parameter; a mandatory one that is absent with
MissingParameter. `done()` refuses any parameter no read asked for: a handler calls it after
its reads and before any effect, so nothing is ever silently ignored.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from backend.api.errors import ApiError, invalid_parameter, missing_parameter

if TYPE_CHECKING:
    from backend.api.registry import Call

REGION = "local"
ZONE = "local"
MAX_LIST = 100  # ECS's cap on ids in one request (InstanceIds, DiskIds, …)


class Params:
    """The parameters of one Call, read by type."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.raw = call.params
        call.consumed.add("ClientToken")  # the server answers a repeated one (generic)
        self.region()  # every action takes RegionId (the older SDK sends it always)

    def _take(self, name: str) -> str | None:
        self.call.consumed.add(name)
        return self.raw.get(name)

    def has(self, name: str) -> bool:
        return name in self.raw

    def text(self, name: str, default: str | None = None, *, required: bool = False,
            max_len: int = 4096) -> str | None:
        value = self._take(name)
        if value is None or (value == "" and required):
            if required:
                raise missing_parameter(name)
            return default
        if len(value) > max_len:
            raise invalid_parameter(name, f"is longer than {max_len} characters")
        return value

    def need(self, name: str, max_len: int = 4096) -> str:
        value = self.text(name, required=True, max_len=max_len)
        assert value is not None
        return value

    def integer(self, name: str, default: int | None = None, *, low: int | None = None,
            high: int | None = None, required: bool = False) -> int | None:
        text = self.text(name, required=required)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise invalid_parameter(name, f"must be a whole number, not {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"{low if low is not None else '…'}-{high if high is not None else '…'}"
            raise invalid_parameter(name, f"must be in {span}, not {value}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        text = self.text(name)
        if text is None:
            return default
        if text.lower() not in ("true", "false"):
            raise invalid_parameter(name, f"must be true or false, not {text!r}")
        return text.lower() == "true"

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None,
               *, fold: bool = False) -> str | None:
        """One of `choices` (compared case-insensitively with `fold`); refused otherwise."""
        text = self.text(name)
        if text is None:
            return default
        for option in choices:
            if text == option or (fold and text.lower() == option.lower()):
                return option
        raise invalid_parameter(name, f"must be one of {', '.join(choices)} here, not {text!r}")

    def only(self, name: str, value: str) -> None:
        """A parameter lecs honours with one value only (e.g. a category it has one of)."""
        text = self.text(name)
        if text is not None and text != value:
            raise invalid_parameter(name, f"can only be {value!r} in lecs, not {text!r}")

    def json_list(self, name: str, limit: int = MAX_LIST) -> list[str] | None:
        """A JSON array of strings (`InstanceIds='["i-1"]'`); None when absent."""
        text = self.text(name)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise invalid_parameter(name, 'must be a JSON array such as ["id1","id2"]') from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid_parameter(name, "must be a JSON array of strings")
        if len(value) > limit:
            raise invalid_parameter(name, f"names more than {limit} items")
        return value

    def repeat(self, prefix: str, limit: int = MAX_LIST) -> list[str]:
        """`Prefix.1`, `Prefix.2`, … in index order (ECS's repeat lists)."""
        found: dict[int, str] = {}
        pattern = re.compile(re.escape(prefix) + r"\.(\d+)")
        for key in self.raw:
            match = pattern.fullmatch(key)
            if match:
                index = int(match.group(1))
                if not 1 <= index <= limit:
                    raise invalid_parameter(key, f"has an index outside 1-{limit}")
                found[index] = self.text(key) or ""
        return [found[i] for i in sorted(found)]

    def structs(self, prefix: str, fields: tuple[str, ...], limit: int = MAX_LIST
                ) -> list[dict[str, str]]:
        """`Prefix.N.Field` → one dict per N (index order). Fields not named are left unread,
        so `done()` refuses them."""
        found: dict[int, dict[str, str]] = {}
        pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(" + "|".join(fields) + ")")
        for key in list(self.raw):
            match = pattern.fullmatch(key)
            if match:
                index = int(match.group(1))
                if not 1 <= index <= limit:
                    raise invalid_parameter(key, f"has an index outside 1-{limit}")
                found.setdefault(index, {})[match.group(2)] = self.text(key) or ""
        return [found[i] for i in sorted(found)]

    def tags(self, prefix: str = "Tag", limit: int = 20) -> dict[str, str]:
        """`Tag.N.Key` / `Tag.N.Value` → {key: value}; a Value without its Key is refused."""
        tags: dict[str, str] = {}
        for n, item in enumerate(self.structs(prefix, ("Key", "Value"), limit), 1):
            key = item.get("Key", "")
            if not key:
                raise invalid_parameter(f"{prefix}.{n}.Key", "is missing or empty")
            tags[key] = item.get("Value", "")
        return tags

    def tag_filter(self, prefix: str = "Tag", limit: int = 20) -> dict[str, str | None]:
        """`Tag.N.Key` [/ `Tag.N.Value`] as a filter: a Key without a Value matches any value."""
        wanted: dict[str, str | None] = {}
        for n, item in enumerate(self.structs(prefix, ("Key", "Value"), limit), 1):
            if not item.get("Key"):
                raise invalid_parameter(f"{prefix}.{n}.Key", "is missing or empty")
            wanted[item["Key"]] = item.get("Value")
        return wanted

    def region(self) -> None:
        """RegionId, when given, must be lecs's one region."""
        region = self.text("RegionId")
        if region and region != REGION:
            raise ApiError("InvalidRegionId.NotFound", f"The specified RegionId {region!r}"
                           f" does not exist (lecs has one region, {REGION!r}).", 404)

    def zone(self, name: str = "ZoneId") -> None:
        self.only(name, ZONE)

    def done(self, dry_run: bool = False) -> None:
        """Refuse every parameter no read asked for; call it before any effect. With
        `dry_run`, the action takes DryRun: when true, the request passed every check and is
        answered as ECS does (DryRunOperation), changing nothing."""
        dry = self.flag("DryRun") if dry_run else False
        left = sorted(set(self.raw) - self.call.consumed)
        if left:
            raise invalid_parameter(left[0], "is not supported by lecs for this action")
        if dry:
            raise ApiError("DryRunOperation",
                           "Request validation has been passed with DryRun flag set.", 400)
