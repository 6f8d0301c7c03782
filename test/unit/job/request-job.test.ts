import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ClientWatch } from '../../../src/job/client-watch.js';
import { JOB_PROTOTYPE, type RequestJob } from '../../../src/job/request-job.js';
import { jsonBodyEvent } from '../../../src/stream/json-body.js';

/** Own properties defined by a getter or setter (what must stay on a prototype). */
function ownAccessors(o: object): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(o))
    .filter(([, d]) => d.get !== undefined || d.set !== undefined)
    .map(([k]) => k);
}

/** A response that only emits 'close' (all ClientWatch looks at). */
function fakeResponse(): ServerResponse & EventEmitter {
  return Object.assign(new EventEmitter(), { writableFinished: false }) as unknown as ServerResponse & EventEmitter;
}

/** A job as runJob shapes it (src/job/run.ts), reduced to what the prototype reads. */
const jobOf = (res: ServerResponse) => ({ __proto__: JOB_PROTOTYPE, client: new ClientWatch(res) }) as unknown as RequestJob;

// Per-request objects with own accessors (an object literal with `get`) made V8 keep every
// request's objects through young-generation GCs until a full GC: the heap grew to four times its
// live size under load (issue 13). Accessors of per-request objects live on a prototype.
describe('per-request objects', () => {
  it("a job's signal comes from the shared prototype: made on first read, one per job, aborted when the client leaves", () => {
    const res = fakeResponse();
    const job = jobOf(res);
    assert.deepEqual(ownAccessors(job), []);
    assert.deepEqual(ownAccessors(JOB_PROTOTYPE), ['signal']);
    const signal = job.signal;
    assert.equal(signal, job.signal, 'one signal per job');
    assert.equal(signal.aborted, false);
    res.emit('close');
    assert.equal(signal.aborted, true, 'aborted when the client goes away');
  });

  it('a signal first read after the client left is aborted at once', () => {
    const res = fakeResponse();
    const job = jobOf(res);
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
