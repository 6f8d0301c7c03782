import assert from 'node:assert/strict';
import { jsonBodyEvent } from '../../../src/stream/json-body.js';

describe('non-streaming body event', () => {
  // An object literal with an own getter made per request kept what it references alive through
  // young-generation GCs until a full GC (issue 13); the event is a class (accessors on the prototype).
  it('has no own accessor properties; data decoded and parsed when read, once', () => {
    const ev = jsonBodyEvent(Buffer.from('{"usage":{"completion_tokens":3}}'));
    const own = Object.entries(Object.getOwnPropertyDescriptors(ev)).filter(([, d]) => d.get !== undefined || d.set !== undefined);
    assert.deepEqual(own, []);
    assert.equal(ev.format, 'json');
    assert.equal(ev.terminal, true);
    assert.equal(ev.data, '{"usage":{"completion_tokens":3}}');
    assert.deepEqual(ev.json(), { usage: { completion_tokens: 3 } });
    assert.equal(ev.json(), ev.json(), 'parsed once');
    assert.equal(jsonBodyEvent(Buffer.from('not json')).json(), undefined);
  });
});
