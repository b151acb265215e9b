#!/usr/bin/env node
// npm run test:vm: berth's cgroup, sandbox, container, stats and recovery e2e tests on a real
// cgroup v2 + systemd node, a Debian 12 VM under qemu (TCG: KVM guests hang on this kind of
// host). Builds or reuses the cached image (build-image.sh), packs the built tree into an
// exchange directory shared over 9p, boots the VM; the guest (guest-run.sh) runs the tests once
// per cgroup driver and the systemd unit test, then powers off. Prints the guest's output, the
// timings and a closing line "test:vm: N passed, M failed"; exits non-zero on any failure.
// Env: BERTH_VM_DRIVERS ("systemd cgroupfs"), BERTH_VM_SET ("ci" or "full": which e2e files,
// see guest-run.sh), BERTH_VM_FILES (e2e file filters instead), BERTH_VM_CACHE (the image cache
// directory, /var/cache/berth-vm), BERTH_VM_APPEND (extra kernel arguments), CRITEST
// (a critest binary: run it in the VM against berth under systemd), BERTH_VM_MEM_MB (3072),
// BERTH_VM_TIMEOUT_MIN (60), BERTH_VM_KEEP=1 keeps the exchange directory.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const env = process.env;
const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(0)} s`;
const say = (s) => process.stdout.write(`test:vm: ${s}\n`);

function fail(msg) {
  say(msg);
  say('0 passed, 1 failed');
  process.exit(1);
}

if (process.getuid?.() !== 0) fail('run as root (debootstrap, chroot and mkfs build the image)');
if (!existsSync(path.join(ROOT, 'dist/e2e'))) fail('no dist/e2e: run npm run build first');
// The VM's tools, from Debian, installed here on first use (not by setup.sh: npm test needs none).
const missingTools = ['qemu-system-x86_64', 'debootstrap', 'mkfs.ext4'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missingTools.length) {
  say(`installing qemu-system-x86, debootstrap and e2fsprogs (missing: ${missingTools.join(', ')})`);
  const apt = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86 debootstrap e2fsprogs'], { stdio: 'inherit' });
  if (apt.status !== 0) fail('apt-get install qemu-system-x86 debootstrap e2fsprogs failed');
}

// 1. The image.
const tb = Date.now();
const built = spawnSync('bash', [path.join(HERE, 'build-image.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (built.status !== 0) fail('building the VM image failed');
const imageDir = built.stdout.trim().split('\n').pop();
const buildMs = Date.now() - tb;
say(`image ${imageDir} (${secs(buildMs)})`);

// 2. The exchange directory: the job for the guest, its log, its exit code.
const xdir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-'));
const job = {
  BERTH_VM_DRIVERS: env.BERTH_VM_DRIVERS ?? 'systemd cgroupfs',
  BERTH_VM_SET: env.BERTH_VM_SET ?? 'ci',
  BERTH_VM_FILES: env.BERTH_VM_FILES ?? '',
  BERTH_VM_CRITEST: '',
  BERTH_VM_CRITEST_FOCUS: env.CRITEST_FOCUS ?? '',
  BERTH_VM_UNIT: env.BERTH_VM_UNIT ?? '1',
  BERTH_VM_MEASURE: env.BERTH_VM_MEASURE ?? '',
};
if (env.CRITEST) {
  // critest's images: the conformance harness's registry storage (/work/shared/conformance:
  // registry.sh start && images.sh), served in the VM on 127.0.0.1:5000 as the harness does.
  const registry = env.BERTH_VM_CRITEST_REGISTRY ?? '/var/lib/harness-registry';
  if (!existsSync(env.CRITEST)) fail(`CRITEST=${env.CRITEST} does not exist`);
  if (!existsSync(path.join(registry, 'docker'))) fail(`no critest images in ${registry} (run the conformance harness's images.sh, or set BERTH_VM_CRITEST_REGISTRY)`);
  copyFileSync(env.CRITEST, path.join(xdir, 'critest.bin'));
  if (spawnSync('cp', ['-a', registry, path.join(xdir, 'registry')]).status !== 0) fail(`copying ${registry} failed`);
  job.BERTH_VM_CRITEST = '/mnt/out/critest.bin';
}
// The built tree as an ext4 disk of its own, made now (the guest mounts it at /opt/berth; run
// with snapshot=on, its writes stay in the VM): Node reads thousands of small files at start-up,
// slow over 9p under TCG, and unpacking a tar in the guest took 20-65 s. Edits of the checkout
// during a run do not reach the VM. Build inputs (TypeScript, sqlite's sources, koffi for other
// platforms) stay behind.
const koffiOther = (() => {
  try {
    return readdirSync(path.join(ROOT, 'node_modules/koffi/build/koffi')).filter((d) => d !== 'linux_x64').map((d) => `node_modules/koffi/build/koffi/${d}`);
  } catch {
    return [];
  }
})();
const excludes = ['node_modules/typescript', 'node_modules/better-sqlite3/deps', 'node_modules/better-sqlite3/src', ...koffiOther].map((e) => `--exclude=${e}`);
const treeDir = path.join(xdir, 'tree');
mkdirSync(treeDir);
const treeTar = path.join(xdir, 'tree.tar');
const packed = spawnSync('tar', ['-C', ROOT, '-cf', treeTar, ...excludes, 'package.json', 'bin', 'dist', 'native/build', 'node_modules', 'proto', 'deploy', 'scripts', 'pkg'], { stdio: 'inherit' });
if (packed.status !== 0 || spawnSync('tar', ['-C', treeDir, '-xf', treeTar], { stdio: 'inherit' }).status !== 0) fail('packing the built tree failed');
rmSync(treeTar);
const treeMb = Math.ceil(Number(spawnSync('du', ['-sm', treeDir], { encoding: 'utf8' }).stdout.split('\t')[0]) * 1.3) + 64;
if (spawnSync('mkfs.ext4', ['-q', '-F', '-L', 'berth-tree', '-d', treeDir, path.join(xdir, 'tree.img'), `${treeMb}M`], { stdio: ['ignore', 'ignore', 'inherit'] }).status !== 0) fail('mkfs.ext4 of the built tree failed');
rmSync(treeDir, { recursive: true, force: true });
writeFileSync(path.join(xdir, 'job.env'), Object.entries(job).map(([k, v]) => `${k}='${v.replace(/'/g, '')}'`).join('\n') + '\n');

