import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../version/version.js';
import { parseBlkioV1, parseFlatKeyed, parseIoStat, parseNetDev, parsePsi, parseSingle } from './parse.js';
import { v1Memory, v1Swap } from './cgroup-v1.js';
import { v2Swap } from './cgroup-v2.js';
import { CpuRateTracker } from './rate.js';

const TD = path.join(PROJECT_ROOT, 'pkg/stats/testdata');

describe('stats: parsers', () => {
  it('parses /proc/net/dev per interface', async () => {
    const ifs = parseNetDev(await readFile(path.join(TD, 'net-dev'), 'utf8'));
    assert.deepEqual(ifs.map((i) => i.name), ['lo', 'eth0', 'net1']);
    const eth0 = ifs[1]!;
    assert.equal(eth0.rxBytes, 10485760n);
    assert.equal(eth0.rxPackets, 7400n);
    assert.equal(eth0.rxErrors, 2n);
    assert.equal(eth0.rxDropped, 1n);
    assert.equal(eth0.txBytes, 524288n);
    assert.equal(eth0.txPackets, 3100n);
    assert.equal(eth0.txErrors, 1n);
  });

  it('parses flat-keyed files, single values and "max"', () => {
    const m = parseFlatKeyed('usage_usec 10\nuser_usec 7\nbogus\n\nsome_key notanumber\n');
    assert.deepEqual([...m], [['usage_usec', 10n], ['user_usec', 7n]]);
    assert.equal(parseSingle('9223372036854771712\n'), 9223372036854771712n);
    assert.equal(parseSingle('max\n'), undefined);
  });

  it('parses io.stat and v1 blkio', () => {
    assert.deepEqual(parseIoStat('259:0 rbytes=5 wbytes=6 rios=1 wios=2 dbytes=0 dios=0\n'), [
      { device: '259:0', readBytes: 5n, writeBytes: 6n, readOps: 1n, writeOps: 2n },
    ]);
    const v1 = parseBlkioV1('8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Total 300\nTotal 300\n', '8:0 Read 1\n8:0 Write 2\n');
    assert.deepEqual(v1, [{ device: '8:0', readBytes: 100n, writeBytes: 200n, readOps: 1n, writeOps: 2n }]);
  });

  it('v1 memory: working set = usage − total_inactive_file, clamped, unlimited = no limit', () => {
    const stat = 'rss 1\ntotal_rss 4096\ntotal_inactive_file 1000\ntotal_pgfault 9\ntotal_pgmajfault 2\n';
    const m = v1Memory('5000\n', stat, '9223372036854771712\n');
    assert.equal(m.workingSetBytes, 4000n);
    assert.equal(m.rssBytes, 4096n);
    assert.equal(m.pageFaults, 9n);
    assert.equal(m.majorPageFaults, 2n);
    assert.equal(m.limitBytes, undefined);
    const fromStat = v1Memory('5000\n', `${stat}hierarchical_memory_limit 8192\n`);
    assert.equal(fromStat.limitBytes, 8192n, 'the effective limit from memory.stat');
    assert.equal(fromStat.availableBytes, 8192n - 4000n);
    const tight = v1Memory('500\n', stat, '4096\n');
    assert.equal(tight.workingSetBytes, 0n, 'inactive file above usage clamps to 0');
    assert.equal(tight.availableBytes, 4096n);
  });
});

describe('stats: pressure and swap', () => {
  it('parses a pressure file; cpu.pressure of the root has no "full" line on old kernels', () => {
    assert.deepEqual(parsePsi('some avg10=1.50 avg60=0.50 avg300=0.10 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=4\n'), {
      some: { total: 123n, avg10: 1.5, avg60: 0.5, avg300: 0.1 },
      full: { total: 4n, avg10: 0, avg60: 0, avg300: 0 },
    });
    assert.deepEqual(parsePsi('some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n'), { some: { total: 9n, avg10: 0, avg60: 0, avg300: 0 } });
    assert.deepEqual(parsePsi(''), {});
  });

  it('v2 swap: current and what memory.swap.max leaves; "max" has no limit', () => {
    assert.deepEqual(v2Swap('100\n', '1000\n'), { usageBytes: 100n, availableBytes: 900n });
    assert.deepEqual(v2Swap('100\n', 'max\n'), { usageBytes: 100n });
    assert.deepEqual(v2Swap('0\n', undefined), { usageBytes: 0n });
  });

  it('v1 swap from memory.stat: only with swap accounting; the limit is memsw − memory', () => {
    assert.equal(v1Swap('total_rss 10\nhierarchical_memory_limit 100\n'), undefined, 'no swap accounting');
    assert.deepEqual(v1Swap('total_swap 5\nhierarchical_memory_limit 100\nhierarchical_memsw_limit 150\n'), { usageBytes: 5n, availableBytes: 45n });
    assert.deepEqual(v1Swap('total_swap 5\nhierarchical_memory_limit 100\nhierarchical_memsw_limit 9223372036854771712\n'), { usageBytes: 5n });
  });
});

describe('stats: CPU rate tracker', () => {
  it('computes nano-cores, ignores too-close samples, restarts on a counter reset', () => {
    const t = new CpuRateTracker(10_000_000n);
    assert.equal(t.observe('a', 1_000_000_000n, 0n), undefined);
    assert.equal(t.observe('a', 2_000_000_000n, 500_000_000n), 500_000_000n); // half a core
    assert.equal(t.observe('a', 2_001_000_000n, 900_000_000n), 500_000_000n, 'within 10 ms keeps the last rate');
    assert.equal(t.observe('a', 3_000_000_000n, 2_500_000_000n), 2_000_000_000n);
    assert.equal(t.observe('a', 4_000_000_000n, 10n), undefined, 'counter went back: new cgroup');
    t.forget('a');
    assert.equal(t.size, 0);
  });
});
