"""What a pane or a screen may use of the App (`self.lecs`): a type only, so that they depend on
this protocol and never on `app.tui.app`. LecsApp provides all of it; nothing here runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.worker import Worker

    from app.tui.widgets.ops import Operations
    from backend import Cloud
    from backend.compute.records import Instance
    from backend.inventory.records import HostFacts
    from backend.monitoring.records import MetricSample


class Dashboard(Protocol):
    # ---- the inventory as last read, and the pane on screen
    cloud: Cloud
    instances: list[Instance]
    version: int  # bumped whenever `instances` changes
    clock: Callable[[], float]
    facts: HostFacts | None  # None until fetched after the first frame
    monitoring: bool  # the sampler's data is there (after the first frame)
    ops: Operations  # the operations in flight
    pane_name: str

    def latest_samples(self) -> dict[str, MetricSample]: ...

    def not_answering(self) -> set[str]:
        """Running instances whose QEMU is alive but did not answer the sampler's QMP."""
        ...

    def find(self, instance_id: str) -> Instance | None: ...

    # ---- running an operation, asking first
    def run_op(self, action: str, resource: str, call: Callable[..., Any], *args: Any,
               progress: bool = False, cancellable: bool = False,
               **kwargs: Any) -> Worker[None]: ...

    def confirm(self, question: str, then: Callable[[], None]) -> None: ...

    # ---- instances (app/tui/actions/instances.py)
    def open_create_instance(self) -> None: ...

    def open_detail(self, instance_id: str) -> None: ...

    def open_console(self, instance_id: str) -> None: ...

    def open_tags(self, instance_id: str) -> None: ...

    def ssh_to(self, instance_id: str) -> None: ...

    # ---- disks, snapshots, backups, images (app/tui/actions/storage.py)
    def create_disk(self) -> None: ...

    def attach_disk(self, disk_id: str) -> None: ...

    def detach_disk(self, disk_id: str) -> None: ...

    def resize_disk(self, disk_id: str) -> None: ...

    def toggle_delete_with_instance(self, disk_id: str) -> None: ...

    def delete_disk(self, disk_id: str) -> None: ...

    def open_disk_detail(self, disk_id: str) -> None: ...

    def snapshot_disk(self, disk_id: str) -> None: ...

    def rollback_snapshot(self, snapshot_id: str) -> None: ...

    def delete_snapshot(self, snapshot_id: str) -> None: ...

    def backup_instance(self, instance_id: str) -> None: ...

    def open_backups(self, instance_id: str | None = None) -> None: ...

    def open_import_image(self) -> None: ...

    def create_image(self, instance_id: str | None = None) -> None: ...

    def delete_image(self, image_id: str) -> None: ...

    def cancel_imports(self, name: str | None = None) -> None: ...
