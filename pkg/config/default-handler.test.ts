import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, type BerthConfig } from './schema.js';
import { resolveDefaultHandler } from './default-handler.js';

const withDefault = (name: string, handlers = DEFAULT_CONFIG.runtime.handlers): BerthConfig =>
  ({ ...DEFAULT_CONFIG, runtime: { ...DEFAULT_CONFIG.runtime, default_handler: name, handlers } });
/** A host where exactly these binaries are executable. */
const host = (...files: string[]) => ({ executable: (f: string) => files.includes(f) });

describe('default runtime handler', () => {
  it('stays crun where /usr/bin/crun is there', () => {
    const r = resolveDefaultHandler(withDefault('crun'), host('/usr/bin/crun', '/usr/sbin/runc'));
    assert.equal(r.config.runtime.default_handler, 'crun');
    assert.equal(r.fallback, undefined);
  });

  it('falls back to runc, saying from what, where crun is missing', () => {
    const given = withDefault('crun');
    const r = resolveDefaultHandler(given, host('/usr/sbin/runc'));
    assert.equal(r.config.runtime.default_handler, 'runc');
    assert.deepEqual(r.fallback, { from: 'crun', path: '/usr/bin/crun', reason: '/usr/bin/crun is not there', to: 'runc' });
    // The config it was given is left as it was (a reload compares against the file's form).
    assert.equal(given.runtime.default_handler, 'crun');
  });

  it('keeps a configured handler whose binary is missing when runc is missing too (Status reports it)', () => {
    const r = resolveDefaultHandler(withDefault('crun'), host());
    assert.equal(r.config.runtime.default_handler, 'crun');
    assert.equal(r.fallback, undefined);
  });

  it('keeps runc when runc is the configured default, present or not', () => {
    for (const files of [['/usr/sbin/runc'], ['/usr/bin/crun']]) {
      const r = resolveDefaultHandler(withDefault('runc'), host(...files));
      assert.equal(r.config.runtime.default_handler, 'runc');
      assert.equal(r.fallback, undefined);
    }
  });

  it('falls back from any configured handler whose binary is missing, and not without a runc handler', () => {
    const kata = { ...DEFAULT_CONFIG.runtime.handlers, kata: { path: '/opt/kata/bin/kata-runtime', root: '', allowed_annotations: [] } };
    assert.equal(resolveDefaultHandler(withDefault('kata', kata), host('/usr/sbin/runc')).config.runtime.default_handler, 'runc');
    const noRunc = { crun: DEFAULT_CONFIG.runtime.handlers.crun! };
    assert.equal(resolveDefaultHandler(withDefault('crun', noRunc), host()).config.runtime.default_handler, 'crun');
  });

  it('falls back to runc, saying why, where the host refuses crun (hybrid cgroups with a controller on v2)', () => {
    const refusal = (p: string) => (p.endsWith('/crun') ? 'crun refuses this hybrid cgroup host' : undefined);
    const r = resolveDefaultHandler(withDefault('crun'), { ...host('/usr/bin/crun', '/usr/sbin/runc'), refusal });
    assert.equal(r.config.runtime.default_handler, 'runc');
    assert.deepEqual(r.fallback, { from: 'crun', path: '/usr/bin/crun', reason: 'crun refuses this hybrid cgroup host', to: 'runc' });
    // Nothing to fall back to: crun stays, and its own error names the problem.
    assert.equal(resolveDefaultHandler(withDefault('crun'), { ...host('/usr/bin/crun'), refusal }).config.runtime.default_handler, 'crun');
    assert.equal(resolveDefaultHandler(withDefault('crun'), { ...host('/usr/bin/crun', '/usr/sbin/runc'), refusal: () => 'refused' }).config.runtime.default_handler, 'crun', 'runc refused too');
  });

  it('leaves an unknown default handler for Status to report', () => {
    const r = resolveDefaultHandler(withDefault('nope'), host('/usr/sbin/runc'));
    assert.equal(r.config.runtime.default_handler, 'nope');
  });
});
