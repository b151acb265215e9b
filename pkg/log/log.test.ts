import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, setLogLevel } from './log.js';

describe('log level', () => {
  it('reaches children and grandchildren made before the change', () => {
    const root = createLogger('info');
    const child = root.child({ module: 'images' });
    const grandchild = child.child({ sandbox: 'x' });
    assert.equal(grandchild.isLevelEnabled('debug'), false);
    setLogLevel(root, 'debug');
    assert.deepEqual([root.level, child.level, grandchild.level], ['debug', 'debug', 'debug']);
    assert.equal(grandchild.isLevelEnabled('debug'), true);
    setLogLevel(root, 'warn');
    assert.equal(child.isLevelEnabled('info'), false);
  });
});
