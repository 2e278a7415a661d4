"""The lecs engine: inventory, images, instances on QEMU. Never imports the UI."""

from backend.cloud import Cloud
from backend.inventory.errors import LecsError

__all__ = ["Cloud", "LecsError"]
