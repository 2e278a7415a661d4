#!/bin/sh
# busybox acpid runs /etc/acpi/PWRF/00000080 when the ACPI power button is pressed.
echo "lecs-init: power button, powering off" > /dev/console
sync
poweroff -f
