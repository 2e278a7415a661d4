"""Typed records of storage (backend/storage/snapshots.py, backend/storage/backups.py): snapshots,
backups."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SnapshotState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    ERROR = "error"


class BackupState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    ERROR = "error"


@dataclass(slots=True)
class Snapshot:
    """An internal qcow2 snapshot of one disk (EVS snapshot)."""

    id: str
    name: str
    disk_id: str
    disk_name: str
    state: SnapshotState
    created_at: float
    size_bytes: int  # data allocated in the disk when the snapshot was taken
    disk_size_gib: int  # the disk's size then; rollback returns to it
    parent_id: str | None = None
    online: bool = False  # taken from a running instance
    current: bool = False  # the disk's contents descend from this one


@dataclass(slots=True)
class BackupDisk:
    disk_id: str
    disk_name: str
    role: str
    position: int
    path: str
    virtual_size: int
    size_bytes: int
    encrypted: bool


@dataclass(slots=True)
class Backup:
    """A full copy of all of an instance's disks taken at one point in time (CSBS)."""

    id: str
    name: str
    instance_id: str
    instance_name: str
    state: BackupState
    created_at: float
    size_bytes: int
    online: bool
    error: str = ""
    disks: list[BackupDisk] = field(default_factory=list)
