"""Compute (ECS instances): instances and their records, reads and reconcile, the state machine,
the instance-type catalogue, the QMP event watcher, readiness, console."""
