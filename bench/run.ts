// `npm run bench`: runs every benchmark in dist/bench (each a standalone script printing JSON),
// one after another so they do not disturb each other, and prints all results.
// Arguments select benchmarks by name: `npm run bench -- foundation pull`; the other arguments
// go to each selected benchmark: `npm run bench -- compare --quick`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const skip = new Set(['run.js', 'summary.js', 'containerd.js', 'compare-figures.js', 'page-timing.js']);
// Long runs with their own arguments (kills, duration): only when named.
const onlyNamed = new Set(['chaos.js', 'soak.js', 'lifecycle-rss.js']);
const all = readdirSync(here).filter((f) => f.endsWith('.js') && !skip.has(f) && !f.endsWith('.test.js'));
const isBench = (a: string) => all.includes(`${a}.js`);
const wanted = process.argv.slice(2).filter(isBench);
const passed = process.argv.slice(2).filter((a) => !isBench(a));
// A word that names no benchmark would otherwise select none, and so run them all.
const stray = passed.find((a) => !a.startsWith('-') && Number.isNaN(Number(a)));
if (!wanted.length && stray !== undefined) {
  console.error(`bench: no benchmark named "${stray}" (benchmarks: ${all.map((f) => f.replace(/\.js$/, '')).join(', ')})`);
  process.exit(2);
}
const benches = all
  .filter((f) => !onlyNamed.has(f) || wanted.includes(f.replace(/\.js$/, '')))
  .filter((f) => !wanted.length || wanted.includes(f.replace(/\.js$/, '')));
let failed = 0;
for (const f of benches) {
  console.error(`bench: ${f}`);
  const r = spawnSync(process.execPath, [path.join(here, f), ...passed], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
  if (r.status !== 0) {
    failed++;
    console.error(`bench: ${f} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
