"""Security groups: create/delete/list, rules, attach/detach; every change enforced live."""

from __future__ import annotations

import builtins
import time
from typing import Any

from backend.inventory import validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, NotFoundError, ValidationError
from backend.inventory.ids import new_id
from backend.inventory.journal import Journal, journaled, journaled_sync
from backend.inventory.store import Store
from backend.network import rules as rulemod
from backend.network.enforce import Enforcer, rule_from_row
from backend.network.records import Rule, SecurityGroup
from backend.network.rules import RuleInput

DEFAULT = "default"
DEFAULT_INGRESS = (("22", "ssh"), ("80", "http"))


class SecurityGroups:
    def __init__(self, store: Store, audit: Audit, enforcer: Enforcer, journal: Journal) -> None:
        self.journal = journal
        self.store = store
        self.audit = audit
        self.enforcer = enforcer

    # ---- reading -------------------------------------------------------------------
    def _row(self, ref: str) -> dict[str, Any]:
        if ref == DEFAULT:
            self.ensure_default()
        row = self.store.row("SELECT * FROM security_groups WHERE id = ? OR name = ?",
                             [ref, ref])
        if row is None:
            raise NotFoundError(f"security group {ref!r} not found")
        return row

    def _build(self, row: dict[str, Any]) -> SecurityGroup:
        rules = rulemod.ordered(rule_from_row(r) for r in self.store.rows(
            "SELECT * FROM sg_rules WHERE group_id = ?", [row["id"]]))
        return SecurityGroup(
            id=row["id"], name=row["name"], description=row["description"] or "",
            created_at=row["created_at"], rules=rules,
            instances=self.enforcer.instances_in(row["id"]),
        )

    def list(self) -> builtins.list[SecurityGroup]:
        self.ensure_default()
        return [self._build(r) for r in self.store.rows(
            "SELECT * FROM security_groups ORDER BY name")]

    def get(self, ref: str) -> SecurityGroup:
        return self._build(self._row(ref))

    def resolve(self, refs: builtins.list[str]) -> builtins.list[str]:
        """Group ids for names or ids, in order, without duplicates; NotFoundError if unknown."""
        ids: builtins.list[str] = []
        for ref in refs:
            gid = self._row(ref)["id"]
            if gid not in ids:
                ids.append(gid)
        return ids

    # ---- groups --------------------------------------------------------------------
    def _insert_group(self, name: str, description: str, ingress: bool) -> str:
        group_id = new_id("sg")
        now = time.time()
        rows = [rulemod.build(RuleInput("egress", "all", "", rulemod.ANY, "allow", 100,
                                        "all egress"), new_id("r"), group_id)]
        if ingress:
            rows += [rulemod.build(RuleInput("ingress", "tcp", port, rulemod.LOOPBACK, "allow",
                                             100, f"{what} from this host"),
                                   new_id("r"), group_id)
                     for port, what in DEFAULT_INGRESS]
        with self.store.transaction() as db:
            db.table("security_groups").insert({"id": group_id, "name": name,
                                                "description": description,
                                                "created_at": now})
            db.table("sg_rules").insert_all([_rule_row(r, now) for r in rows])
        return group_id

    def ensure_default(self) -> None:
        """The `default` group: ssh and http from this host, all egress."""
        if self.store.row("SELECT id FROM security_groups WHERE name = ?", [DEFAULT]):
            return
        started = time.perf_counter()
        try:
            group_id = self._insert_group(DEFAULT, "ssh and http from this host", True)
        except ConflictError:  # another process made it first: the same group for all
            return
        self.audit.record("sg.create", group_id, {"name": DEFAULT, "auto": True}, "success", "",
                          (time.perf_counter() - started) * 1000)

    @journaled_sync("sg.create")
    def create(self, name: str, description: str = "") -> SecurityGroup:
        with self.audit.track("sg.create", name, {"name": name,
                                                  "description": description}) as t:
            validate.name(name, "security group name")
            if len(description) > rulemod.MAX_DESCRIPTION:
                raise ValidationError(f"description is longer than {rulemod.MAX_DESCRIPTION}")
            self.ensure_default()
            if self.store.row("SELECT id FROM security_groups WHERE name = ?", [name]):
                raise ConflictError(f"a security group named {name!r} exists already")
            t.resource = self._insert_group(name, description, False)
        return self.get(t.resource)

    @journaled_sync("sg.delete")
    def delete(self, ref: str) -> None:
        with self.audit.track("sg.delete", ref) as t:
            group = self.get(ref)
            t.resource = group.id
            if group.name == DEFAULT:
                raise ConflictError("the default security group cannot be deleted")
            if group.instances:
                marks = ",".join("?" * len(group.instances))
                names = self.store.rows(f"SELECT name FROM instances WHERE id IN ({marks})",
                                        group.instances)
                raise ConflictError(f"security group {group.name!r} is in use by "
                                    + ", ".join(sorted(n["name"] for n in names)))
            users = self.store.rows(
                "SELECT DISTINCT g.name FROM sg_rules r JOIN security_groups g ON g.id = r.group_id"
                " WHERE r.remote_group = ? AND r.group_id != ?", [group.id, group.id])
            if users:
                raise ConflictError(f"security group {group.name!r} is named by rules of "
                                    + ", ".join(sorted(u["name"] for u in users)))
            with self.store.transaction() as db:
                db.execute("DELETE FROM sg_rules WHERE group_id = ?", [group.id])
                db.table("security_groups").delete(group.id)

    # ---- rules ---------------------------------------------------------------------
    @journaled("sg.rule-add")
    async def rule_add(self, ref: str, spec: RuleInput) -> Rule:
        params = {"group": ref, **{k: getattr(spec, k) for k in RuleInput.__slots__}}
        with self.audit.track("sg.rule-add", ref, params) as t:
            group = self.get(ref)
            t.resource = group.id
            remote = self._row(spec.remote_group)["id"] if spec.remote_group else ""
            rule = rulemod.build(spec, new_id("r"), group.id, remote)
            members = group.instances

            def rules_for(instance_id: str) -> builtins.list[Rule]:
                return self.enforcer.rules_of(self.enforcer.group_ids(instance_id)) + [rule]

            def mutate(db: Any) -> None:
                db.table("sg_rules").insert(_rule_row(rule, time.time()))

            await self.enforcer.change(members, rules_for, mutate)
            t.parameters["rule_id"] = rule.id
        return rule

    @journaled("sg.rule-delete")
    async def rule_delete(self, ref: str, rule_id: str) -> None:
        with self.audit.track("sg.rule-delete", ref, {"group": ref, "rule": rule_id}) as t:
            group = self.get(ref)
            t.resource = group.id
            if not any(r.id == rule_id for r in group.rules):
                raise NotFoundError(f"rule {rule_id!r} not found in security group"
                                    f" {group.name!r}")

            def rules_for(instance_id: str) -> builtins.list[Rule]:
                return [r for r in self.enforcer.rules_of(self.enforcer.group_ids(instance_id))
                        if r.id != rule_id]

            def mutate(db: Any) -> None:
                db.execute("DELETE FROM sg_rules WHERE id = ?", [rule_id])

            await self.enforcer.change(group.instances, rules_for, mutate)

    # ---- membership ----------------------------------------------------------------
    def _instance(self, ref: str) -> dict[str, Any]:
        row = self.store.row("SELECT id, name FROM instances WHERE id = ? OR name = ?",
                             [ref, ref])
        if row is None:
            raise NotFoundError(f"instance {ref!r} not found")
        return row

    def egress_status(self, instance: str) -> str:
        """One line for an instance's details: what its egress reaches now, gaps named
        ("" for a stopped instance, or one on a bridge network: its rules say it all)."""
        inst = self.store.row("SELECT * FROM instances WHERE id = ?",
                              [self._instance(instance)["id"]])
        if inst is None or self.enforcer.network_of(inst["id"]) or inst["state"] not in (
                "running", "rebooting"):
            return ""
        return self.enforcer.driver.egress_status(inst["id"])

    @journaled("sg.attach")
    async def attach(self, instance: str, ref: str) -> SecurityGroup:
        with self.audit.track("sg.attach", ref, {"instance": instance, "group": ref}) as t:
            group = self.get(ref)
            inst = self._instance(instance)
            t.resource = group.id
            current = self.enforcer.group_ids(inst["id"])
            if group.id in current:
                raise ConflictError(f"instance {inst['name']!r} is in {group.name!r} already")

            def rules_for(instance_id: str) -> builtins.list[Rule]:
                return self.enforcer.rules_of(current + [group.id])

            def mutate(db: Any) -> None:
                db.table("instance_sgs").insert({"instance_id": inst["id"], "group_id": group.id,
                                                 "position": len(current)})

            await self.enforcer.change([inst["id"]], rules_for, mutate)
        return self.get(group.id)

    @journaled("sg.detach")
    async def detach(self, instance: str, ref: str) -> SecurityGroup:
        with self.audit.track("sg.detach", ref, {"instance": instance, "group": ref}) as t:
            group = self.get(ref)
            inst = self._instance(instance)
            t.resource = group.id
            current = self.enforcer.group_ids(inst["id"])
            if group.id not in current:
                raise NotFoundError(f"instance {inst['name']!r} is not in {group.name!r}")
            if current == [group.id]:
                raise ConflictError(f"instance {inst['name']!r} must keep at least one"
                                    " security group; attach another first")
            rest = [g for g in current if g != group.id]

            def rules_for(instance_id: str) -> builtins.list[Rule]:
                return self.enforcer.rules_of(rest)

            def mutate(db: Any) -> None:
                db.execute("DELETE FROM instance_sgs WHERE instance_id = ? AND group_id = ?",
                           [inst["id"], group.id])

            await self.enforcer.change([inst["id"]], rules_for, mutate)
        return self.get(group.id)


def _rule_row(rule: Rule, now: float) -> dict[str, Any]:
    return {
        "id": rule.id, "group_id": rule.group_id, "direction": rule.direction.value,
        "protocol": rule.protocol.value, "port_min": rule.port_min, "port_max": rule.port_max,
        "cidr": rule.cidr, "remote_group": rule.remote_group, "action": rule.action.value,
        "priority": rule.priority, "description": rule.description, "created_at": now,
    }
