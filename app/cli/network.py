"""`lecs sg …`, `lecs keypair …`, `lecs network …` (registered by app.cli.parser.build_parser)."""

from __future__ import annotations

import argparse
from typing import Any

from app import render
from app.cli.output import confirm, destructive, noun, out, verb
from backend import Cloud
from backend.network.records import KeyPair, Rule, SecurityGroup
from backend.network.rules import RuleInput


# ---- sg -----------------------------------------------------------------------------
def rule_rows(rules: list[Rule]) -> str:
    return render.table(
        ["RULE", "DIRECTION", "ACTION", "PROTOCOL", "PORTS", "PEER", "PRIORITY", "DESCRIPTION"],
        [[r.id, r.direction.value, r.action.value, r.protocol.value, r.ports, r.peer,
          r.priority, r.description] for r in rules])


def _names(cloud: Cloud, ids: list[str]) -> str:
    names = {i.id: i.name for i in cloud.instances.list(reconcile=False)}
    return ",".join(names.get(i, i) for i in ids) or "-"


async def sg_list(cloud: Cloud, args: argparse.Namespace) -> None:
    groups = cloud.sgs.list()
    out(args, groups, lambda: render.table(
        ["ID", "NAME", "RULES", "INSTANCES", "DESCRIPTION"],
        [[g.id, g.name, len(g.rules), _names(cloud, g.instances), g.description]
         for g in groups]))


def _group_text(cloud: Cloud, group: SecurityGroup) -> str:
    head = (f"id:          {group.id}\nname:        {group.name}\n"
            f"description: {group.description or '-'}\n"
            f"instances:   {_names(cloud, group.instances)}\n")
    return head + "\n" + rule_rows(group.rules)


async def sg_show(cloud: Cloud, args: argparse.Namespace) -> None:
    group = cloud.sgs.get(args.group)
    out(args, group, lambda: _group_text(cloud, group))


async def sg_create(cloud: Cloud, args: argparse.Namespace) -> None:
    group = cloud.sgs.create(args.name, args.description)
    out(args, group, lambda: f"created security group {group.name} ({group.id}): all ingress"
        " denied, all egress allowed")


async def sg_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    group = cloud.sgs.get(args.group)
    confirm(args, f"delete security group {group.name} ({group.id})")
    cloud.sgs.delete(args.group)
    out(args, {"deleted": args.group}, lambda: f"deleted security group {args.group}")


async def sg_rule_add(cloud: Cloud, args: argparse.Namespace) -> None:
    spec = RuleInput(direction=args.direction, protocol=args.protocol, ports=args.port,
                     cidr=args.cidr, action=args.action, priority=args.priority,
                     description=args.description, remote_group=args.remote_group)
    rule = await cloud.sgs.rule_add(args.group, spec)
    out(args, rule, lambda: f"added rule {rule.id} to {args.group}: {rule.direction.value}"
        f" {rule.action.value} {rule.protocol.value}/{rule.ports} "
        f"{'from' if rule.direction.value == 'ingress' else 'to'} {rule.peer}"
        f" priority {rule.priority}")


async def sg_rule_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    confirm(args, f"delete rule {args.rule} of {args.group} (applied live)")
    await cloud.sgs.rule_delete(args.group, args.rule)
    out(args, {"deleted": args.rule, "group": args.group},
        lambda: f"deleted rule {args.rule} from {args.group}")


async def sg_attach(cloud: Cloud, args: argparse.Namespace) -> None:
    await cloud.sgs.attach(args.instance, args.group)
    inst = cloud.instances.get(args.instance, reconcile=False)
    out(args, inst, lambda: f"{inst.name}: security groups {', '.join(inst.security_groups)}")


async def sg_detach(cloud: Cloud, args: argparse.Namespace) -> None:
    await cloud.sgs.detach(args.instance, args.group)
    inst = cloud.instances.get(args.instance, reconcile=False)
    out(args, inst, lambda: f"{inst.name}: security groups {', '.join(inst.security_groups)}")


# ---- keypair ------------------------------------------------------------------------
def _key_rows(keys: list[KeyPair]) -> str:
    return render.table(["NAME", "TYPE", "FINGERPRINT", "COMMENT", "PRIVATE KEY"],
                        [[k.name, k.key_type, k.fingerprint, k.comment,
                          k.private_key_path or "-"] for k in keys])


async def keypair_list(cloud: Cloud, args: argparse.Namespace) -> None:
    keys = cloud.keypairs.list()
    out(args, keys, lambda: _key_rows(keys))


async def keypair_import(cloud: Cloud, args: argparse.Namespace) -> None:
    key = cloud.keypairs.import_key(args.name, args.public_key, args.private_key or "")
    out(args, key, lambda: f"imported key pair {key.name} ({key.key_type} {key.fingerprint})")


