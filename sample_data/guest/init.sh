#!/bin/busybox sh
# /init (PID 1) of the lecs tiny guest; sample_data/build_guest.py fills in @MODULES@. It runs
# in busybox-static's shell; /bin/sh is the dynamic busybox's (see build_guest.py).
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
# the seed CD-ROM's drivers only when lecs attached its controller (virtio-scsi, 1af4:1004/1048)
scsi=""
grep -qsiE '^PCI_ID=1AF4:10(04|48)$' /sys/bus/pci/devices/*/uevent && scsi=1
for m in @MODULES@; do
    case "$m" in scsi_common|scsi_mod|virtio_scsi|sr_mod) [ -n "$scsi" ] || continue ;; esac
    insmod "/lib/modules/$m.ko" 2>/dev/null || say "insmod $m failed"
done

name=lecs-guest
for arg in $(cat /proc/cmdline); do
    case "$arg" in lecs.hostname=?*) name="${arg#lecs.hostname=}" ;; esac
done

# NoCloud seed (volume label cidata): hostname, SSH keys, user-data. lecs attaches it as a
# CD-ROM (sr0, on virtio-scsi); a vdX is looked at too.
seed=""
for dev in /dev/sr? /dev/vd?; do  # the ISO 9660 volume label sits at byte 32808
    [ -b "$dev" ] || continue
    label=$(dd if="$dev" bs=1 skip=32808 count=6 2>/dev/null)
    case "$label" in cidata|CIDATA) seed="$dev"; break ;; esac
done
userdata=""
if [ -n "$seed" ] && mkdir -p /mnt/cidata && mount -t iso9660 -o ro "$seed" /mnt/cidata; then
    md=/mnt/cidata/meta-data
    # meta-data's values are JSON-quoted (backend/network/cloudinit.py): strip the quotes
    found=$(sed -n 's/^local-hostname:[[:space:]]*"\([^"]*\)"$/\1/p' "$md" 2>/dev/null | head -n 1)
    [ -n "$found" ] && name="$found"
    mkdir -p /root/.ssh && chmod 700 /root/.ssh
    sed -n 's/^[[:space:]]*-[[:space:]]*"\(.* .*\)"$/\1/p' "$md" | sed 's/\\"/"/g; s/\\\\/\\/g' \
        > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
    say "cidata on $seed: hostname $name, $(grep -c . /root/.ssh/authorized_keys) ssh key(s)"
    # a #! script runs once per instance: lecs leaves it out of the seed once this boot has
    # reported it (user-data: running); #cloud-boothook runs at every boot, as cloud-init's
    case "$(head -n 1 /mnt/cidata/user-data 2>/dev/null)" in
        '#!'*) cp /mnt/cidata/user-data /tmp/user-data && userdata=once ;;
        '#cloud-boothook'*) sed 1d /mnt/cidata/user-data > /tmp/user-data && userdata=boot ;;
        *) [ -s /mnt/cidata/user-data ] \
               && say "user-data is not a #! script; the tiny guest only runs scripts" ;;
    esac
    [ -n "$userdata" ] && chmod 700 /tmp/user-data
    umount /mnt/cidata  # leaves the CD-ROM unlocked: lecs can change the medium
fi
hostname "$name"
echo "127.0.0.1 localhost $name" > /etc/hosts

say network
ifconfig lo 127.0.0.1 up
# eth0: the forwards (slirp, or a bridge); eth1, if there: user mode's egress (passt). The
# one configured last sets the default route, so egress leaves through eth1.
for nic in eth0 eth1; do
    if ifconfig "$nic" up 2>/dev/null; then
        udhcpc -i "$nic" -t 5 -T 1 -n -q -s /usr/share/udhcpc/default.script >/dev/null 2>&1 \
            || say "dhcp on $nic failed"
    elif [ "$nic" = eth0 ]; then
        say "no eth0"
    fi
done

say services
printf 'lecs tiny guest\nhostname: %s\n' "$name" > /www/index.html
httpd -p 80 -h /www
acpid
# SSH: dropbear on port 22, keys only (/root/.ssh/authorized_keys, from the seed); its host
# key is made at each boot (nothing persists), its fingerprint shown here as cloud-init does
hostkey=/etc/dropbear/dropbear_ed25519_host_key
if made=$(dropbearkey -t ed25519 -f "$hostkey" 2>/dev/null); then  # one run: it says the print
    say "ssh host key: $(echo "$made" | sed -n 's/^Fingerprint: //p')"
else
    say "ssh host key generation failed"
fi

if [ -n "$userdata" ]; then
    say "user-data ($userdata): running"
    if [ "$userdata" = once ]; then
        timeout 60 /tmp/user-data </dev/null
    else  # a boothook's body may lack a #! line
        timeout 60 /bin/sh /tmp/user-data </dev/null
    fi
    say "user-data: exit status $?"
fi

# after the user-data: lecs counts an SSH banner as ready, as it counts the marker below
[ -s "$hostkey" ] && { dropbear -r "$hostkey" -p 22 -s -P /var/run/dropbear.pid \
    || say "dropbear failed"; }
echo LECS-GUEST-READY
while true; do
    setsid cttyhack /bin/sh -l  # the path: busybox's applets would run their own sh
    sleep 1
done
