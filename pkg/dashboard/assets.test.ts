// The modulepreload list: the import graph of tsc's output, followed from the page's entry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { importGraph, withPreloads } from './assets.js';

const SOURCES: Record<string, string> = {
  'main.js': "// entry\nimport { a } from './a.js';\nimport { b, c } from './b.js';\nconst s = \"import x from './not-an-import.js'\";\n",
  'a.js': "import { c } from './c.js';\nexport { d } from './d.js';\nexport const a = 1;\n",
  'b.js': "import './a.js';\nimport { early } from './early.js';\nexport const b = 2;\n",
  'c.js': "import { a } from './a.js';\nexport const c = 3;\n",
  'd.js': 'export const d = 4;\n',
  'early.js': 'export const early = 5;\n',
  'unused.js': 'export {};\n',
};
const source = (name: string) => SOURCES[name];

describe('dashboard assets', () => {
  it('follows imports and re-exports transitively, once each, cycles included', () => {
    assert.deepEqual(importGraph('main.js', source), ['a.js', 'b.js', 'c.js', 'd.js', 'early.js', 'main.js']);
  });

  it('ignores text that only looks like an import, and a module that is missing', () => {
    assert.deepEqual(importGraph('main.js', (n) => (n === 'a.js' ? undefined : source(n))), ['a.js', 'b.js', 'early.js', 'main.js']);
  });

  it('writes a link per module at the mark, leaving out the scripts index.html loads itself', () => {
    const html = withPreloads('<head>\n  <!-- modulepreload -->\n</head>', source);
    assert.equal(html, ['<head>', ...['a', 'b', 'c', 'd'].map((m) => `  <link rel="modulepreload" href="/assets/${m}.js">`), '</head>'].join('\n'));
  });
});
