import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors/errors.js';
import { credentialsApply, credentialsFrom, parseChallenges } from './auth.js';

describe('registry auth', () => {
  it('parses Bearer and Basic challenges', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    assert.deepEqual(parseChallenges('Basic realm=x, Bearer realm="a,b", error="invalid_token"').map((c) => [c.scheme, c.params]), [
      ['basic', { realm: 'x' }],
      ['bearer', { realm: 'a,b', error: 'invalid_token' }],
    ]);
    assert.deepEqual(parseChallenges('Bearer realm="q\\"uote"')[0]!.params.realm, 'q"uote');
    assert.deepEqual(parseChallenges(''), []);
  });
  it('reads AuthConfig credentials, from auth base64 too', () => {
    assert.deepEqual(credentialsFrom({ auth: Buffer.from('u:p:w').toString('base64') }), { username: 'u', password: 'p:w' });
    assert.deepEqual(credentialsFrom({ username: 'a', password: 'b', auth: 'ignored' }), { username: 'a', password: 'b' });
    assert.deepEqual(credentialsFrom({ identityToken: 'r' }), { identityToken: 'r' });
    assert.equal(credentialsFrom({}), undefined);
    assert.deepEqual(credentialsFrom({ registryToken: 'eyJ.abc-_~+/=' }), { registryToken: 'eyJ.abc-_~+/=' });
    for (const bad of ['tok\r\nX-Evil: 1', 'tok en', 'tök', 'a\u2028']) {
      assert.throws(() => credentialsFrom({ registryToken: bad }), (e: unknown) => e instanceof InvalidArgumentError && /auth\.registry_token holds characters an HTTP header cannot carry/.test(e.message), bad);
    }
    // user names and passwords travel base64-encoded: any text is fine
    assert.deepEqual(credentialsFrom({ username: 'ü\n', password: 'p w' }), { username: 'ü\n', password: 'p w' });
    assert.ok(credentialsApply({ serverAddress: 'https://index.docker.io/v1/' }, 'docker.io'));
    assert.ok(!credentialsApply({ serverAddress: 'quay.io' }, 'docker.io'));
    assert.ok(credentialsApply({ username: 'x' }, 'anything'));
  });
});

describe('registry endpoints', () => {
  it('lists mirrors in order (path without the host), then the upstream; insecure and loopback hosts', async () => {
    const { RegistryClient } = await import('./registry.js');
    const { parseReference } = await import('./reference.js');
    const c = new RegistryClient({ insecure: ['http://reg.example:5000/'], mirrors: { 'gcr.io': ['http://127.0.0.1:5000', 'https://m.example/v2/'] } });
    const eps = c.endpoints(parseReference('gcr.io/a/b:t'), { username: 'u', password: 'p' });
    assert.deepEqual(eps.map((e) => [e.base, e.host, e.repo, e.mirror, e.insecure, !!e.creds]), [
      ['http://127.0.0.1:5000', '127.0.0.1:5000', 'a/b', true, true, true],
      ['https://m.example', 'm.example', 'a/b', true, false, true],
      ['', 'gcr.io', 'a/b', false, false, true],
    ]);
    const scoped = c.endpoints(parseReference('gcr.io/a/b:t'), { username: 'u', password: 'p', serverAddress: 'https://gcr.io' });
    assert.deepEqual(scoped.map((e) => !!e.creds), [false, false, true], 'server_address names the one host that gets them');
    assert.equal(c.endpoints(parseReference('busybox'))[0]!.host, 'registry-1.docker.io');
    assert.ok(c.insecureHost('reg.example:5000') && c.insecureHost('localhost:5000') && c.insecureHost('127.0.0.2:80'));
    assert.ok(!c.insecureHost('reg.example'));
  });

  it('uses the config\'s credentials per host when the request has none', async () => {
    const { RegistryClient } = await import('./registry.js');
    const { parseReference } = await import('./reference.js');
    const c = new RegistryClient({
      insecure: [],
      mirrors: { 'docker.io': ['http://127.0.0.1:5000', 'https://m.example'] },
      auths: { 'https://index.docker.io/v1/': { username: 'hub', password: 'h' }, 'm.example': { auth: Buffer.from('mu:mp').toString('base64') } },
    });
    const eps = c.endpoints(parseReference('busybox'));
    assert.deepEqual(eps.map((e) => e.creds ?? null), [null, { username: 'mu', password: 'mp' }, { username: 'hub', password: 'h' }]);
    const own = c.endpoints(parseReference('busybox'), { username: 'req', password: 'r' });
    assert.deepEqual(own.map((e) => e.creds?.username), ['req', 'req', 'req'], 'the request\'s credentials win everywhere they apply');
  });
});
