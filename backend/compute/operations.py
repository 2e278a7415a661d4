"""Instance operations beyond the power verbs (issue #15), one module each, reached through
`Cloud.instance_ops`: pause/resume (pause_resume.py), rename (rename.py), console output
(console_log.py), resize (resize.py), rebuild
(rebuild.py). Modules are imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

    def console_log(self, ref: str, tail: int | None = None) -> ConsoleLog:
        from backend.compute import console_log

        return console_log.console_log(self.instances, ref, tail)
