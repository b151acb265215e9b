#!/usr/bin/env bash
# Prepares this node for containers: idempotent, safe to run at every boot.
set -euo pipefail
cd "$(dirname "$0")/.."

# crun refuses a hybrid cgroup layout where a controller (here hugetlb) is left on the v2
# hierarchy; mounting it as a v1 hierarchy resolves that. berth's Status reports it otherwise.
if [ -d /sys/fs/cgroup ] && [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers && ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mounts; then
    mkdir -p /sys/fs/cgroup/hugetlb 2>/dev/null || mount -o remount,rw /sys/fs/cgroup
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb && echo "node-prep: mounted the hugetlb cgroup v1 hierarchy (for crun)"
  fi
fi

# Pod traffic through the bridge needs forwarding.
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || sysctl -qw net.ipv4.ip_forward=1

# A default pod network when the operator has none.
mkdir -p /etc/cni/net.d
if [ -z "$(ls -A /etc/cni/net.d 2>/dev/null)" ] && [ -f deploy/10-berth-bridge.conflist ]; then
  cp deploy/10-berth-bridge.conflist /etc/cni/net.d/
  echo "node-prep: installed the default CNI network /etc/cni/net.d/10-berth-bridge.conflist"
fi
