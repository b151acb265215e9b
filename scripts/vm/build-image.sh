#!/usr/bin/env bash
# Builds the cgroup v2 + systemd test VM from Debian packages only: a bookworm root filesystem
# (debootstrap) with Debian's kernel, systemd as PID 1, the OCI runtimes, conmon, CNI plugins,
# docker-registry, AppArmor and this host's Node.js binary, packed into an ext4 image.
# The result is cached under $BERTH_VM_CACHE (default /var/cache/berth-vm) in a directory named
# by a hash of its inputs (this script, the package list, the kernel and Node versions), so a
# second run reuses it. Prints that directory (holding rootfs.img, vmlinuz, initrd.img).
set -euo pipefail
# The whole script is one function, parsed before it runs: editing the file during a build is safe.
main() {
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${BERTH_VM_CACHE:-/var/cache/berth-vm}"
MIRROR="${BERTH_VM_MIRROR:-http://deb.debian.org/debian}"
NODE_BIN="${BERTH_VM_NODE:-$(command -v node)}"
IMAGE_MB="${BERTH_VM_IMAGE_MB:-3072}"

PACKAGES=(systemd systemd-sysv udev dbus kmod procps iproute2 iptables util-linux e2fsprogs
  runc crun conmon containernetworking-plugins docker-registry busybox-static apparmor libstdc++6
  zstd openssl ca-certificates sudo)

log() { echo "vm-image: $*" >&2; }

# The kernel package the archive would install now (Debian's, as on any bookworm node): part of
# the key, so a kernel update rebuilds the image.
kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')"
if [ -z "$kernel_pkg" ]; then
  apt-get update -qq
  kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')"
fi
[ -n "$kernel_pkg" ] || { log "apt knows no linux-image-amd64"; exit 1; }
kernel_version="$kernel_pkg $(apt-cache policy "$kernel_pkg" | awk '/Candidate:/ {print $2}')"
node_version="$("$NODE_BIN" --version)"
key="$( { cat "$0" "$HERE/guest-boot.sh" "$HERE/initrd-init.sh"; echo "${PACKAGES[*]}" "$kernel_version" "$node_version" "$IMAGE_MB"; } | sha256sum | cut -c1-16)"
out="$CACHE/$key"
if [ -f "$out/ready" ]; then
  echo "$out"
  exit 0
fi

for tool in debootstrap mkfs.ext4; do
  command -v "$tool" >/dev/null || { log "$tool is missing (run.mjs installs it)"; exit 1; }
done
mkdir -p "$CACHE"
t0=$(date +%s)
# Stage 1, the debootstrapped root filesystem, is kept on its own (keyed by the package list):
# it is most of the build time, and a change to the later steps then reuses it.
base="$CACHE/base-$(echo "${PACKAGES[*]}" "$MIRROR" | sha256sum | cut -c1-16)"
if [ ! -f "$base/ready" ]; then
  rm -rf "$base"
  mkdir -p "$base"
  log "debootstrap bookworm (${#PACKAGES[@]} packages) into $base/rootfs"
  include="$(IFS=,; echo "${PACKAGES[*]}")"
  if ! debootstrap --variant=minbase --include="$include" bookworm "$base/rootfs" "$MIRROR" >"$base/debootstrap.log" 2>&1; then
    for m in proc sys dev/pts dev; do umount -l "$base/rootfs/$m" 2>/dev/null || true; done
    tail -30 "$base/debootstrap.log" >&2
    log "debootstrap failed (log: $base/debootstrap.log)"
    exit 1
  fi
  rm -rf "$base/rootfs/var/cache/apt/archives/"*.deb
  touch "$base/ready"
  log "debootstrap done in $(( $(date +%s) - t0 )) s"
fi
work="$(mktemp -d "$CACHE/build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -a "$base/rootfs" "$work/rootfs"
r="$work/rootfs"
echo berth-vm >"$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 berth-vm\n::1 localhost\n' >"$r/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$r/etc/fstab"
# The test's guest side: a one-shot unit (guest-boot.sh mounts the exchange share, unpacks the
# built tree the host packed there and runs its scripts/vm/guest-run.sh), then powers off.
install -m 0755 "$HERE/guest-boot.sh" "$r/usr/local/sbin/berth-vm-boot"
cat >"$r/etc/systemd/system/berth-vm-test.service" <<'UNIT'
[Unit]
Description=berth VM test run (the host shares the built tree over 9p)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/berth-vm-boot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/berth-vm-test.service "$r/etc/systemd/system/multi-user.target.wants/berth-vm-test.service"
# Quiet, quick boot: no login prompt on the console the test writes to, no registry on :5000
# (tests start their own), no periodic jobs.
for u in serial-getty@ttyS0.service getty@tty1.service docker-registry.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer logrotate.timer systemd-timesyncd.service; do
  ln -sf /dev/null "$r/etc/systemd/system/$u"
done
install -m 0755 "$NODE_BIN" "$r/usr/local/bin/node"

# The kernel: Debian's package unpacked into the root filesystem (no initramfs-tools: building
# its generic initrd inside the chroot took longer than everything else), its module index
# built in the chroot, and a small initrd of our own that loads just what mounts the root disk.
(cd "$work" && apt-get download -q "$kernel_pkg" >/dev/null 2>&1) || { log "apt-get download $kernel_pkg failed"; exit 1; }
# Not straight into the root: tar would replace its /lib -> usr/lib symlink with a directory.
dpkg-deb -x "$work"/"$kernel_pkg"_*.deb "$work/kernel"
mkdir -p "$r/lib/modules"
cp -a "$work/kernel/lib/modules/." "$r/lib/modules/"
cp -a "$work/kernel/boot/." "$r/boot/"
kver="${kernel_pkg#linux-image-}"
chroot "$r" /sbin/depmod "$kver"
mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev" "$work/initrd/newroot"
cp "$r/bin/busybox" "$work/initrd/bin/busybox"
install -m 0755 "$HERE/initrd-init.sh" "$work/initrd/init"
chroot "$r" /sbin/modprobe -S "$kver" --show-depends -a virtio_pci virtio_blk ext4 crc32c_generic | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' >"$work/initrd/modules"
while read -r ko; do mkdir -p "$work/initrd$(dirname "$ko")"; cp "$r$ko" "$work/initrd$ko"; done <"$work/initrd/modules"
(cd "$work/initrd" && find . | "$r/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.img")
cp "$r/boot/vmlinuz-$kver" "$work/vmlinuz"
rm -rf "$r/var/lib/apt/lists/"*
log "mkfs.ext4 ${IMAGE_MB} MiB image (kernel $kver, node $node_version)"
mkfs.ext4 -q -F -L berth-vm -d "$r" "$work/rootfs.img" "${IMAGE_MB}M"
mkdir -p "$out"
mv "$work/rootfs.img" "$work/vmlinuz" "$work/initrd.img" "$out/"
echo "kernel=$kver node=$node_version packages=${PACKAGES[*]}" >"$out/ready"
log "image ready in $(( $(date +%s) - t0 )) s: $out"
# Older images and bases of this builder are dead weight (builds in progress have no ready file).
for d in "$CACHE"/*/; do d="${d%/}"; [ "$d" != "$out" ] && [ "$d" != "$base" ] && [ -f "$d/ready" ] && rm -rf "$d"; done
echo "$out"
}
main "$@"
