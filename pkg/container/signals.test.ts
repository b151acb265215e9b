import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_PATH } from '../cri/proto.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { effectiveStopSignal, parseSignal, signalFromCri, signalName, signalToCri } from './signals.js';

/** The Signal enum of proto/api.proto: name → number. */
function criEnum(): Record<string, number> {
  const def = protoLoader.loadSync(PROTO_PATH, { keepCase: true });
  const e = def['runtime.v1.Signal'] as unknown as { type: { value: { name: string; number: number }[] } };
  return Object.fromEntries(e.type.value.map((v) => [v.name, v.number]));
}

describe('stop signals', () => {
  it('image StopSignal forms: with and without SIG, numbers, any case, real-time offsets', () => {
    for (const s of ['SIGUSR1', 'USR1', 'usr1', 'SigUsr1', '10', ' SIGUSR1 ']) assert.equal(parseSignal(s), 10, s);
    assert.equal(parseSignal('SIGTERM'), constants.signals.SIGTERM);
    assert.equal(parseSignal('SIGKILL'), 9);
    assert.equal(parseSignal('RTMIN'), 34);
    assert.equal(parseSignal('RTMIN+3'), 37);
    assert.equal(parseSignal('SIGRTMIN+3'), 37);
    assert.equal(parseSignal('SIGRTMAX-1'), 63);
    assert.equal(parseSignal('SIGRTMAX'), 64);
    assert.equal(parseSignal('SIGIOT'), 6, 'aliases');
    assert.equal(parseSignal('SIGCLD'), 17);
    assert.equal(parseSignal('SIGPOLL'), 29);
    for (const bad of ['', 'SIGFOO', '0', '65', '-1', 'RTMIN+31', 'RTMAX-31', 'SIG', '15x']) assert.equal(parseSignal(bad), undefined, bad);
  });

  it('every CRI enum value maps to the Linux signal of its name, by number and by name with or without SIGNAL_', () => {
    const e = criEnum();
    assert.equal(Object.keys(e).length, 66);
    for (const [name, num] of Object.entries(e)) {
      if (name === 'RUNTIME_DEFAULT') {
        for (const v of [num, name, `SIGNAL_${name}`]) assert.equal(signalFromCri(v), undefined);
        continue;
      }
      const linux = signalFromCri(num);
      assert.ok(linux !== undefined, name);
      assert.equal(signalFromCri(name), linux, name);
      assert.equal(signalFromCri(`SIGNAL_${name}`), linux, `SIGNAL_${name}`);
      assert.equal(signalFromCri(String(num)), linux, `"${num}"`);
      // Names Node knows must agree with the kernel's numbers.
      const known = (constants.signals as Record<string, number>)[name];
      if (known !== undefined) assert.equal(linux, known, name);
      // Back to CRI: the same number, or the canonical name's for an alias.
      const back = signalToCri(linux);
      assert.equal(signalFromCri(back), linux, name);
      if (!['SIGCLD', 'SIGIOT', 'SIGPOLL'].includes(name)) assert.equal(back, num, name);
    }
    assert.equal(signalFromCri(e.SIGRTMINPLUS3), 37);
    assert.equal(signalFromCri(e.SIGRTMAXMINUS14), 50);
    assert.equal(signalFromCri(e.SIGRTMAX), 64);
    assert.equal(signalToCri(constants.signals.SIGTERM), e.SIGTERM);
    assert.equal(signalToCri(6), e.SIGABRT);
    assert.equal(signalFromCri(66), undefined, 'a number past the enum');
    assert.equal(signalFromCri(null), undefined);
    assert.equal(signalFromCri(''), undefined);
  });

  it('names are the canonical ones', () => {
    assert.equal(signalName(15), 'SIGTERM');
    assert.equal(signalName(6), 'SIGABRT');
    assert.equal(signalName(34), 'SIGRTMIN');
    assert.equal(signalName(37), 'SIGRTMIN+3');
    assert.equal(signalName(50), 'SIGRTMAX-14');
    assert.equal(signalName(64), 'SIGRTMAX');
    for (let n = 1; n <= 64; n++) if (n !== 32 && n !== 33) assert.equal(parseSignal(signalName(n)), n, String(n));
  });

  it('the CRI stop_signal overrides the image StopSignal; SIGTERM by default; an unreadable image signal is refused', () => {
    assert.equal(effectiveStopSignal(undefined, undefined, 'img'), 15);
    assert.equal(effectiveStopSignal(undefined, '', 'img'), 15);
    assert.equal(effectiveStopSignal(undefined, 'SIGUSR1', 'img'), 10);
    assert.equal(effectiveStopSignal(2, 'SIGUSR1', 'img'), 2);
    assert.equal(effectiveStopSignal(2, 'SIGBOGUS', 'img'), 2, 'an override makes the image value moot');
    assert.throws(() => effectiveStopSignal(undefined, 'SIGBOGUS', 'img'), (err: Error) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /image "img".*"SIGBOGUS"/);
      return true;
    });
  });
});
