import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors/errors.js';
import { parseQuantity, sysctlNamespace, sysctlProbePath, validateRequest, type SandboxRequest } from './request.js';

const handlers = { runc: {}, crun: {} };
const base = (over: Partial<SandboxRequest> = {}): SandboxRequest => ({
  name: 'p', namespace: 'ns', uid: 'u', attempt: 0, hostname: 'p', logDirectory: '', portMappings: [], labels: {}, annotations: {},
  cgroupParent: '', sysctls: {}, namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
  linux: { privileged: false, supplementalGroups: [], readonlyRootfs: false }, runtimeHandler: '', ...over,
});

const refuses = async (req: SandboxRequest, re: RegExp) =>
  assert.rejects(validateRequest(req, handlers, 'runc'), (e: Error) => e instanceof InvalidArgumentError && re.test(e.message));

test('a valid request resolves the handler (default when empty)', async () => {
  assert.equal(await validateRequest(base(), handlers, 'runc'), 'runc');
  assert.equal(await validateRequest(base({ runtimeHandler: 'crun' }), handlers, 'runc'), 'crun');
  assert.equal(await validateRequest(base({ sysctls: { 'net.ipv4.conf.eth0.forwarding': '1', 'kernel.shmmax': '1000' } }), handlers, 'runc'), 'runc');
});

test('refuses missing metadata, unknown handler, TARGET modes, bad hostname, dns, ports, log dir', async () => {
  await refuses(base({ name: '' }), /metadata\.name is required/);
  await refuses(base({ namespace: '' }), /namespace is required/);
  await refuses(base({ uid: '' }), /uid is required/);
  await refuses(base({ runtimeHandler: 'kata' }), /unknown runtime handler "kata".*runc, crun/);
  await refuses(base({ namespaces: { network: 'TARGET', pid: 'CONTAINER', ipc: 'POD' } }), /TARGET/);
  await refuses(base({ hostname: 'a_b' }), /invalid hostname/);
  await refuses(base({ hostname: 'x'.repeat(65) }), /invalid hostname/);
  await refuses(base({ logDirectory: 'relative/dir' }), /absolute/);
  await refuses(base({ dns: { servers: ['dns.example'], searches: [], options: [] } }), /not an IP/);
  await refuses(base({ portMappings: [{ protocol: 'TCP', containerPort: 70000, hostPort: 1, hostIp: '' }] }), /container_port/);
  await refuses(base({ portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort: -1, hostIp: '' }] }), /host_port/);
  await refuses(base({ annotations: { 'kubernetes.io/ingress-bandwidth': 'lots' } }), /not a quantity/);
});

test('names, paths and label sizes taken as given are refused, naming the field', async () => {
  await refuses(base({ name: 'web\n10.0.0.66 kubernetes.default' }), /^config\.metadata\.name "web\\n10\.0\.0\.66 kubernetes\.default" contains "\\n"/);
  await refuses(base({ name: 'a;K8S_POD_NAMESPACE=kube-system' }), /config\.metadata\.name .* contains ";"/);
  await refuses(base({ namespace: 'ns=x' }), /config\.metadata\.namespace .* contains "="/);
  await refuses(base({ uid: 'u\0' }), /config\.metadata\.uid .* contains/);
  await refuses(base({ name: 'n'.repeat(254) }), /config\.metadata\.name is 254 characters long/);
  await refuses(base({ logDirectory: '/proc/x' }), /config\.log_directory "\/proc\/x" is under \/proc/);
  await refuses(base({ logDirectory: '/sys/fs/x' }), /is under \/sys/);
  await refuses(base({ logDirectory: '/var/log/pods/../../../etc/cron.d' }), /config\.log_directory .* contains a "\.\." component/);
  await refuses(base({ cgroupParent: '/kubepods/../../evil' }), /config\.linux\.cgroup_parent .* contains a "\.\." component/);
  await refuses(base({ annotations: { big: 'x'.repeat(4 << 20) } }), /config\.annotations hold 4194307 bytes, over the limit of 262144/);
  await refuses(base({ labels: { big: 'x'.repeat(300_000) } }), /config\.labels hold/);
  assert.equal(await validateRequest(base({ logDirectory: '/var/log/pods/ns_p_u', cgroupParent: '/kubepods/burstable/podu' }), handlers, 'runc'), 'runc');
});

