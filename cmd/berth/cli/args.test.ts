import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseDuration, UsageError } from './args.js';
import type { FlagSpec } from './commands.js';

const SPECS: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', help: '' },
  { name: 'tty', short: 't', type: 'bool', help: '' },
  { name: 'publish', short: 'p', type: 'list', help: '' },
  { name: 'name', type: 'string', help: '' },
];

test('combined shorts, attached and separate values, repeated lists, long forms', () => {
  const r = parseArgs(SPECS, ['-it', '-p', '80:80', '-p8443:443', '--name=web', '--publish', '1:2', 'img']);
  assert.deepEqual(r.flags, { interactive: true, tty: true, publish: ['80:80', '8443:443', '1:2'], name: 'web' });
  assert.deepEqual(r.args, ['img']);
});

test('flags end at the first positional for run-like commands, and at -- always', () => {
  assert.deepEqual(parseArgs(SPECS, ['-i', 'img', 'sh', '-c', 'echo -t'], true), { flags: { interactive: true }, args: ['img', 'sh', '-c', 'echo -t'] });
  assert.deepEqual(parseArgs(SPECS, ['pod', '-t', 'x'], false), { flags: { tty: true }, args: ['pod', 'x'] });
  assert.deepEqual(parseArgs(SPECS, ['pod', '--', '-t'], false).args, ['pod', '-t']);
  assert.deepEqual(parseArgs(SPECS, ['-t', 'pod', '--', 'sh', '--', '-c'], true), { flags: { tty: true }, args: ['pod', 'sh', '--', '-c'] }, 'debug POD -- CMD');
});

test('unknown flags and missing values are usage errors', () => {
  assert.throws(() => parseArgs(SPECS, ['--bogus']), (e: Error) => e instanceof UsageError && /unknown flag: --bogus/.test(e.message));
  assert.throws(() => parseArgs(SPECS, ['-x']), /unknown shorthand flag: 'x'/);
  assert.throws(() => parseArgs(SPECS, ['--name']), /--name needs a value/);
  assert.throws(() => parseArgs(SPECS, ['-tp']), /-p needs a value/);
  assert.throws(() => parseArgs(SPECS, ['--tty=yes']), /takes no value/);
});

test('durations', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.throws(() => parseDuration('10'), UsageError);
  assert.throws(() => parseDuration('5m x'), UsageError);
});
