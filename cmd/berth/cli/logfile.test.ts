import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterLines, LogParser, timeMs, utcTime } from './logfile.js';

test('joins partial records per stream and splits lines fed in pieces', () => {
  const p = new LogParser();
  const a = p.feed('2024-01-01T00:00:00.000000001Z stdout P hel');
  assert.deepEqual(a, [], 'no newline yet');
  const b = p.feed('lo\n2024-01-01T00:00:01.5Z stderr F oops\n2024-01-01T00:00:02Z stdout F  world\nbroken line\n');
  assert.deepEqual(b, [
    { time: '2024-01-01T00:00:01.5Z', stream: 'stderr', text: 'oops' },
    { time: '2024-01-01T00:00:00.000000001Z', stream: 'stdout', text: 'hello world' },
  ]);
  assert.deepEqual(p.feed('2024-01-01T00:00:03Z stdout F\n'), [{ time: '2024-01-01T00:00:03Z', stream: 'stdout', text: '' }], 'an empty line');
});

test('tail and since filters', () => {
  const lines = [1, 2, 3, 4].map((s) => ({ time: `2024-01-01T00:00:0${s}.123456789Z`, stream: 'stdout' as const, text: String(s) }));
  assert.deepEqual(filterLines(lines, { tail: 2 }).map((l) => l.text), ['3', '4']);
  assert.deepEqual(filterLines(lines, { tail: 0 }), []);
  assert.deepEqual(filterLines(lines, { sinceMs: timeMs('2024-01-01T00:00:03Z') }).map((l) => l.text), ['3', '4']);
  assert.deepEqual(filterLines(lines, { sinceMs: timeMs('2024-01-01T00:00:02Z'), tail: 1 }).map((l) => l.text), ['4']);
  assert.equal(timeMs('2024-01-01T00:00:01.123456789Z'), Date.UTC(2024, 0, 1, 0, 0, 1, 123));
});

test('timestamps print in UTC with a Z and keep their nanoseconds', () => {
  assert.equal(utcTime('2026-11-30T03:58:16.478349015+00:00'), '2026-11-30T03:58:16.478349015Z');
  assert.equal(utcTime('2026-11-30T05:58:16.5+02:00'), '2026-11-30T03:58:16.5Z');
  assert.equal(utcTime('2026-11-30T03:58:16Z'), '2026-11-30T03:58:16Z');
  assert.equal(utcTime('not a time'), 'not a time');
});
