#!/usr/bin/env node
// Builds the berth agent image without a Dockerfile or a container engine: an OCI image layout
// (oci-layout, index.json, blobs/) holding one layer with the berth package at /opt/berth
// (scripts/package.mjs), nsenter, and the shared libraries node, nsenter and the native addons
// load, copied from this machine (so the image needs no base image and runs the same code the
// tests ran). Push it with skopeo:
//
//   node scripts/agent-image.mjs --out build/berth-agent-oci           (after npm run build)
//   skopeo copy oci:build/berth-agent-oci:0.1.0 docker://REGISTRY/berth/berth-agent:0.1.0
//
// Flags: --package DIR (an existing package; default: build one), --out DIR, --tag TAG
// (default: the package version), --compress gzip|none (default gzip).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { package: { type: 'string' }, out: { type: 'string' }, tag: { type: 'string' }, compress: { type: 'string' } } });
const compress = values.compress ?? 'gzip';
if (!['gzip', 'none'].includes(compress)) throw new Error('--compress is gzip or none');
const out = path.resolve(values.out ?? path.join(root, 'build/berth-agent-oci'));
const work = mkdtempSync(path.join(os.tmpdir(), 'berth-agent-image-'));

try {
  const pkgDir = values.package ? path.resolve(values.package) : path.join(work, 'package');
  if (!values.package) execFileSync(process.execPath, [path.join(root, 'scripts/package.mjs'), '--out', pkgDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const info = JSON.parse(readFileSync(path.join(pkgDir, 'berth-package.json'), 'utf8'));
  const tag = values.tag ?? info.version;

  // The root filesystem: the package, nsenter, and every shared library their ELF files need.
  const rootfs = path.join(work, 'rootfs');
  cpSync(pkgDir, path.join(rootfs, 'opt/berth'), { recursive: true, verbatimSymlinks: true });
  const nsenter = execFileSync('sh', ['-c', 'command -v nsenter'], { encoding: 'utf8' }).trim();
  const place = (file) => {
    const dest = path.join(rootfs, file);
    if (existsSync(dest)) return;
    mkdirSync(path.dirname(dest), { recursive: true });
    cpSync(file, dest, { dereference: true });
  };
  place(nsenter);
  // Debian's node reads this CA bundle at start (and warns without it).
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) place('/etc/ssl/certs/ca-certificates.crt');
  const elves = [path.join(rootfs, 'opt/berth/node/bin/node'), path.join(rootfs, nsenter)];
  const findAddons = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) findAddons(p);
      else if (e.name.endsWith('.node')) elves.push(p);
    }
  };
  findAddons(path.join(rootfs, 'opt/berth/node_modules'));
  for (const elf of elves) {
    let ldd = '';
    try {
      ldd = execFileSync('ldd', [elf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue; // another architecture's prebuilt addon, or static
    }
    for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) place(m[1]);
  }
  mkdirSync(path.join(rootfs, 'tmp'));
  chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/sbin/nologin\n');
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\n');

  // One layer, reproducible (sorted names, owner 0, mtime 0); the diff ID is the tar's digest.
  const tar = path.join(work, 'layer.tar');
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', tar, '.']);
  const sha = async (file) => {
    const h = createHash('sha256');
    await pipeline(createReadStream(file), h);
    return h.digest('hex');
  };
  const diffId = `sha256:${await sha(tar)}`;
  let layerFile = tar;
  if (compress === 'gzip') {
    layerFile = `${tar}.gz`;
    await pipeline(createReadStream(tar), createGzip(), createWriteStream(layerFile));
  }

  rmSync(out, { recursive: true, force: true });
  const blobs = path.join(out, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const addBlob = async (file) => {
    const hex = await sha(file);
    renameSync(file, path.join(blobs, hex));
    return { digest: `sha256:${hex}`, size: statSync(path.join(blobs, hex)).size };
  };
  const addJson = (obj) => {
    const text = JSON.stringify(obj);
    const hex = createHash('sha256').update(text).digest('hex');
    writeFileSync(path.join(blobs, hex), text);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(text) };
  };
  const layer = await addBlob(layerFile);
  const config = addJson({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: {
      Entrypoint: ['/opt/berth/node/bin/node', '/opt/berth/dist/cmd/berth/main.js'],
      Cmd: ['agent'],
      Env: ['PATH=/opt/berth/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      WorkingDir: '/',
      Labels: { 'org.opencontainers.image.title': 'berth-agent', 'org.opencontainers.image.version': info.version, 'io.berth.package.tree-hash': info.treeHash },
    },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'scripts/agent-image.mjs' }],
  });
  const layerType = compress === 'gzip' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar';
  const manifest = addJson({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: layerType, ...layer }],
  });
  writeFileSync(path.join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(out, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { architecture: 'amd64', os: 'linux' }, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  process.stdout.write(`${out} ${tag} ${manifest.digest}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
