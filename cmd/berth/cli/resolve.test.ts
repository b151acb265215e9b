import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from './context.js';
import { pick } from './resolve.js';

interface Item {
  id: string;
  created_at: string;
  name: string;
}

const ITEMS: Item[] = [
  { id: 'abc111', created_at: '1', name: 'web' },
  { id: 'abc222', created_at: '3', name: 'web' },
  { id: 'def333', created_at: '2', name: 'abc' },
];
const find = (key: string) => pick(ITEMS, key, (i) => i.name, 'container');

test('a full ID, then a name (the newest of that name), then a unique ID prefix', () => {
  assert.equal(find('abc111').id, 'abc111');
  assert.equal(find('web').id, 'abc222', 'two with one name: the newest');
  assert.equal(find('abc').id, 'def333', 'a name that looks like a prefix wins');
  assert.equal(find('de').id, 'def333');
});

test('an ambiguous prefix and an unknown key are errors that say so', () => {
  assert.throws(() => find('ab'), (e: Error) => e instanceof CliError && e.message === 'container "ab" is ambiguous: 2 containers have IDs starting with it');
  assert.throws(() => find('zzz'), (e: Error) => e instanceof CliError && e.message === 'no such container: zzz');
  assert.throws(() => find(''), /no such container: $/);
});
