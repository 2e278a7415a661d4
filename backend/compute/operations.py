"""Instance operations beyond the power verbs (issue #15), one module each, reached through
`Cloud.instance_ops`: pause/resume (pause_resume.py), rename (rename.py), console output
(console_log.py), resize (resize.py), rebuild
(rebuild.py), clone (clone.py), bulk (bulk.py). Modules are imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.compute.bulk import Outcome
    from backend.compute.console_log import ConsoleLog
    from backend.compute.instances import Instances
    from backend.compute.records import Instance


class InstanceOps:
    def __init__(self, instances: Instances) -> None:
        self.instances = instances

    async def pause(self, ref: str) -> Instance:
        from backend.compute import pause_resume

        return await pause_resume.pause(self.instances, ref)

    async def resume(self, ref: str) -> Instance:
        from backend.compute import pause_resume

        return await pause_resume.resume(self.instances, ref)

    async def rename(self, ref: str, new: str) -> Instance:
        from backend.compute import rename

        return await rename.rename(self.instances, ref, new)

    async def resize(self, ref: str, itype: str, live: bool = False) -> Instance:
        from backend.compute import resize

        return await resize.resize(self.instances, ref, itype, live)

    async def rebuild(self, ref: str, image: str, keep_old: bool = False) -> Instance:
        from backend.compute import rebuild

        return await rebuild.rebuild(self.instances, ref, image, keep_old)

    async def clone(self, ref: str, new: str, count: int | None = None,
                    tags: dict[str, str] | None = None, start: bool = False) -> list[Instance]:
        from backend.compute import clone

        return await clone.clone(self.instances, ref, new, count, tags, start)

    # ---- bulk (bulk.py) ------------------------------------------------------------
    BULK = ("start", "stop", "reboot", "delete", "pause", "resume")

    def select(self, names: list[str], tags: dict[str, str] | None = None,
               every: bool = False) -> list[str]:
        from backend.compute import bulk

        return bulk.select(self.instances, names, tags or {}, every)

    async def each(self, verb: str, refs: list[str], **how: Any) -> list[Outcome]:
        """`verb` (one of BULK) on every instance of `refs`, side by side."""
        from backend.compute import bulk

        if verb not in self.BULK:
            raise ValueError(f"not a bulk verb: {verb}")
        owner = self if verb in ("pause", "resume") else self.instances
        method = getattr(owner, verb)
        return await bulk.each(self.instances, verb, refs, lambda ref: method(ref, **how))

    async def create_many(self, name: str, count: int, **create: Any) -> list[Outcome]:
        """NAME-1 … NAME-N side by side; `create` as `Instances.create` takes it."""
        from backend.compute import bulk

        return await bulk.create_many(self.instances, name, count, **create)

    def console_log(self, ref: str, tail: int | None = None) -> ConsoleLog:
        from backend.compute import console_log

        return console_log.console_log(self.instances, ref, tail)
