"""Instance operations of issue #15 in the dashboard (a mixin of the App): pause/resume,
rename, resize and rebuild (picked from lists), clone, console output. Each asks what it
needs in a dialog, confirms what changes, and runs through `run_op` (audited, journaled, a
notice on failure); screens are imported when first opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App

from backend import Cloud
from backend.compute.records import Instance
from backend.inventory.errors import LecsError
from backend.inventory.records import InstanceState as S


class InstanceOpsActions(App[None]):
    cloud: Cloud
    instances: list[Instance]

    if TYPE_CHECKING:
        def run_op(self, action: str, resource: str, call: Callable[..., Any], *args: Any,
                   progress: bool = False, **kwargs: Any) -> Any: ...

        def confirm(self, question: str, then: Callable[[], None]) -> None: ...

        def find(self, instance_id: str) -> Instance | None: ...

    def _stopped(self, inst: Instance, what: str) -> bool:
        if inst.state is S.STOPPED:
            return True
        self.notify(f"{inst.name} is {inst.state.value}: {what} needs it stopped; stop it first",
                    severity="warning", title=what)
        return False

    def pause_resume(self, instance_ids: list[str]) -> None:
        """Pause the running ones, resume the paused ones (asks first for a pause)."""
        found = [i for i in (self.find(x) for x in instance_ids) if i is not None]
        pause = [i for i in found if i.state is S.RUNNING]
        resume = [i for i in found if i.state is S.PAUSED]
        for inst in found:
            if inst not in pause and inst not in resume:
                self.notify(f"{inst.name} is {inst.state.value}: only a running instance"
                            " pauses and only a paused one resumes", severity="warning",
                            title="pause")
        ops = self.cloud.instance_ops
        for inst in resume:
            self.run_op("instance.resume", inst.name, ops.resume, inst.id)
        if pause:
            names = ", ".join(i.name for i in pause)

            def go() -> None:
                for inst in pause:
                    self.run_op("instance.pause", inst.name, ops.pause, inst.id)

            self.confirm(f"Pause {names}? The guest's vCPUs stop where they are; its memory,"
                         " disks and ports stay, and its clock stands still until resumed"
                         " (z again).", go)

    def rename_instance(self, instance_id: str) -> None:
        from app.tui.screens.instance_name import InstanceNameScreen, NameAnswer

        inst = self.find(instance_id)
        if inst is None:
            return

        def done(answer: NameAnswer | None) -> None:
            if answer is not None and answer.name != inst.name:
                self.run_op("instance.rename", inst.name, self.cloud.instance_ops.rename,
                            inst.id, answer.name)

        taken = {i.name for i in self.instances} - {inst.name}
        self.push_screen(InstanceNameScreen(
            f"Rename {inst.name} ({inst.id})", "Rename", inst.name, taken,
            "Only the name changes: id, disks, ports and the running guest stay."), done)

    def resize_instance(self, instance_id: str) -> None:
        from app.tui.screens.instance_pick import InstancePickScreen, Picked

        inst = self.find(instance_id)
        if inst is None or not self._stopped(inst, "resize"):
            return
        types = [t for t in self.cloud.types.list() if t.name != inst.type]
        options = [(f"{t.name}  {t.vcpus} vCPU · {t.memory_mib} MiB  {t.description}", t.name)
                   for t in types]

        def done(picked: Picked | None) -> None:
            if picked is None:
                return
            new = next(t for t in types if t.name == picked.value)
            self.confirm(
                f"Resize {inst.name} from {inst.type} ({inst.vcpus} vCPU, {inst.memory_mib} MiB)"
                f" to {new.name} ({new.vcpus} vCPU, {new.memory_mib} MiB)? It takes effect at"
                " its next start.",
                lambda: self.run_op("instance.resize", inst.name,
                                    self.cloud.instance_ops.resize, inst.id, new.name))

        self.push_screen(InstancePickScreen(
            f"Resize {inst.name} ({inst.type}: {inst.vcpus} vCPU, {inst.memory_mib} MiB)",
            "Resize", "New instance type", options,
            "The disks, ports and groups stay; the new vCPUs and memory from the next start."),
            done)

    def rebuild_instance(self, instance_id: str) -> None:
        from app.tui.screens.instance_pick import InstancePickScreen, Picked

        inst = self.find(instance_id)
        if inst is None or not self._stopped(inst, "rebuild"):
            return
        images = [i for i in self.cloud.images.list() if i.state.value == "available"]
        options = [(f"{i.name}  {i.format}{' (current)' if i.id == inst.image_id else ''}",
                    i.name) for i in images]
        system = next((d.name for d in inst.disks if d.role == "system"), "-")

        def done(picked: Picked | None) -> None:
            if picked is None:
                return
            fate = (f"kept as the detached disk {inst.name}-old-…" if picked.checked
                    else "deleted with everything on it")
            self.confirm(
                f"Rebuild {inst.name} from image {picked.value}? Its system disk {system} is"
                f" replaced by a fresh one; the old one is {fate}. Data disks, ports, groups,"
                " key pair and tags stay.",
                lambda: self.run_op("instance.rebuild", inst.name,
                                    self.cloud.instance_ops.rebuild, inst.id, picked.value,
                                    keep_old=picked.checked))

        self.push_screen(InstancePickScreen(
            f"Rebuild {inst.name} (image {inst.image_name})", "Rebuild", "Image", options,
            "A new system disk from the image (copy-on-write); data disks are untouched.",
            checkbox="Keep the old system disk (as a detached disk)"), done)

    def clone_instance(self, instance_id: str) -> None:
        from app.tui.screens.instance_name import InstanceNameScreen, NameAnswer

        inst = self.find(instance_id)
        if inst is None:
            return
        if inst.state not in (S.RUNNING, S.STOPPED):
            self.notify(f"{inst.name} is {inst.state.value}: clone needs it running or stopped",
                        severity="warning", title="clone")
            return

        def done(answer: NameAnswer | None) -> None:
            if answer is not None:
                self.run_op("instance.clone", inst.name, self.cloud.instance_ops.clone,
                            inst.id, answer.name, count=answer.count)

        how = ("a crash-consistent copy of its running disks" if inst.state is S.RUNNING
               else "copies of its disks")
        self.push_screen(InstanceNameScreen(
            f"Clone {inst.name}", "Clone", f"{inst.name}-clone",
            {i.name for i in self.instances},
            f"New stopped instance(s) with {how} (copy-on-write over the image), new ports,"
            " the same groups, key pair and tags.", count=True), done)

    def open_console_log(self, instance_id: str) -> None:
        from app.tui.screens.console_log import ConsoleLogScreen

        inst = self.find(instance_id)
        if inst is None:
            return
        try:
            log = self.cloud.instance_ops.console_log(inst.id, tail=2000)
        except LecsError as exc:
            self.notify(str(exc), severity="error", title="console output")
            return
        which = "current boot" if log.boot == "current" else "last boot"
        self.push_screen(ConsoleLogScreen(f"Console output of {inst.name} ({which})",
                                          log.text))
