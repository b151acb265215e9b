#!/bin/sh
# In the test VM (guest-run.sh, when the host gave CRITEST): critest against berth running as
# the systemd service (driver auto = systemd here). The test images come from a registry the
# host copied in (the conformance harness's storage, served on 127.0.0.1:5000 as its mirrors
# expect); the pod network is the harness's bridge (cni0, 10.88.0.0/16).
# Usage: guest-critest.sh CRITEST [FOCUS]. Prints "berth-vm: result critest passed=N failed=M".
CRITEST="$1"
FOCUS="${2:-}"
OUT=/mnt/out/critest
mkdir -p "$OUT" /etc/berth /etc/berth/net.d /run/critest-registry
cat >/run/critest-registry/config.yml <<CONF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /mnt/out/registry
  redirect:
    disable: true
http:
  addr: 127.0.0.1:5000
CONF
docker-registry serve /run/critest-registry/config.yml >/tmp/registry.log 2>&1 &
reg=$!
cat >/etc/berth/net.d/10-critest.conflist <<'NET'
{"cniVersion": "1.0.0", "name": "critest", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
NET
cat >/etc/berth/berth.toml <<'CONF'
[registry]
insecure = ["127.0.0.1:5000"]
[registry.mirrors]
"registry.k8s.io" = ["http://127.0.0.1:5000"]
"k8s.gcr.io" = ["http://127.0.0.1:5000"]
"gcr.io" = ["http://127.0.0.1:5000"]
"docker.io" = ["http://127.0.0.1:5000"]
[cni]
conf_dir = "/etc/berth/net.d"
bin_dirs = ["/usr/lib/cni"]
CONF
systemctl start berth
echo "berth-vm: berth $(systemctl show -p ActiveState --value berth) under systemd: $(journalctl -u berth -o cat | grep -m1 '"msg":"cgroups"')"
set -- --runtime-endpoint unix:///run/berth/berth.sock --image-endpoint unix:///run/berth/berth.sock \
  --ginkgo.no-color --ginkgo.timeout=180m --ginkgo.junit-report="$OUT/junit.xml"
[ -n "$FOCUS" ] && set -- "$@" --ginkgo.focus="$FOCUS"
(cd "$OUT" && "$CRITEST" "$@") >"$OUT/critest.log" 2>&1
rc=$?
tail -n 40 "$OUT/critest.log"
# ginkgo's summary: "FAIL! -- 107 Passed | 1 Failed | 0 Pending | 14 Skipped" (or "SUCCESS! -- …").
sum=$(grep -E '[0-9]+ Passed \| [0-9]+ Failed' "$OUT/critest.log" | tail -1)
passed=$(echo "$sum" | sed -n 's/.* \([0-9]*\) Passed.*/\1/p')
failed=$(echo "$sum" | sed -n 's/.* \([0-9]*\) Failed.*/\1/p')
skipped=$(echo "$sum" | sed -n 's/.* \([0-9]*\) Skipped.*/\1/p')
grep -E '^\s*\[FAIL\]' "$OUT/critest.log" | sort -u | sed 's/^/berth-vm: critest failed: /'
echo "berth-vm: critest: ${passed:-0} passed, ${failed:-?} failed, ${skipped:-?} skipped (exit $rc)"
echo "berth-vm: result critest passed=${passed:-0} failed=${failed:-1}"
systemctl stop berth
kill "$reg" 2>/dev/null
[ "${failed:-1}" = 0 ]
