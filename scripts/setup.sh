#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root) to a running berth:
#   Debian packages (OCI runtimes, conmon, CNI plugins, registry and image tools, C toolchain),
#   npm dependencies, the TypeScript build and native helpers, node preparation (cgroup
#   hierarchy crun needs, default config and CNI network), then the daemon itself.
# Flags: --no-start (CI: set up and build only), --stop (stop a daemon this script started).
set -euo pipefail
cd "$(dirname "$0")/.."

START=1
for a in "$@"; do
  case "$a" in
    --no-start) START=0 ;;
    --stop)
      if [ -f /run/berth/berth.pid ]; then kill -TERM "$(cat /run/berth/berth.pid)" 2>/dev/null || true; rm -f /run/berth/berth.pid; fi
      exit 0 ;;
    *) echo "usage: $0 [--no-start|--stop]" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "setup: run as root (berth manages namespaces, mounts and cgroups)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null \
  || { echo "setup: berth needs Node.js >= 20 on PATH" >&2; exit 1; }

PACKAGES=(runc crun conmon containernetworking-plugins iproute2 iptables util-linux
  docker-registry skopeo umoci busybox-static apache2-utils zstd openssl gcc make libc6-dev chromium zsh)
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# docker-registry's package starts a registry on :5000; berth's tests start their own.
if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then systemctl disable --now -q docker-registry || true; fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build

bash scripts/node-prep.sh

if [ "$START" = 1 ]; then
  mkdir -p /etc/berth /run/berth /var/log/berth
  [ -f /etc/berth/berth.toml ] || cp deploy/berth.toml /etc/berth/berth.toml
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    sed "s#@BERTH_DIR@#$PWD#g" deploy/berth.service >/etc/systemd/system/berth.service
    systemctl daemon-reload && systemctl enable --now berth
    echo "setup: berth started by systemd (journalctl -u berth)"
  else
    if [ -f /run/berth/berth.pid ] && kill -0 "$(cat /run/berth/berth.pid)" 2>/dev/null; then
      echo "setup: berth already running (pid $(cat /run/berth/berth.pid))"
    else
      setsid ./bin/berth daemon </dev/null >>/var/log/berth/berth.log 2>&1 &
      echo $! >/run/berth/berth.pid
      for _ in $(seq 1 100); do [ -S /run/berth/berth.sock ] && break; sleep 0.1; done
      [ -S /run/berth/berth.sock ] || { echo "setup: berth did not start; see /var/log/berth/berth.log" >&2; exit 1; }
      echo "setup: berth running (pid $(cat /run/berth/berth.pid)), socket /run/berth/berth.sock, log /var/log/berth/berth.log"
    fi
  fi
fi
