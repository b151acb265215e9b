#!/bin/sh
# Runs inside the test VM as root, systemd as PID 1 (started at boot by the image's
# berth-vm-test.service via berth-vm-boot, from the built tree the host made into a disk,
# mounted at /opt/berth; its output goes to the host, which follows it). Runs the e2e files
# under each cgroup driver, the systemd unit test, and critest when the host gave one.
# BERTH_VM_SET picks the e2e files: "ci" (default; what .ci/run can afford under TCG) runs
# e2e/cgroups and the container lifecycles under systemd, the default on such nodes, and
# e2e/cgroups under cgroupfs; "full" adds sandboxes, recovery and stats under systemd and the
# container lifecycles under cgroupfs. BERTH_VM_FILES, when set, replaces both lists.
# Each part ends with a line
#   berth-vm: result NAME passed=N failed=M
# that the host adds up. The exit code is non-zero when anything failed.
set -u
. /mnt/out/job.env
B=/opt/berth
if [ "${BERTH_VM_SET:-ci}" = full ]; then
  FILES_SYSTEMD="e2e/cgroups e2e/sandbox.test e2e/container.test e2e/container-recovery e2e/stats-containers"
  FILES_CGROUPFS="e2e/cgroups e2e/container.test"
else
  FILES_SYSTEMD="e2e/cgroups e2e/container.test"
  FILES_CGROUPFS="e2e/cgroups"
fi
if [ -n "${BERTH_VM_FILES:-}" ]; then FILES_SYSTEMD=$BERTH_VM_FILES; FILES_CGROUPFS=$BERTH_VM_FILES; fi
rc=0
now() { date +%s; }

echo "berth-vm: cgroup filesystem $(stat -fc %T /sys/fs/cgroup), PID 1 $(cat /proc/1/comm), kernel $(uname -r), node $(node --version)"
echo "berth-vm: cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "berth-vm: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), kernel args: $(cat /proc/cmdline)"
echo "berth-vm: AppArmor enabled: $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo no), boot took $(cut -d' ' -f1 /proc/uptime) s"

cd "$B" || exit 1
sysctl -qw net.ipv4.ip_forward=1
# Software emulation is some ten times slower than the host: stretch the tests' hang bounds.
export BERTH_E2E_TIME_SCALE="${BERTH_E2E_TIME_SCALE:-10}"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t=$(ms); node -e 0; t1=$(ms); node bin/berth version >/dev/null; t2=$(ms)
echo "berth-vm: node -e 0 took $((t1 - t)) ms, berth version $((t2 - t1)) ms"
if [ -n "${BERTH_VM_MEASURE:-}" ]; then
  for flags in --jitless --no-opt "--no-opt --no-sparkplug" --max-lazy; do
    t=$(now); node $flags bin/berth version >/dev/null 2>&1; echo "berth-vm: node $flags: berth version $(( $(now) - t )) s"
  done
fi
# What the VM is doing, every 30 s, for a run that seems stuck (the host keeps it with BERTH_VM_KEEP).
( while :; do { date; ps -eo pid,ppid,etime,time,args --forest; systemctl list-units --all --plain --no-legend 'berth*'; } >/mnt/out/ps.log 2>&1; sleep 30; done ) &

# count NAME LOG: the node test runner's totals as a result line.
count() {
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$2" | tail -1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$2" | tail -1)
  [ -n "$p" ] || { p=0; f=1; }
  echo "berth-vm: result $1 passed=$p failed=${f:-0}"
  [ "${f:-0}" = 0 ] || rc=1
}

for drv in $BERTH_VM_DRIVERS; do
  t=$(now)
  if [ "$drv" = systemd ]; then FILES=$FILES_SYSTEMD; else FILES=$FILES_CGROUPFS; fi
  echo "berth-vm: === e2e, cgroup driver $drv: $FILES ==="
  # shellcheck disable=SC2086
  BERTH_E2E_CGROUP_DRIVER="$drv" node scripts/run-tests.mjs $FILES 2>&1 | tee "/tmp/e2e-$drv.log"
  count "e2e-$drv" "/tmp/e2e-$drv.log"
  echo "berth-vm: e2e with $drv took $(( $(now) - t )) s"
  leftover=$(systemctl list-units --all --plain --no-legend 'berth-*' | awk '{print $1}' | tr '\n' ' ')
  [ -z "$leftover" ] || echo "berth-vm: units left after the $drv run: $leftover"
done

# deploy/berth.service as an operator installs it (setup.sh's substitution): the unit test's
# daemon, and critest's.
sed "s#@BERTH_DIR@#$B#g" deploy/berth.service >/etc/systemd/system/berth.service
systemctl daemon-reload
if [ "${BERTH_VM_UNIT:-1}" = 1 ]; then
  t=$(now)
  echo "berth-vm: === systemd unit (deploy/berth.service) ==="
  BERTH_E2E_SYSTEMD_UNIT=berth.service node scripts/run-tests.mjs e2e/node-systemd 2>&1 | tee /tmp/e2e-unit.log
  count systemd-unit /tmp/e2e-unit.log
  if grep -q '^ℹ fail [1-9]' /tmp/e2e-unit.log; then
    echo "berth-vm: the unit's journal (last 150 lines):"
    journalctl -u berth -o cat --no-pager | tail -n 150
  fi
  echo "berth-vm: unit test took $(( $(now) - t )) s"
fi

if [ -n "${BERTH_VM_CRITEST:-}" ]; then
  t=$(now)
  echo "berth-vm: === critest against berth (systemd driver) ==="
  sh scripts/vm/guest-critest.sh "$BERTH_VM_CRITEST" "${BERTH_VM_CRITEST_FOCUS:-}"
  [ $? = 0 ] || rc=1
  echo "berth-vm: critest took $(( $(now) - t )) s"
fi
exit $rc
