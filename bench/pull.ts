// Pull benchmark: a ~100 MiB image (the busybox fixture plus four 25 MiB layers of random,
// incompressible data, gzip) pushed to a local docker-registry, pulled by berth into a fresh
// store several times (removed between runs). Reports wall time and MiB/s as JSON; where
// containerd is installed (or CONTAINERD_BIN names one, e.g. from `apt-get download containerd`),
// a private containerd pulls the same image in the same run (`ctr images pull`, which also
// unpacks) and the ratio is given. Run alone: node dist/bench/pull.js [runs]
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startDaemon } from '../e2e/harness.js';
import { buildBusyboxImage } from '../e2e/fixtures/busybox.js';
import { pushImage, type BuiltImage } from '../e2e/fixtures/oci.js';
import { startRegistry } from '../e2e/fixtures/registry.js';
import { buildTar } from '../e2e/fixtures/tar.js';
import { runAsMain, summarize, timeMs } from './summary.js';
import { run, startContainerd, which } from './containerd.js';

/** One `ctr images pull` (fetch + unpack into overlayfs) against a fresh private containerd. */
async function containerdPull(bin: string, ctr: string, ref: string): Promise<number> {
  const c = await startContainerd(bin, ctr);
  try {
    return await timeMs(() => c.ctr(['images', 'pull', '--plain-http', ref]));
  } finally {
    await c.stop();
  }
}

/** The ~100 MiB image: busybox plus four 25 MiB layers of random data (gzip does not shrink them). */
export function buildBigImage(): BuiltImage {
  const layers = [1, 2, 3, 4].map((i) => buildTar([{ type: 'dir', path: 'data/' }, { type: 'file', path: `data/blob${i}`, data: randomBytes(25 << 20) }]));
  return buildBusyboxImage({ extraLayers: layers, config: { Cmd: ['sh'], Env: [`BENCH=${Date.now()}`] } });
}

export async function benchPull(runs = 5): Promise<Record<string, unknown>> {
  const img = buildBigImage();
  const compressed = img.layers.reduce((n, l) => n + l.size, 0) + img.config.size;
  const reg = await startRegistry();
  try {
    await pushImage(reg.host, 'bench/big', 'latest', img);
    const ref = `${reg.host}/bench/big:latest`;
    const bin = process.env.CONTAINERD_BIN ?? (await which('containerd'));
    const ctr = bin ? path.join(path.dirname(bin), 'ctr') : undefined;
    const times: number[] = [];
    const ctimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      // A fresh daemon root per run: nothing cached, as on a new node.
      const d = await startDaemon({ logLevel: 'info' });
      try {
        times.push(await timeMs(() => d.client.image('PullImage', { image: { image: ref } })));
      } finally {
        await d.stop();
        await d.cleanup();
      }
      // Interleaved with berth's runs, so both see the same machine load.
      if (bin && ctr) ctimes.push(await containerdPull(bin, ctr, ref));
    }
    const s = summarize(times);
    const mib = compressed / (1 << 20);
    const result: Record<string, unknown> = {
      image_mib: Math.round(mib * 10) / 10,
      layers: img.layers.length,
      runs_ms: times.map((t) => Math.round(t)),
      median_s: Math.round(s.median_ms) / 1000,
      mib_per_s: Math.round((mib / (s.median_ms / 1000)) * 10) / 10,
    };
    if (bin && ctr) {
      // Side by side: a private containerd (fresh root per run, like berth) pulled the same image.
      const cs = summarize(ctimes);
      result.containerd = { version: (await run(bin, ['--version'])).stdout.trim(), runs_ms: ctimes.map((t) => Math.round(t)), median_s: Math.round(cs.median_ms) / 1000,
        mib_per_s: Math.round((mib / (cs.median_ms / 1000)) * 10) / 10 };
      result.berth_time_over_containerd = Math.round((s.median_ms / cs.median_ms) * 100) / 100;
    } else {
      result.containerd = 'not installed (set CONTAINERD_BIN to a containerd binary with ctr beside it to compare)';
    }
    result.small_image = await benchSmall(reg.host, bin && ctr ? { bin, ctr } : undefined);
    return result;
  } finally {
    await reg.stop();
  }
}

/**
 * The critest-style figures (conformance/BASELINE.md: containerd PullImage of a 1.4 MB layer
 * 107 ms, ImageStatus 0.5 ms, ListImages 0.4 ms, RemoveImage 9.4 ms): a small single-layer image
 * pulled and removed repeatedly, status and list timed in between.
 */
async function benchSmall(host: string, ctd?: { bin: string; ctr: string }, n = 20): Promise<Record<string, unknown>> {
  const img = buildBusyboxImage({ config: { Cmd: ['sh'], Env: [`SMALL=${Date.now()}`] } });
  await pushImage(host, 'bench/small', 'latest', img);
  const ref = `${host}/bench/small:latest`;
  const d = await startDaemon({ logLevel: 'info' });
  try {
    const pull: number[] = [];
    const status: number[] = [];
    const list: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < n; i++) {
      pull.push(await timeMs(() => d.client.image('PullImage', { image: { image: ref } })));
      for (let j = 0; j < 10; j++) {
        status.push(await timeMs(() => d.client.image('ImageStatus', { image: { image: ref } })));
        list.push(await timeMs(() => d.client.image('ListImages', {})));
      }
      remove.push(await timeMs(() => d.client.image('RemoveImage', { image: { image: ref } })));
    }
    const out: Record<string, unknown> = {
      layer_mib: Math.round((img.layers[0]!.size / (1 << 20)) * 100) / 100, PullImage: summarize(pull), ImageStatus: summarize(status), ListImages: summarize(list), RemoveImage: summarize(remove),
    };
    if (ctd) {
      // The same image through `ctr images pull` (its process start included; `ctr version` shows that cost).
      const c = await startContainerd(ctd.bin, ctd.ctr);
      try {
        const cp: number[] = [];
        const cv: number[] = [];
        for (let i = 0; i < n; i++) {
          cv.push(await timeMs(() => c.ctr(['version'])));
          cp.push(await timeMs(() => c.ctr(['images', 'pull', '--plain-http', ref])));
          await c.ctr(['images', 'rm', '--sync', ref]);
        }
        out.containerd_ctr_pull = summarize(cp);
        out.containerd_ctr_version = summarize(cv);
      } finally {
        await c.stop();
      }
    }
    return out;
  } finally {
    await d.stop();
    await d.cleanup();
  }
}

runAsMain(import.meta.url, 'pull', (a) => benchPull(Number(a[0] ?? 5)));
