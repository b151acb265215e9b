#!/bin/busybox sh
# /init of the test VM's initrd: load the modules that reach the root disk (virtio PCI and
# block, ext4; the list and order come from modprobe at image build time), mount /dev/vda and
# hand over to systemd.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r ko; do insmod "$ko"; done </modules
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "initrd: cannot mount /dev/vda" >/dev/console
  poweroff -f
fi
umount /proc /sys
umount -l /dev
exec switch_root /newroot /sbin/init
