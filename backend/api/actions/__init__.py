"""The ECS actions, one module per resource family; importing this package registers them all
(`ACTIONS`). Each module's handlers are `@action(NAME, params=(...))` coroutines."""

from __future__ import annotations

import importlib
import pkgutil


def load() -> None:
    """Import every action module of this package (each registers its actions)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
