"""Host drivers: the `Driver` seam (protocol.py) and the local QEMU driver (qemu/). A libvirt
driver for remote zones goes beside qemu/."""
