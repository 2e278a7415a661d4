"""Instance actions of the App (a mixin): create, details, console, tags, power, ssh; and the
confirmation every destructive action asks first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App

from app.tui.actions.instance_ops import InstanceOpsActions
from app.tui.widgets.guard import Guarded
from backend import Cloud
from backend.compute.records import Instance
from backend.inventory.errors import LecsError
from backend.inventory.records import InstanceState


class InstanceActions(InstanceOpsActions, Guarded, App[None]):
    """Screens and confirmations; LecsApp supplies the inventory and `run_op`."""

    cloud: Cloud
    instances: list[Instance]

    if TYPE_CHECKING:
        def run_op(self, action: str, resource: str, call: Callable[..., Any], *args: Any,
                   progress: bool = False, **kwargs: Any) -> Any: ...

        def action_show_pane(self, name: str) -> None: ...

    def confirm(self, question: str, then: Callable[[], None]) -> None:
        from app.tui.screens.confirm import ConfirmScreen

        def done(yes: bool | None) -> None:
            if yes:
                then()

        self.push_screen(ConfirmScreen(question), done)

    def find(self, instance_id: str) -> Instance | None:
        return next((i for i in self.instances if i.id == instance_id), None)

    def open_create_instance(self) -> None:
        from app.tui.screens.create_instance import CreateInstanceScreen, CreateSpec

        def done(spec: CreateSpec | None) -> None:
            if spec is not None:
                self.run_op("instance.create", spec.name, self.cloud.instances.create,
                            spec.name, spec.image, spec.itype, tags=spec.tags,
                            sgs=spec.sgs or None, keypair=spec.keypair, hostname=spec.hostname,
                            user_data=spec.user_data, start=spec.start)

        screen = CreateInstanceScreen(self.cloud.images.list(), self.cloud.types.list(),
                                      {i.name for i in self.instances}, self.cloud.sgs.list(),
                                      [k.name for k in self.cloud.keypairs.list()])
        self.push_screen(screen, done)

    def open_detail(self, instance_id: str) -> None:
        from app.tui.screens.instance_detail import InstanceDetailScreen

        self.push_screen(InstanceDetailScreen(instance_id))

    def open_console(self, instance_id: str) -> None:
        from app.tui.screens.console import ConsoleScreen

        inst = self.find(instance_id)
        if inst is None:
            return
        if inst.state not in (InstanceState.RUNNING, InstanceState.STARTING,
                              InstanceState.REBOOTING):
            self.notify(f"{inst.name} is {inst.state.value}: the console needs it running",
                        severity="warning", title="console")
            return
        self.push_screen(ConsoleScreen(inst))

    def open_tags(self, instance_id: str) -> None:
        from app.tui.screens.tags import TagsScreen

        inst = self.find(instance_id)
        if inst is None:
            return

        def done(tags: dict[str, str] | None) -> None:
            if tags is None or inst is None:
                return
            remove = [k for k in inst.tags if k not in tags]
            add = {k: v for k, v in tags.items() if inst.tags.get(k) != v}
            self.run_op("instance.tag", inst.name, self.cloud.instances.tag, inst.id, add, remove)

        self.push_screen(TagsScreen(inst.name, inst.tags), done)

    def instance_op(self, op: str, instance_id: str) -> None:
        from app.tui.panes.instances import InstancesPane

        self.query_one(InstancesPane).run_on(op, instance_id)

    def ssh_to(self, instance_id: str) -> None:
        """Suspend the dashboard for an ssh session to the instance; a notice says why, when
        ssh cannot start or ends badly (no key pair, not running, no port 22, ssh's status)."""
        from backend.compute.console import ssh_argv, ssh_outcome, ssh_session

        inst = self.find(instance_id)
        if inst is None:
            return
        try:
            if not inst.key_pair and inst.state is InstanceState.RUNNING:
                raise LecsError(f"instance {inst.name!r} has no key pair: its guest authorizes"
                                " no key (create it with one, e.g. --keypair)")
            # the key pair's private key, as `lecs instance ssh` uses it
            key = self.cloud.keypairs.get(inst.key_pair).private_key_path if inst.key_pair else ""
            argv = ssh_argv(inst, inst.login_user, key or None)
        except LecsError as exc:
            self.notify(str(exc), severity="error", title="ssh")
            return
        try:
            with self.suspend():
                status, said = ssh_session(argv)
        except Exception as exc:  # SuspendNotSupported in a browser or a headless run
            self.notify(f"cannot suspend to run ssh here: {exc}", severity="error", title="ssh")
            return
        if message := ssh_outcome(inst.name, status, said):
            if status == 255 and not key:
                message += f" (key pair {inst.key_pair!r} has no private key known to lecs)"
            self.notify(message, severity="error", title="ssh", timeout=15)
