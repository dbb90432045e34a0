#!/bin/bash
# sendmail_ns: run inside `unshare --mount --uts` (see sendmail_lib.sh): give the private Sendmail
# a fully qualified host name (with a short one it sleeps 60 s at start), files-only name
# resolution, a private /dev whose /dev/log is our syslog socket, and its SASL config over
# /usr/lib/sasl2 (the one place this Sendmail looks). Then exec the command, keeping the PID.
#   sendmail_ns.sh RUN_DIR COMMAND...
set -euo pipefail
run=$1
shift
. "$run/sm.env"
hostname "$SM_HOSTNAME"
mount --bind "$run/etc/hosts" /etc/hosts
mount --bind "$run/etc/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$run/etc/resolv.conf" /etc/resolv.conf
hostdev=$run/ns-hostdev
mkdir -p "$hostdev"
mount --bind /dev "$hostdev"
mount -t tmpfs -o mode=0755,size=1m private-dev /dev
for node in null zero full random urandom tty; do
    [ -e "$hostdev/$node" ] || continue
    : >"/dev/$node"
    mount --bind "$hostdev/$node" "/dev/$node"
done
umount -l "$hostdev"
ln -s /proc/self/fd /dev/fd
: >/dev/log
if [ -S "$run/log.sock" ]; then mount --bind "$run/log.sock" /dev/log; else rm -f /dev/log; fi
mount --bind "$run/sasl" /usr/lib/sasl2
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$SM_PREFIX/usr/lib/x86_64-linux-gnu" "$@"
