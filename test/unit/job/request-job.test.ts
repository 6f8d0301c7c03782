import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ClientWatch } from '../../../src/job/client-watch.js';
import { RequestJob } from '../../../src/job/request-job.js';
import { jsonBodyEvent } from '../../../src/stream/json-body.js';

/** Own properties defined by a getter or setter (what must stay on the prototype). */
function ownAccessors(o: object): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(o))
    .filter(([, d]) => d.get !== undefined || d.set !== undefined)
    .map(([k]) => k);
}

/** A response that only emits 'close' (all ClientWatch looks at). */
function fakeResponse(): ServerResponse & EventEmitter {
  return Object.assign(new EventEmitter(), { writableFinished: false }) as unknown as ServerResponse & EventEmitter;
}

function newJob(res = fakeResponse()): RequestJob {
  const raw = Buffer.from('{"model":"m","stream":false}');
  return new RequestJob('openai_chat', '/v1/chat/completions', 'm', false, '127.0.0.1', { host: 'x' }, raw, JSON.parse(raw.toString()) as Record<string, unknown>, true, new ClientWatch(res));
}

// Per-request objects with own accessors (an object literal with `get`) made V8 keep every
// request's objects through young-generation GCs until a full GC: the heap grew to four times its
// live size under load (issue 13). These objects are made once per request and handed to plugins.
describe('per-request objects', () => {
  it('a job has no own accessor properties; signal and admit work from the prototype', async () => {
    const res = fakeResponse();
    const job = newJob(res);
    assert.deepEqual(ownAccessors(job), []);
    await assert.rejects(job.admit(), /job not started/);
    job.admitter = () => Promise.resolve({ ok: true });
    assert.deepEqual(await job.admit(), { ok: true });
    const signal = job.signal;
    assert.equal(signal, job.signal, 'one signal per job');
    assert.equal(signal.aborted, false);
    res.emit('close');
    assert.equal(signal.aborted, true, 'aborted when the client goes away');
  });

  it('a job made after the client left has its signal aborted at once', () => {
    const res = fakeResponse();
    const job = newJob(res);
    res.emit('close');
    assert.equal(job.signal.aborted, true);
  });

  it('a non-streaming body event has no own accessor properties; data decoded and parsed when read, once', () => {
    const ev = jsonBodyEvent(Buffer.from('{"usage":{"completion_tokens":3}}'));
    assert.deepEqual(ownAccessors(ev), []);
    assert.equal(ev.format, 'json');
    assert.equal(ev.terminal, true);
    assert.equal(ev.data, '{"usage":{"completion_tokens":3}}');
    assert.deepEqual(ev.json(), { usage: { completion_tokens: 3 } });
    assert.equal(ev.json(), ev.json(), 'parsed once');
    assert.equal(jsonBodyEvent(Buffer.from('not json')).json(), undefined);
  });
});
