import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ClientWatch } from '../../../src/job/client-watch.js';

/** A response that only emits 'close' (all ClientWatch looks at); `finished`: it ended normally. */
function fakeResponse(finished = false): ServerResponse & EventEmitter {
  return Object.assign(new EventEmitter(), { writableFinished: finished }) as unknown as ServerResponse & EventEmitter;
}

describe('client watch', () => {
  it('one signal, aborted and gone when the response closes unfinished', () => {
    const res = fakeResponse();
    const watch = new ClientWatch(res);
    const signal = watch.signal;
    assert.equal(signal, watch.signal, 'one signal per job');
    assert.equal(signal.aborted, false);
    assert.equal(watch.gone, false);
    res.emit('close');
    assert.equal(watch.gone, true);
    assert.equal(signal.aborted, true);
  });

  it('a signal first asked for after the client left is aborted at once', () => {
    const res = fakeResponse();
    const watch = new ClientWatch(res);
    res.emit('close');
    assert.equal(watch.signal.aborted, true);
  });

  it('a response that finished normally is not a client gone', () => {
    const res = fakeResponse(true);
    const watch = new ClientWatch(res);
    res.emit('close');
    assert.equal(watch.gone, false);
    assert.equal(watch.signal.aborted, false);
  });
});

describe('client watch: onGone', () => {
  it('is called once when the client leaves, not when the response finished', () => {
    let calls = 0;
    const left = fakeResponse();
    const watch = new ClientWatch(left);
    watch.onGone = () => void calls++;
    left.emit('close');
    assert.equal(calls, 1);
    const finished = fakeResponse(true);
    const done = new ClientWatch(finished);
    done.onGone = () => void calls++;
    finished.emit('close');
    assert.equal(calls, 1);
    assert.equal(done.gone, false);
  });
});
