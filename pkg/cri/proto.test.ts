import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { BERTH_PROTO_PATH, PROTO_PATH, descriptorPath, loadRoot } from './proto.js';

const parsed = (file: string) => {
  const root = new protobuf.Root();
  root.loadSync(file, { keepCase: true });
  root.resolveAll();
  return root;
};

describe('proto roots from build-time descriptors', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-proto-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the build made a descriptor of each proto that gives the same root as parsing it', async () => {
    for (const file of [PROTO_PATH, BERTH_PROTO_PATH]) {
      const d = JSON.parse(await readFile(descriptorPath(file), 'utf8')) as { proto: string };
      assert.equal(d.proto, await readFile(file, 'utf8'), file);
      assert.equal(JSON.stringify(loadRoot(file).toJSON()), JSON.stringify(parsed(file).toJSON()), file);
    }
  });

  it('uses a descriptor made from the same text, and parses the file when it was made from another', async () => {
    const proto = await readFile(PROTO_PATH, 'utf8');
    const marker = { nested: { marker: { nested: { Only: { fields: { a: { type: 'string', id: 1 } } } } } } };
    const current = path.join(dir, 'current.json');
    await writeFile(current, JSON.stringify({ proto, root: marker }));
    assert.ok(loadRoot(PROTO_PATH, current).lookupType('marker.Only'));
    const stale = path.join(dir, 'stale.json');
    await writeFile(stale, JSON.stringify({ proto: `${proto}\n// changed`, root: marker }));
    assert.ok(loadRoot(PROTO_PATH, stale).lookupService('runtime.v1.RuntimeService'));
    assert.throws(() => loadRoot(PROTO_PATH, stale).lookupType('marker.Only'));
    assert.ok(loadRoot(PROTO_PATH, path.join(dir, 'missing.json')).lookupService('runtime.v1.RuntimeService'));
  });
});
