"""Security groups: today the effective open ports, i.e. each instance's forwarded ports."""

from __future__ import annotations

from app.panes.base import Pane
from app.widgets.vtable import Column, Row
from backend.models import Forward, Instance

SERVICES = {22: "ssh", 80: "http", 443: "https"}


def forward_row(inst: Instance, fwd: Forward) -> Row:
    service = SERVICES.get(fwd.guest_port, "")
    cells = (
        inst.name, "ingress", fwd.protocol, f"{fwd.host_addr}:{fwd.host_port}",
        f"{fwd.guest_port}" + (f" ({service})" if service else ""),
        fwd.host_addr + "/32" if fwd.host_addr != "0.0.0.0" else "0.0.0.0/0",
        "allow", inst.state.value,
    )
    styles = ("", "", "", "", "", "", "ok", "")
    fields = {"instance": inst.name, "protocol": fwd.protocol, "state": inst.state.value,
              "port": str(fwd.guest_port)}
    return Row(f"{inst.id}/{fwd.protocol}/{fwd.guest_port}", cells, styles, fields, inst.tags)


class SecurityGroupsPane(Pane):
    NAME = "security-groups"
    TITLE = "Security groups · effective open ports"
    EMPTY = "No forwarded ports: instances show theirs here once created."
    NOTE = ("Security groups and rules arrive with the network issue; until then every "
            "instance gets the default forwards (22, 80) on loopback, shown here.")
    COLUMNS = [
        Column("instance", "INSTANCE", 8, 28),
        Column("direction", "DIRECTION", 9, 9, priority=3),
        Column("protocol", "PROTO", 5, 5),
        Column("host", "HOST ADDRESS", 12, 21),
        Column("guest", "GUEST PORT", 10, 12),
        Column("source", "SOURCE", 9, 18, priority=2),
        Column("action", "ACTION", 6, 6, priority=4),
        Column("state", "INSTANCE STATE", 9, 14, priority=1),
    ]

    def refresh_data(self) -> None:
        self.set_rows(
            [forward_row(inst, fwd) for inst in self.lecs.instances for fwd in inst.forwards]
        )
