import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors/errors.js';
import { MAX_LABELS_BYTES, checkAbsolutePath, checkLabelsSize, checkName, checkRelativePath } from './input.js';

const refuses = (fn: () => void, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message));
};

describe('shared input checks', () => {
  it('names: Kubernetes names, critest names and UUIDs pass', () => {
    for (const ok of ['web-0', 'kube-system', '3f1c2a7e-9b0d-4d8e-8f3e-1a2b3c4d5e6f', 'PodSandbox-For-Test_1.a', 'a'.repeat(253)]) checkName('metadata.name', ok);
  });

  it('names: empty, too long, whitespace, control characters, ";" and "=" are refused naming the field', () => {
    refuses(() => checkName('config.metadata.name', ''), /^config\.metadata\.name is required$/);
    refuses(() => checkName('config.metadata.name', 'a'.repeat(254)), /254 characters long, over the limit of 253/);
    refuses(() => checkName('config.metadata.name', 'web\n10.0.0.1 evil'), /contains "\\n"/);
    refuses(() => checkName('config.metadata.namespace', 'a;K8S_POD_NAME=x'), /contains ";"/);
    refuses(() => checkName('config.metadata.uid', 'a=b'), /contains "="/);
    refuses(() => checkName('x', 'tab\there'), /contains "\\t"/);
    refuses(() => checkName('x', 'nbsp\u00a0'), /contains/);
  });

  it('absolute paths: no relative path, no ".." component', () => {
    checkAbsolutePath('host_path', '/var/lib/x');
    checkAbsolutePath('host_path', '/var/lib/..x/y...'); // dots inside a name are fine
    refuses(() => checkAbsolutePath('config.mounts[0].host_path', '../../etc/x'), /^config\.mounts\[0\]\.host_path "\.\.\/\.\.\/etc\/x" is not an absolute path$/);
    refuses(() => checkAbsolutePath('log_directory', '/var/log/../../etc'), /contains a "\.\." component/);
    refuses(() => checkAbsolutePath('x', ''), /not an absolute path/);
  });

  it('relative paths: no absolute path, no ".." component', () => {
    checkRelativePath('log_path', 'c/0.log');
    refuses(() => checkRelativePath('log_path', '../../../etc/cron.d/x'), /contains a "\.\." component/);
    refuses(() => checkRelativePath('log_path', 'a/../../b'), /"\.\."/);
    refuses(() => checkRelativePath('log_path', '/etc/cron.d/x'), /must be relative/);
  });

  it('label maps: at most 256 KiB of keys and values', () => {
    checkLabelsSize('annotations', { a: 'x'.repeat(MAX_LABELS_BYTES - 1) });
    refuses(() => checkLabelsSize('annotations', { a: 'x'.repeat(MAX_LABELS_BYTES) }), /^annotations hold 262145 bytes, over the limit of 262144/);
    refuses(() => checkLabelsSize('labels', { a: 'é'.repeat(MAX_LABELS_BYTES / 2) }), /labels hold 262145 bytes/);
  });
});