async def keypair_create(cloud: Cloud, args: argparse.Namespace) -> None:
    key = await cloud.keypairs.create(args.name, args.type)
    out(args, key, lambda: f"created key pair {key.name} ({key.key_type} {key.fingerprint});"
        f" private key {key.private_key_path}")


async def keypair_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    key = cloud.keypairs.get(args.name)
    confirm(args, f"delete key pair {key.name} (its private key file too, if lecs made it)")
    cloud.keypairs.delete(args.name)
    out(args, {"deleted": args.name}, lambda: f"deleted key pair {args.name}")


# ---- network ------------------------------------------------------------------------
async def network_list(cloud: Cloud, args: argparse.Namespace) -> None:
    nets = cloud.networks.list()
    out(args, nets, lambda: render.table(
        ["ID", "NAME", "CIDR", "BRIDGE", "NETNS"],
        [[n.id, n.name, n.cidr, n.bridge, n.netns or "-"] for n in nets]))


async def network_create(cloud: Cloud, args: argparse.Namespace) -> None:
    net = cloud.networks.create(args.name, args.cidr, args.netns or "")
    out(args, net, lambda: f"created network {net.name} ({net.id}, {net.cidr}, bridge"
        f" {net.bridge})")


async def network_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    net = cloud.networks.get(args.network)
    confirm(args, f"delete network {net.name} ({net.id}, bridge {net.bridge})")
    cloud.networks.delete(args.network)
    out(args, {"deleted": args.network}, lambda: f"deleted network {args.network}")


def register(nouns: Any) -> None:
    sg = noun(nouns, "sg", "security groups (virtual firewalls)")
    verb(sg, "list", sg_list, "list security groups")
    verb(sg, "show", sg_show, "show a group and its rules").add_argument("group")
    p = verb(sg, "create", sg_create, "create a group (denies all ingress, allows all egress)")
    p.add_argument("name")
    p.add_argument("--description", default="")
    destructive(verb(sg, "delete", sg_delete, "delete a group no instance uses")).add_argument(
        "group")
    p = verb(sg, "rule-add", sg_rule_add, "add a rule; applied live to running instances")
    p.add_argument("group")
    p.add_argument("--direction", default="ingress", help="ingress|egress")
    p.add_argument("--protocol", default="tcp", help="tcp|udp|icmp|all")
    p.add_argument("--port", default="", help="PORT or LOW-HIGH (tcp/udp), or 'all'")
    p.add_argument("--cidr", default="", help="source (ingress) or destination (egress);"
                   " default 0.0.0.0/0")
    p.add_argument("--source-group", "--remote-group", dest="remote_group", default="",
                   metavar="NAME|sg-…", help="a group as peer: its instances (bridge mode;"
                   " user mode refuses it)")
    p.add_argument("--action", default="allow", help="allow|deny")
    p.add_argument("--priority", default="1", help="1-100, lower first; deny wins on ties")
    p.add_argument("--description", default="")
    p = destructive(verb(sg, "rule-delete", sg_rule_delete, "delete a rule; applied live"))
    p.add_argument("group")
    p.add_argument("rule")
    for name, handler, text in (("attach", sg_attach, "put an instance in a group"),
                                ("detach", sg_detach, "take an instance out of a group")):
        p = verb(sg, name, handler, text)
        p.add_argument("instance")
        p.add_argument("group")

    kp = noun(nouns, "keypair", "SSH key pairs")
    verb(kp, "list", keypair_list, "list key pairs")
    p = verb(kp, "import", keypair_import, "import an OpenSSH public key")
    p.add_argument("name")
    p.add_argument("--public-key", required=True, help="a .pub file (or the key text)")
    p.add_argument("--private-key", default="", help="its private key, for `instance ssh`")
    p = verb(kp, "create", keypair_create, "generate a pair (private key kept 0600 in"
             " LECS_HOME/keys)")
    p.add_argument("name")
    p.add_argument("--type", default="ed25519", help="ed25519|rsa|ecdsa")
    destructive(verb(kp, "delete", keypair_delete, "delete a key pair")).add_argument("name")

    nw = noun(nouns, "network", "bridge networks (root)")
    verb(nw, "list", network_list, "list bridge networks")
    p = verb(nw, "create", network_create, "create a bridge network with DHCP")
    p.add_argument("name")
    p.add_argument("--cidr", required=True, help="e.g. 10.77.0.0/24")
    p.add_argument("--netns", default="", help="an existing network namespace to use")
    destructive(verb(nw, "delete", network_delete, "delete an unused network")).add_argument(
        "network")
