"""The local QEMU driver: argv, process lifecycle and QMP."""
