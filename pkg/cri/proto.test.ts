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

/** Every object's full name, kind and editions features, and what each type reference resolved to. */
function resolution(root: protobuf.Root): string[] {
  const out: string[] = [];
  const line = (o: protobuf.ReflectionObject, ...more: unknown[]) =>
    out.push([o.fullName, o.constructor.name, JSON.stringify((o as unknown as { _features: object })._features), ...more].join(' '));
  const visit = (obj: protobuf.ReflectionObject): void => {
    line(obj);
    if (obj instanceof protobuf.Type) {
      for (const f of obj.fieldsArray) line(f, f.id, f.repeated, f.map, f.optional, f.resolvedType?.fullName ?? f.type, f.packed, f.hasPresence, JSON.stringify(f.defaultValue));
      for (const o of obj.oneofsArray) line(o, o.oneof.join());
    }
    if (obj instanceof protobuf.Service) for (const m of obj.methodsArray) line(m, m.resolvedRequestType!.fullName, m.resolvedResponseType!.fullName);
    if (obj instanceof protobuf.Namespace) for (const o of obj.nestedArray) visit(o);
  };
  visit(root);
  return out;
}

describe('proto roots from build-time descriptors', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-proto-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the build made a descriptor of each proto that gives the same root as parsing it', async () => {
    // The descriptor names types by full name ('.runtime.v1.PodSandbox' for 'PodSandbox').
    const unqualified = (k: string, v: unknown) => (['type', 'requestType', 'responseType'].includes(k) ? String(v).split('.').pop() : v);
    for (const file of [PROTO_PATH, BERTH_PROTO_PATH]) {
      const d = JSON.parse(await readFile(descriptorPath(file), 'utf8')) as { proto: string; features?: object };
      assert.equal(d.proto, await readFile(file, 'utf8'), file);
      assert.ok(d.features, `${file}: the build found one set of features per kind`);
      const [fromBuild, fromText] = [loadRoot(file), parsed(file)];
      assert.equal(JSON.stringify(fromBuild.toJSON(), unqualified), JSON.stringify(fromText.toJSON(), unqualified), file);
      assert.deepEqual(resolution(fromBuild), resolution(fromText), file);
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
