#!/bin/busybox sh
# /init (PID 1) of the lecs tiny guest; sample_data/build_guest.py fills in @MODULES@.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
say() { echo "lecs-init: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /var/log /var/run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp

say modules
for m in @MODULES@; do
    insmod "/lib/modules/$m.ko" 2>/dev/null || say "insmod $m failed"
done

name=lecs-guest
for arg in $(cat /proc/cmdline); do
    case "$arg" in lecs.hostname=?*) name="${arg#lecs.hostname=}" ;; esac
done
hostname "$name"
echo "127.0.0.1 localhost $name" > /etc/hosts

say network
ifconfig lo 127.0.0.1 up
if ifconfig eth0 up 2>/dev/null; then
    udhcpc -i eth0 -t 5 -T 1 -n -q -s /usr/share/udhcpc/default.script >/dev/null 2>&1 \
        || say "dhcp on eth0 failed"
else
    say "no eth0"
fi

say services
printf 'lecs tiny guest\nhostname: %s\n' "$name" > /www/index.html
httpd -p 80 -h /www
acpid

echo LECS-GUEST-READY
while true; do
    setsid cttyhack sh -l
    sleep 1
done
