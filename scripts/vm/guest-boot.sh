#!/bin/sh
# Baked into the test VM image (as /usr/local/sbin/berth-vm-boot, run once at boot by
# berth-vm-test.service): mounts the host's exchange directory ("out", 9p), unpacks the built
# tree the host packed there (tree.tar) to /opt/berth, runs its scripts/vm/guest-run.sh with the
# output in out/guest.log (the host follows that file) and the exit code in out/rc, then powers
# the VM off. Kept tiny: everything that changes with berth comes in tree.tar, packed when the
# run started, so later edits of the checkout cannot reach a run in progress.
mkdir -p /mnt/out /opt/berth
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 out /mnt/out; then
  t=$(date +%s)
  tar -C /opt/berth -xf /mnt/out/tree.tar
  echo "berth-vm: unpacked the built tree to /opt/berth in $(( $(date +%s) - t )) s" >/mnt/out/guest.log
  sh /opt/berth/scripts/vm/guest-run.sh >>/mnt/out/guest.log 2>&1
  echo $? >/mnt/out/rc
else
  echo "berth-vm: cannot mount the 9p share" >/dev/console
fi
sync
systemctl poweroff --no-block