// 3. Boot.
const qemuArgs = [
  '-accel', 'tcg', '-m', env.BERTH_VM_MEM_MB ?? '3072', '-smp', '2', '-nodefaults', '-no-reboot', '-display', 'none',
  '-kernel', path.join(imageDir, 'vmlinuz'), '-initrd', path.join(imageDir, 'initrd.img'),
  // TCG offers no kvm-clock and the kernel distrusts the emulated TSC, falling back to HPET: every
  // clock read became a trapped MMIO access (node -e 0 took 3.5-3.8 s, 1.4 s on the TSC). The
  // guest runs nothing but the tests, so the speculation mitigations (page-table switches on
  // every syscall, costly under TCG) are off too.
  '-append', `console=ttyS0 panic=-1 quiet systemd.show_status=0 clocksource=tsc tsc=reliable mitigations=off ${env.BERTH_VM_APPEND ?? ''}`.trim(),
  '-drive', `file=${path.join(imageDir, 'rootfs.img')},if=virtio,format=raw,snapshot=on`,
  '-drive', `file=${path.join(xdir, 'tree.img')},if=virtio,format=raw,snapshot=on`,
  '-virtfs', `local,path=${xdir},mount_tag=out,security_model=none`,
  '-serial', `file:${path.join(xdir, 'console.log')}`, '-monitor', 'none', '-nic', 'none',
];
const tq = Date.now();
const qemu = spawn('qemu-system-x86_64', qemuArgs, { stdio: ['ignore', 'inherit', 'inherit'] });
say(`qemu pid ${qemu.pid}: 2 vCPUs (TCG), ${env.BERTH_VM_MEM_MB ?? 3072} MiB`);
let bootMs;
const stopQemu = () => {
  if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopQemu(); process.exit(130); });
const timeoutMin = Number(env.BERTH_VM_TIMEOUT_MIN ?? 60);
const timer = setTimeout(() => {
  say(`the VM did not finish within ${timeoutMin} min; killing it`);
  stopQemu();
}, timeoutMin * 60_000);

// 4. Follow the guest's log as it grows (a 9p share: the host sees the writes).
const logFile = path.join(xdir, 'guest.log');
let offset = 0;
let carry = '';
let passed = 0;
let failed = 0;
function follow() {
  if (!existsSync(logFile)) return;
  bootMs ??= Date.now() - tq;
  const size = statSync(logFile).size;
  if (size <= offset) return;
  const fd = openSync(logFile, 'r');
  const buf = Buffer.alloc(size - offset);
  readSync(fd, buf, 0, buf.length, offset);
  closeSync(fd);
  offset = size;
  const text = carry + buf.toString();
  const lines = text.split('\n');
  carry = lines.pop() ?? '';
  for (const l of lines) {
    process.stdout.write(`vm| ${l}\n`);
    const m = /^berth-vm: result (\S+) passed=(\d+) failed=(\d+)/.exec(l);
    if (m) {
      passed += Number(m[2]);
      failed += Number(m[3]);
    }
  }
}
const poll = setInterval(follow, 500);
const code = await new Promise((resolve) => qemu.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
clearInterval(poll);
clearTimeout(timer);
follow();
if (carry) process.stdout.write(`vm| ${carry}\n`);
const totalMs = Date.now() - tq;
const rcFile = path.join(xdir, 'rc');
const guestRc = existsSync(rcFile) ? Number(readFileSync(rcFile, 'utf8').trim()) : undefined;
if (guestRc === undefined) {
  say(`the guest left no exit code (qemu exit ${code}); its console:`);
  const con = existsSync(path.join(xdir, 'console.log')) ? readFileSync(path.join(xdir, 'console.log'), 'utf8') : '';
  process.stdout.write(con.split('\n').slice(-60).map((l) => `console| ${l}`).join('\n') + '\n');
  failed += 1;
} else if (guestRc !== 0 && failed === 0) {
  failed += 1;
  say(`the guest script exited ${guestRc}`);
}
if (env.BERTH_VM_KEEP) say(`exchange directory kept: ${xdir}`);
else rmSync(xdir, { recursive: true, force: true });
say(`timings: image ${secs(buildMs)}, boot to tests ${bootMs === undefined ? '-' : secs(bootMs)}, VM total ${secs(totalMs)}, all ${secs(Date.now() - t0)}`);
say(`${passed} passed, ${failed} failed`);
process.exit(failed || code !== 0 ? 1 : 0);
