// Container logs in the CRI format: parsing, partial records joined, the tail (with search)
// from a real file, and following appends and a rotation through inotify.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { followLog, LineAssembler, MAX_LINE, parseCriLine, tailLog, TAIL_BYTES, type LogLine } from './logs.js';

const rec = (text: string, stream = 'stdout', tag = 'F', ts = '2024-01-02T03:04:05.123456789Z') => `${ts} ${stream} ${tag} ${text}\n`;

describe('dashboard logs', () => {
  it('parses CRI log records', () => {
    assert.deepEqual(parseCriLine('2024-01-02T03:04:05.123456789+00:00 stderr F boom: it failed'), {
      t: Date.parse('2024-01-02T03:04:05.123Z'), stream: 'stderr', partial: false, text: 'boom: it failed',
    });
    assert.equal(parseCriLine('2024-01-02T03:04:05Z stdout P half')!.partial, true);
    assert.equal(parseCriLine('2024-01-02T03:04:05Z stdout F')!.text, '', 'an empty line');
    assert.equal(parseCriLine('garbage'), undefined);
    assert.equal(parseCriLine('2024-01-02T03:04:05Z stdin F x'), undefined);
  });

  it('joins partial records, keeps streams apart, holds an unfinished record and cuts huge lines', () => {
    const a = new LineAssembler();
    const out = a.push(rec('hel', 'stdout', 'P') + rec('lo') + rec('err', 'stderr') + rec('to be', 'stdout', 'P'));
    assert.deepEqual(out.map((l) => `${l.stream}:${l.text}`), ['stdout:hello', 'stderr:err']);
    assert.deepEqual(a.push(rec(' continued').slice(0, 20)), []);
    assert.deepEqual(a.push(rec(' continued').slice(20)).map((l) => l.text), ['to be continued']);
    const long = a.push(rec('x'.repeat(MAX_LINE + 10)));
    assert.equal(long[0]!.text.length < MAX_LINE + 100, true);
    assert.match(long[0]!.text, /\[… 10 more characters\]$/);
  });

  it('tails the last lines, searches them, and skips a record still being written', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-dash-log-'));
    try {
      const file = path.join(dir, 'c.log');
      let text = '';
      for (let i = 0; i < 50; i++) text += rec(`line ${i}${i % 10 === 0 ? ' NEEDLE' : ''}`, i % 2 ? 'stderr' : 'stdout');
      await writeFile(file, `${text}2024-01-02T03:04:05Z stdout F unfinish`);
      const t = await tailLog(file, 5);
      assert.deepEqual(t.lines.map((l) => l.text), ['line 45', 'line 46', 'line 47', 'line 48', 'line 49']);
      assert.equal(t.offset, Buffer.byteLength(text));
      const s = await tailLog(file, 3, 'needle');
      assert.deepEqual(s.lines.map((l) => l.text), ['line 20 NEEDLE', 'line 30 NEEDLE', 'line 40 NEEDLE']);
      await assert.rejects(tailLog(path.join(dir, 'none.log'), 5), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads only the end of a big file, starting at a whole record', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-dash-log-'));
    try {
      const file = path.join(dir, 'big.log');
      const line = rec('y'.repeat(1000));
      await writeFile(file, line.repeat(Math.ceil(TAIL_BYTES / line.length) + 100));
      const t = await tailLog(file, 10_000);
      assert.ok(t.lines.length > 1000 && t.lines.length <= TAIL_BYTES / line.length);
      assert.ok(t.lines.every((l) => l.text === 'y'.repeat(1000)), 'no cut record');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows appends and a rotation (rename + new file)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-dash-log-'));
    const file = path.join(dir, 'c.log');
    await writeFile(file, rec('old'));
    const start = await tailLog(file, 10);
    const got: LogLine[] = [];
    let wake: (() => void) | undefined;
    const waitFor = (n: number) => new Promise<void>((resolve) => {
      wake = () => got.length >= n && resolve();
      wake();
    });
    const f = followLog(file, start, (l) => {
      got.push(...l);
      wake?.();
    }, () => assert.fail('gone'));
    try {
      await appendFile(file, rec('one') + rec('tw', 'stdout', 'P'));
      await waitFor(1);
      await appendFile(file, rec('o'));
      await waitFor(2);
      await rename(file, `${file}.1`);
      await writeFile(file, rec('after rotation', 'stderr'));
      await waitFor(3);
      assert.deepEqual(got.map((l) => `${l.stream}:${l.text}`), ['stdout:one', 'stdout:two', 'stderr:after rotation']);
    } finally {
      f.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
