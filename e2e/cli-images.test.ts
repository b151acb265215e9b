// The berth CLI's image commands against a real daemon and registry: pull with progress (plain
// lines and a terminal's redrawn bars), images, inspect, rmi; and how it fails.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';
import { berth, berthPty, plain } from './cli-fixtures.js';

describe('berth CLI: images', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  before(async () => {
    reg = await startRegistry();
    d = await startDaemon({ toml: `[registry]\ninsecure = ["${reg.host}"]\n` });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await reg.stop();
  });

  it('says so in one line, exit 1, when no daemon answers on the socket; bad usage exits 125', async () => {
    const r = await berth('/tmp/berth-no-such.sock', ['ps']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'berth: cannot reach the berth daemon at /tmp/berth-no-such.sock: is it running?\n');
    const bad = await berth(d.socket, ['ps', '--nope']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^berth: unknown flag: --nope\nSee 'berth ps --help'.\n$/);
    const few = await berth(d.socket, ['logs']);
    assert.equal(few.code, 125);
    const help = await berth(d.socket, ['run', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: berth run \[FLAGS\] IMAGE/);
    assert.match(help.stdout, /-p, --publish \[IP:\]HOST:CTR/);
    const unknown = await berth(d.socket, ['rmi', `${reg.host}/cli/absent:1`]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, `berth: no such image: ${reg.host}/cli/absent:1\n`);
    const missing = await berth(d.socket, ['pull', `${reg.host}/cli/absent:1`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^berth: pull .*absent:1: .*\n$/, 'one line, no stack');
  });

  it('pull without a terminal prints a line per finished layer and the image ID; a second pull says "Already exists"', async () => {
    const extra = buildTar([{ type: 'file', path: 'data', data: randomBytes(256 * 1024) }]);
    const img = buildBusyboxImage({ extraLayers: [extra] });
    await pushImage(reg.host, 'cli/two', '1', img);
    const ref = `${reg.host}/cli/two:1`;
    const r = await berth(d.socket, ['pull', ref]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], img.config.digest);
    for (const l of img.layers) assert.ok(lines.some((x) => x.startsWith(`${l.digest.slice(7, 19)}: Pull complete (`)), `line for ${l.digest}: ${r.stdout}`);
    const again = await berth(d.socket, ['pull', ref]);
    assert.equal(again.code, 0);
    for (const l of img.layers) assert.ok(again.stdout.includes(`${l.digest.slice(7, 19)}: Already exists`), again.stdout);
    const quiet = await berth(d.socket, ['pull', '-q', ref]);
    assert.equal(quiet.stdout, `${img.config.digest}\n`);
  });

  it('pull on a terminal draws a bar per layer, redrawn in place, with "Already exists" for a shared layer', async () => {
    const big = buildTar([{ type: 'file', path: 'big', data: randomBytes(24 << 20) }]);
    const img = buildBusyboxImage({ extraLayers: [big] });
    await pushImage(reg.host, 'cli/big', '1', img);
    await berth(d.socket, ['pull', `${reg.host}/cli/two:1`]); // the busybox layer is present
    const t = berthPty(d.socket, ['pull', `${reg.host}/cli/big:1`], { cols: 160 });
    assert.equal(await t.exited, 0, t.output());
    const raw = t.output();
    assert.match(raw, /\x1b\[2A/, 'moves the cursor up over the two layer lines to redraw them');
    const text = plain(raw);
    const base = img.layers[0]!.digest.slice(7, 19);
    const top = img.layers[1]!.digest.slice(7, 19);
    assert.match(text, new RegExp(`${base}: Already exists`));
    assert.match(text, new RegExp(`${top}: Downloading +\\[[=> ]{30}\\] [0-9.]+[kMG]?B/25\\.[0-9]MB [0-9.]+[kMG]?B/s ETA `), text);
    assert.match(text, new RegExp(`${top}: Pull complete \\(25\\.[0-9]MB\\)`));
    assert.match(text, new RegExp(`${img.config.digest}\\n?$`));
  });

  it('images lists tags (table, -q, json); inspect shows the image; rmi removes by tag', async () => {
    const ref = `${reg.host}/cli/two:1`;
    const table = await berth(d.socket, ['images']);
    assert.match(table.stdout, /^IMAGE +TAG +IMAGE ID +SIZE/);
    assert.match(table.stdout, new RegExp(`${reg.host}/cli/two +1 +[0-9a-f]{13} +[0-9.]+[kM]B`));
    const ids = (await berth(d.socket, ['images', '-q'])).stdout.trim().split('\n');
    const json = JSON.parse((await berth(d.socket, ['images', '--format', 'json'])).stdout) as { id: string; repo_tags: string[] }[];
    assert.deepEqual(json.map((i) => i.id).sort(), [...ids].sort());
    const id = json.find((i) => i.repo_tags.includes(ref))!.id;
    const shown = JSON.parse((await berth(d.socket, ['inspect', ref])).stdout) as { Type: string; id: string; info: { info: { manifestDigest: string } } }[];
    assert.equal(shown[0]!.Type, 'image');
    assert.equal(shown[0]!.id, id);
    assert.match(shown[0]!.info.info.manifestDigest, /^sha256:/);
    const rm = await berth(d.socket, ['rmi', ref]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, `Deleted: ${id}\n`);
    assert.ok(!(await berth(d.socket, ['images', '-q'])).stdout.includes(id));
  });
});
