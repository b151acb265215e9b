import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { type CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';
import { startTokenIssuer, type TokenIssuer } from './fixtures/token.js';

const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

describe('images: registry authentication', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
  });

  describe('Basic auth (htpasswd)', () => {
    let reg: TestRegistry;
    let configDigest: string;
    before(async () => {
      reg = await startRegistry({ htpasswd: { username: 'alice', password: 's3cret' } });
      configDigest = (await pushBusybox(reg.host, 'private/busybox', 'v1', { authorization: basic('alice', 's3cret') })).configDigest;
    });
    after(async () => {
      await reg.stop();
    });

    it('fails without credentials saying unauthorized', async () => {
      await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/private/busybox:v1` } }), (err: CriError) => {
        assert.match(err.details, /unauthorized/i);
        assert.match(err.details, /private\/busybox/);
        return true;
      });
    });

    it('fails with a wrong password, succeeds with username/password and with auth base64', async () => {
      await assert.rejects(
        d.client.image('PullImage', { image: { image: `${reg.host}/private/busybox:v1` }, auth: { username: 'alice', password: 'nope' } }),
        /unauthorized.*credentials were refused/i,
      );
      const a = await d.client.image('PullImage', { image: { image: `${reg.host}/private/busybox:v1` }, auth: { username: 'alice', password: 's3cret' } });
      assert.equal(a.image_ref, configDigest);
      await d.client.image('RemoveImage', { image: { image: configDigest } });
      const b = await d.client.image('PullImage', {
        image: { image: `${reg.host}/private/busybox:v1` },
        auth: { auth: Buffer.from('alice:s3cret').toString('base64'), server_address: reg.host },
      });
      assert.equal(b.image_ref, configDigest);
    });
  });

  describe('Bearer token flow', () => {
    let reg: TestRegistry;
    let iss: TokenIssuer;
    let configDigest: string;
    before(async () => {
      iss = await startTokenIssuer({
        users: { bob: 'hunter2' },
        refreshTokens: { 'refresh-bob': 'bob' },
        grant: (account, name) => (name.startsWith('public/') || account === 'bob' ? ['pull'] : []),
      });
      reg = await startRegistry({ token: { realm: iss.realm, service: iss.service, issuer: iss.issuer, rootCertPem: iss.certPem } });
      for (const repo of ['public/busybox', 'team/busybox']) {
        const push = `Bearer ${iss.mint('pusher', [{ name: repo, actions: ['pull', 'push'] }])}`;
        configDigest = (await pushBusybox(reg.host, repo, 'v1', { authorization: push })).configDigest;
      }
    });
    after(async () => {
      await reg.stop();
      await iss.stop();
    });

    it('pulls a public repository anonymously with a token for its pull scope', async () => {
      const r = await d.client.image('PullImage', { image: { image: `${reg.host}/public/busybox:v1` } });
      assert.equal(r.image_ref, configDigest);
      assert.ok(iss.requests.some((q) => q.account === '' && q.scope === 'repository:public/busybox:pull'), JSON.stringify(iss.requests));
      await d.client.image('RemoveImage', { image: { image: configDigest } });
    });

    it('refuses a private repository anonymously, pulls it with credentials, identity token and registry token', async () => {
      const ref = `${reg.host}/team/busybox:v1`;
      await assert.rejects(d.client.image('PullImage', { image: { image: ref } }), /unauthorized/i);
      await assert.rejects(d.client.image('PullImage', { image: { image: ref }, auth: { username: 'bob', password: 'wrong' } }), /unauthorized.*incorrect username or password/i);
      const auths = [
        { username: 'bob', password: 'hunter2' },
        { identity_token: 'refresh-bob' },
        { registry_token: iss.mint('bob', [{ name: 'team/busybox', actions: ['pull'] }]) },
      ];
      for (const auth of auths) {
        const r = await d.client.image('PullImage', { image: { image: ref }, auth });
        assert.equal(r.image_ref, configDigest, JSON.stringify(auth));
        await d.client.image('RemoveImage', { image: { image: configDigest } });
      }
      assert.ok(iss.requests.some((q) => q.account === 'bob' && q.grant === 'basic' && q.scope === 'repository:team/busybox:pull'));
      assert.ok(iss.requests.some((q) => q.account === 'bob' && q.grant === 'refresh_token'));
    });
  });
});