test('sysctls: non-namespaced, unknown, or needing a namespace the pod shares with the host are refused', async () => {
  await refuses(base({ sysctls: { 'vm.swappiness': '1' } }), /not namespaced/);
  await refuses(base({ sysctls: { 'kernel.hostname': 'x' } }), /not namespaced/);
  await refuses(base({ sysctls: { 'net.ipv4.nope': '1' } }), /unknown sysctl/);
  await refuses(base({ sysctls: { 'net.ipv4.ip_forward': '1' }, namespaces: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } }), /host network/);
  await refuses(base({ sysctls: { 'kernel.msgmax': '1' }, namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'NODE' } }), /host IPC/);
  await refuses(base({ sysctls: { 'net.ipv4.ip_forward': '1\n2' } }), /invalid sysctl/);
});

test('sysctl helpers', () => {
  assert.equal(sysctlNamespace('kernel.sem'), 'ipc');
  assert.equal(sysctlNamespace('fs.mqueue.msg_max'), 'ipc');
  assert.equal(sysctlNamespace('net/ipv4/ip_forward'), 'net');
  assert.equal(sysctlNamespace('kernel.pid_max'), undefined);
  assert.equal(sysctlProbePath('net.ipv4.conf.eth0.forwarding'), '/proc/sys/net/ipv4/conf/default/forwarding');
  assert.equal(sysctlProbePath('net/ipv4/conf/eth0.100/rp_filter'), '/proc/sys/net/ipv4/conf/default/rp_filter');
});

test('parseQuantity', () => {
  assert.equal(parseQuantity('10M'), 10_000_000);
  assert.equal(parseQuantity('1Mi'), 1_048_576);
  assert.equal(parseQuantity('500k'), 500_000);
  assert.equal(parseQuantity('2.5G'), 2_500_000_000);
  assert.equal(parseQuantity('12'), 12);
  assert.equal(parseQuantity('1X'), undefined);
});

test('user namespace options: NODE or POD with one mapping of container id 0 each', async () => {
  const m = [{ containerId: 0, hostId: 1000, length: 100000 }];
  const ns = (over: Partial<SandboxRequest['namespaces']>): Partial<SandboxRequest> => ({ namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', ...over } });
  assert.equal(await validateRequest(base(ns({ usernsMode: 'POD', uids: m, gids: m })), handlers, 'runc'), 'runc');
  assert.equal(await validateRequest(base(ns({ usernsMode: 'NODE' })), handlers, 'runc'), 'runc');
  assert.equal(await validateRequest(base(ns({ usernsMode: 'POD', uids: m, gids: m, pid: 'POD' })), handlers, 'runc'), 'runc');
  await refuses(base(ns({ usernsMode: 'POD', uids: [...m, { containerId: 0, hostId: 2000, length: 1 }], gids: m })), /exactly one uid mapping, got 2/);
  await refuses(base(ns({ usernsMode: 'POD', uids: m, gids: [] })), /exactly one gid mapping, got 0/);
  await refuses(base(ns({ usernsMode: 'POD' })), /exactly one uid mapping, got 0/);
  await refuses(base(ns({ usernsMode: 'POD', uids: [{ containerId: 1, hostId: 1000, length: 10 }], gids: m })), /must map container id 0/);
  await refuses(base(ns({ usernsMode: 'POD', uids: [{ containerId: 0, hostId: 1000, length: 0 }], gids: m })), /invalid uid mapping/);
  await refuses(base(ns({ usernsMode: 'POD', uids: [{ containerId: 0, hostId: 2 ** 32 - 10, length: 100 }], gids: m })), /invalid uid mapping/);
  await refuses(base(ns({ usernsMode: 'CONTAINER' })), /mode CONTAINER is not supported/);
  await refuses(base(ns({ usernsMode: 'TARGET' })), /mode TARGET is not supported/);
  await refuses(base(ns({ usernsMode: 'NODE', uids: m, gids: m })), /NODE takes no uid\/gid mappings/);
  assert.equal(await validateRequest(base(ns({ usernsMode: 'POD', uids: m, gids: m, network: 'NODE' })), handlers, 'runc'), 'runc', 'user namespace on the host network');
  await refuses(base(ns({ usernsMode: 'POD', uids: m, gids: m, ipc: 'NODE' })), /host ipc namespace/);
  await refuses(base(ns({ usernsMode: 'POD', uids: m, gids: m, pid: 'NODE' })), /host pid namespace/);
});
