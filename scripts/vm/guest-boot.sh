#!/bin/sh
# Baked into the test VM image (as /usr/local/sbin/berth-vm-boot, run once at boot by
# berth-vm-test.service): mounts the host's exchange directory ("out", 9p) and the built tree
# the host made into a second disk (/dev/vdb) at /opt/berth, runs its scripts/vm/guest-run.sh
# with the output in out/guest.log (the host follows that file) and the exit code in out/rc,
# then powers the VM off. Kept tiny: everything that changes with berth comes on that disk,
# made when the run started, so later edits of the checkout cannot reach a run in progress.
mkdir -p /mnt/out /opt/berth
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 out /mnt/out; then
  echo "berth-vm: cannot mount the 9p share" >/dev/console
elif ! mount -t ext4 /dev/vdb /opt/berth; then
  echo "berth-vm: cannot mount the built tree (/dev/vdb)" >/mnt/out/guest.log
  echo 1 >/mnt/out/rc
else
  sh /opt/berth/scripts/vm/guest-run.sh >/mnt/out/guest.log 2>&1
  echo $? >/mnt/out/rc
fi
sync
systemctl poweroff --no-block
