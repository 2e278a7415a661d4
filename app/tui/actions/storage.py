"""Storage actions of the App shared by the Disks and Images panes and the palette (a mixin).

Each one opens its dialog or confirmation and runs the backend call in a worker (`run_op`).
An operation the engine is known to refuse (rolling back a running instance's disk, deleting
an image in use) runs without a confirmation, so its one-line error shows straight away.
"""

from __future__ import annotations

from app.tui.actions.instances import InstanceActions
from app.tui.widgets.ops import Operations
from backend.inventory.errors import LecsError
from backend.inventory.records import Disk, DiskState, InstanceState


class StorageActions(InstanceActions):
    ops: Operations

    def _storage_disk(self, disk_id: str) -> Disk | None:
        try:
            return self.cloud.disks.get(disk_id)
        except LecsError as exc:
            self.notify(str(exc), severity="error")
            return None

    def _storage_live(self, disk: Disk) -> bool:
        inst = self.find(disk.instance_id) if disk.instance_id else None
        return inst is not None and inst.state is InstanceState.RUNNING

    # ---- disks ---------------------------------------------------------------------
    def create_disk(self) -> None:
        from app.tui.screens.disk_create import CreateDiskScreen, DiskSpec

        def done(spec: DiskSpec | None) -> None:
            if spec is not None:
                self.run_op("disk.create", spec.name, self.cloud.disks.create, spec.name,
                            spec.size_gib, encrypted=spec.encrypted,
                            delete_with_instance=spec.delete_with_instance)

        self.push_screen(CreateDiskScreen({d.name for d in self.cloud.disks.list()}), done)

    def attach_disk(self, disk_id: str) -> None:
        from app.tui.screens.disk_attach import AttachDiskScreen, AttachSpec

        disk = self._storage_disk(disk_id)
        if disk is None:
            return
        if disk.instance_id:
            owner = self.find(disk.instance_id)
            self.notify(f"disk {disk.name!r} is attached to {owner.name if owner else '?'}:"
                        " detach it first", severity="warning", title="attach")
            return

        def done(spec: AttachSpec | None) -> None:
            if spec is not None:
                self.run_op("disk.attach", disk.name, self.cloud.disks.attach, disk.id,
                            spec.instance_id, delete_with_instance=spec.delete_with_instance)

        self.push_screen(AttachDiskScreen(disk, self.instances), done)

    def detach_disk(self, disk_id: str) -> None:
        disk = self._storage_disk(disk_id)
        if disk is None:
            return
        owner = self.find(disk.instance_id) if disk.instance_id else None
        if owner is None:
            self.notify(f"disk {disk.name!r} is not attached", severity="warning",
                        title="detach")
            return

        def go() -> None:
            self.run_op("disk.detach", disk.name, self.cloud.disks.detach, disk.id)

        if disk.role == "system":  # refused by the engine, with its reason
            go()
            return
        live = (" The running guest loses the device now: unmount it in the guest first."
                if owner.state is InstanceState.RUNNING else "")
        self.confirm(f"Detach disk {disk.name!r} from {owner.name}?{live}", go)

    def resize_disk(self, disk_id: str) -> None:
        from app.tui.screens.disk_resize import ResizeDiskScreen

        disk = self._storage_disk(disk_id)
        if disk is None:
            return

        def done(size: int | None) -> None:
            if size is not None:
                self.run_op("disk.resize", disk.name, self.cloud.disks.resize, disk.id, size)

        self.push_screen(ResizeDiskScreen(disk, self._storage_live(disk)), done)

    def toggle_delete_with_instance(self, disk_id: str) -> None:
        if disk := self._storage_disk(disk_id):
            self.run_op("disk.update", disk.name, self.cloud.disks.set_delete_with_instance,
                        disk.id, not disk.delete_with_instance)

    def delete_disk(self, disk_id: str) -> None:
        disk = self._storage_disk(disk_id)
        if disk is None:
            return

        def go() -> None:
            self.run_op("disk.delete", disk.name, self.cloud.disks.delete, disk.id)

        if disk.role == "system" or disk.instance_id or disk.state is DiskState.IN_USE:
            go()  # the engine refuses, and says why
            return
        snaps = len(self.cloud.snapshots.list(disk.id))
        also = f" and its {snaps} snapshot{'s' if snaps > 1 else ''}" if snaps else ""
        self.confirm(f"Delete disk {disk.name!r} ({disk.size_gib} GiB){also}? Its data is"
                     " lost.", go)

    def open_disk_detail(self, disk_id: str) -> None:
        from app.tui.screens.disk_detail import DiskDetailScreen

        if self._storage_disk(disk_id):
            self.push_screen(DiskDetailScreen(disk_id))

    # ---- snapshots -----------------------------------------------------------------
    def snapshot_disk(self, disk_id: str) -> None:
        from app.tui.screens.snapshot_create import SnapshotCreateScreen

        disk = self._storage_disk(disk_id)
        if disk is None:
            return

        def done(name: str | None) -> None:
            if name is not None:
                self.run_op("snapshot.create", name or disk.name, self.cloud.snapshots.create,
                            disk.id, name or None)

        taken = {s.name for s in self.cloud.snapshots.list()}
        self.push_screen(SnapshotCreateScreen(disk.name, self._storage_live(disk), taken), done)

    def rollback_snapshot(self, snapshot_id: str) -> None:
        try:
            snap = self.cloud.snapshots.get(snapshot_id)
            disk = self.cloud.disks.get(snap.disk_id)
        except LecsError as exc:
            self.notify(str(exc), severity="error")
            return

        def go() -> None:
            self.run_op("snapshot.rollback", snap.name, self.cloud.snapshots.rollback, snap.id)

        owner = self.find(disk.instance_id) if disk.instance_id else None
        if owner is not None and owner.state is not InstanceState.STOPPED:
            go()  # refused while the instance runs: the engine's error says so
            return
        self.confirm(f"Roll disk {disk.name!r} back to snapshot {snap.name!r}? What was"
                     " written since that snapshot is lost.", go)

    def delete_snapshot(self, snapshot_id: str) -> None:
        try:
            snap = self.cloud.snapshots.get(snapshot_id)
        except LecsError as exc:
            self.notify(str(exc), severity="error")
            return

        def go() -> None:
            self.run_op("snapshot.delete", snap.name, self.cloud.snapshots.delete, snap.id)

        self.confirm(f"Delete snapshot {snap.name!r} of disk {snap.disk_name!r}?", go)

    # ---- backups -------------------------------------------------------------------
    def backup_instance(self, instance_id: str) -> None:
        if inst := self.find(instance_id):
            self.run_op("backup.create", inst.name, self.cloud.backups.create, inst.id,
                        progress=True)

    def open_backups(self, instance_id: str | None = None) -> None:
        from app.tui.screens.backup_list import BackupsScreen

        self.push_screen(BackupsScreen(instance_id))

    # ---- images --------------------------------------------------------------------
    def open_import_image(self) -> None:
        from app.tui.screens.import_image import ImportImageScreen, ImportSpec

        def done(spec: ImportSpec | None) -> None:
            if spec is None:
                return
            self.action_show_pane("images")
            if spec.is_url:
                self.run_op("image.import", spec.name, self.cloud.images.import_url,
                            spec.source, spec.name, os_name=spec.os_name,
                            checksum=spec.checksum, progress=True, cancellable=True)
            else:
                self.run_op("image.import", spec.name, self.cloud.images.import_disk,
                            spec.source, spec.name, os_name=spec.os_name, progress=True,
                            cancellable=True)

        self.push_screen(ImportImageScreen({i.name for i in self.cloud.images.list()}), done)

    def create_image(self, instance_id: str | None = None) -> None:
        from app.tui.screens.image_create import CreateImageScreen, ImageFromInstance

        if not any(i.state is InstanceState.STOPPED for i in self.instances):
            self.notify("no stopped instance: an image is made from a stopped instance's"
                        " system disk", severity="warning", title="create image")
            return

        def done(spec: ImageFromInstance | None) -> None:
            if spec is not None:
                self.action_show_pane("images")
                self.run_op("image.create", spec.name, self.cloud.images.create_from_instance,
                            spec.instance_id, spec.name, progress=True, cancellable=True)

        taken = {i.name for i in self.cloud.images.list()}
        self.push_screen(CreateImageScreen(self.instances, taken, instance_id), done)

    def delete_image(self, image_id: str) -> None:
        try:
            image = self.cloud.images.get(image_id)
        except LecsError as exc:
            self.notify(str(exc), severity="error")
            return

        def go() -> None:
            self.run_op("image.delete", image.name, self.cloud.images.delete, image.id)

        in_use = any(i.image_id == image.id for i in self.instances) or any(
            d.backing_image_id == image.id for d in self.cloud.disks.list())
        if in_use:
            go()  # refused: the engine names the instances that use it
            return
        self.confirm(f"Delete image {image.name!r} and its files?", go)

    # ---- operations in flight ------------------------------------------------------
    def action_cancel_op(self, op_id: int) -> None:
        op = self.ops.running.get(op_id)
        if op is not None and op.cancel is not None:
            op.cancel()

    def cancel_imports(self, name: str | None = None) -> None:
        """Cancel the image import or creation for `name`, else the latest one."""
        ops = [op for op in self.ops.running.values()
               if op.cancel is not None and op.action.startswith("image.")]
        chosen = [op for op in ops if op.resource == name] or ops[-1:]
        if not chosen:
            self.notify("no image import or creation is running", severity="warning")
        for op in chosen:
            self.action_cancel_op(op.id)

