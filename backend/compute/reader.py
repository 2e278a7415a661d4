"""Reading instances from the inventory: rows to typed `Instance` records, and reconcile."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from backend.compute import reconcile
from backend.compute.records import Forward, Instance
from backend.drivers.protocol import Driver
from backend.inventory.audit import Audit
from backend.inventory.errors import NotFoundError
from backend.inventory.locks import Locks
from backend.inventory.records import Disk, DiskState, InstanceState
from backend.inventory.store import Store

if TYPE_CHECKING:
    from backend.network.instance_net import InstanceNetworking

S = InstanceState
STATES = {s.value: s for s in InstanceState}  # a dict lookup is ~5x cheaper than S(value)
DISK_STATES = {s.value: s for s in DiskState}
NO_NET: dict[str, Any] = {}
# A listing's one query: the instance (id first) with its type's size and its image's name.
LISTING = ("SELECT i.*, t.vcpus AS t_vcpus, t.memory_mib AS t_memory_mib, im.name AS im_name,"
           " im.login_user AS im_login_user"
           " FROM instances i LEFT JOIN instance_types t ON t.name = i.type"
           " LEFT JOIN images im ON im.id = i.image_id")


class InstanceRecords:
    """The read side of `Instances` (backend/compute/instances.py holds the operations)."""

    store: Store
    driver: Driver
    audit: Audit
    locks: Locks
    net: InstanceNetworking

    # ---- reading -------------------------------------------------------------------
    def _row(self, ref: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM instances WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"instance {ref!r} not found")
        return row

    def _extras(self, ids: list[str] | None) -> dict[str, Any]:
        """Tags, disks, forwards, networking by instance (the type and image: `LISTING`)."""
        where, params = "", []
        if ids is not None:
            where = f" WHERE {{col}} IN ({','.join('?' * len(ids))})"
            params = ids
        run = self.store.execute  # plain tuples: a dict per row costs as much as the query
        tags: dict[str, dict[str, str]] = {}
        for rid, key, value in run(
            "SELECT resource_id, key, value FROM tags" + where.format(col="resource_id"), params
        ):
            tags.setdefault(rid, {})[key] = value
        disks: dict[str, list[Disk]] = {}
        for values in run(
            f"SELECT {DISK_COLUMNS} FROM disks" + where.format(col="instance_id")
            + " ORDER BY position", params,
        ):
            disk = disk_from_values(values)
            disks.setdefault(disk.instance_id or "", []).append(disk)
        forwards: dict[str, list[Forward]] = {}
        for iid, *fields in run(
            "SELECT instance_id, protocol, host_addr, host_port, guest_port FROM forwards"
            + where.format(col="instance_id") + " ORDER BY guest_port", params,
        ):
            forwards.setdefault(iid, []).append(Forward(*fields))
        return {"tags": tags, "disks": disks, "forwards": forwards, "net": self.net.view(ids)}

    def list(self, reconcile: bool = True, ids: builtins.list[str] | None = None
             ) -> list[Instance]:
        """Every instance by name; with `ids`, those only (in that order, unknown ids left out)."""
        if reconcile:
            self.reconcile(ids)
        if ids is None:
            cur = self.store.execute(LISTING + " ORDER BY i.name")
            return self._build_all(cur, self._extras(None))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        cur = self.store.execute(LISTING + f" WHERE i.id IN ({marks})", ids)
        cols = [c[0] for c in cur.description]
        found = {r[0]: r for r in cur.fetchall()}
        if not found:
            return []
        extra = self._extras([i for i in ids if i in found])
        return self._from_tuples(cols, [found[i] for i in ids if i in found], extra)

    def _build_all(self, cur: Any, extra: dict[str, Any]) -> builtins.list[Instance]:
        return self._from_tuples([c[0] for c in cur.description], cur.fetchall(), extra)

    def _from_tuples(self, cols: builtins.list[str], rows: builtins.list[tuple[Any, ...]],
                     extra: dict[str, Any]) -> builtins.list[Instance]:
        """Instances from `LISTING` tuples: one query with the joins, no dict per row (the
        columns an older, unmigrated read-only inventory lacks read as their defaults)."""
        at = {name: n for n, name in enumerate(cols)}
        name, itype, image_id, state, created, started, pid, accel, error = (
            at["name"], at["type"], at["image_id"], at["state"], at["created_at"],
            at["started_at"], at["pid"], at["accel"], at["last_error"])
        vcpus, memory, image_name = at["t_vcpus"], at["t_memory_mib"], at["im_name"]
        login = at["im_login_user"]
        key, host, egress = (at.get("key_pair"), at.get("hostname"),
                             at.get("egress_restricted"))
        tags, disks, forwards, nets = (extra["tags"], extra["disks"], extra["forwards"],
                                       extra["net"])
        rundir = self.driver.rundir_text
        out = []
        for r in rows:
            iid = r[0]
            net = nets.get(iid, NO_NET)
            out.append(Instance(
                iid, r[name], r[itype], r[vcpus] or 0, r[memory] or 0, r[image_id],
                "?" if r[image_name] is None else r[image_name], STATES[r[state]],
                r[created], r[started], r[pid], r[accel] or "", r[error] or "",
                tags.get(iid, {}), disks.get(iid, []), forwards.get(iid, []), rundir(iid),
                list(net.get("groups", ())),
                (key is not None and r[key]) or "", (host is not None and r[host]) or "",
                net.get("network", ""), net.get("ip", ""),
                egress is not None and bool(r[egress]),
                r[login] or "root",  # an image row gone (or an older one): ssh as root
            ))
        return out

    def list_checking_up(self) -> builtins.list[Instance]:
        """Every instance by name, as quickly as is safe (the dashboard's first frame): only the
        rows that say QEMU is up are checked against the process table first, so none is shown
        running that is not; `error` rows (a full reconcile may adopt their QEMU) are left as
        they are for the next `list()`, which reconciles every row."""
        reconcile.run(self.store, self.driver, self.audit, self.locks, None, reconcile.UP)
        return self.list(reconcile=False)

    def newest_first(self) -> builtins.list[str]:
        """Instance ids, the newest first (one light query: the API pages by it)."""
        return [r[0] for r in self.store.execute(
            "SELECT id FROM instances ORDER BY created_at DESC, id")]

    def get(self, ref: str, reconcile: bool = True) -> Instance:
        row = self._row(ref)
        if reconcile:
            self.reconcile([row["id"]])
        found = self.list(reconcile=False, ids=[row["id"]])
        if not found:  # deleted meanwhile
            raise NotFoundError(f"instance {ref!r} not found")
        return found[0]

    def _set(self, instance_id: str, **fields: Any) -> None:
        with self.store.transaction() as db:
            db.table("instances").update(instance_id, fields)

    # ---- reconcile -----------------------------------------------------------------
    def reconcile(self, ids: builtins.list[str] | None = None) -> builtins.list[str]:
        return reconcile.run(self.store, self.driver, self.audit, self.locks, ids)

    async def follow_status(self, instance_id: str, status: str | None = None) -> bool:
        """The row follows QEMU's runstate: paused by an I/O error, resumed once space is back
        (backend/compute/pause.py). `status` is a fresh query-status answer, if known."""
        from backend.compute import pause

        return await pause.follow(self.store, self.driver, self.audit, self.locks, instance_id,
                                  status)

    async def follow_paused(self) -> None:
        """Every paused instance gets a look (at open): resumed where space is back."""
        if self.store.row("SELECT 1 AS one FROM instances WHERE state = ? LIMIT 1",
                          [S.PAUSED.value]) is None:
            return
        from backend.compute import pause

        await pause.follow_paused(self.store, self.driver, self.audit, self.locks)

DISK_COLUMNS = ("id, name, size_gib, format, role, state, path, instance_id,"
                " delete_with_instance, encrypted, created_at, backing_image_id, position,"
                " snapshot_head")  # Disk's fields, in order


def disk_from_values(v: tuple[Any, ...]) -> Disk:
    """A Disk from a `SELECT {DISK_COLUMNS}` tuple (listing: no dict per row)."""
    return Disk(v[0], v[1], v[2], v[3], v[4], DISK_STATES[v[5]], v[6], v[7], bool(v[8]),
                bool(v[9]), v[10], v[11], v[12] or 0, v[13])


def disk_from_row(r: dict[str, Any]) -> Disk:
    return Disk(
        id=r["id"], name=r["name"], size_gib=r["size_gib"], format=r["format"], role=r["role"],
        state=DISK_STATES[r["state"]], path=r["path"], instance_id=r["instance_id"],
        delete_with_instance=bool(r["delete_with_instance"]), encrypted=bool(r["encrypted"]),
        created_at=r["created_at"], backing_image_id=r["backing_image_id"],
        position=r["position"] or 0, snapshot_head=r.get("snapshot_head"),
    )
