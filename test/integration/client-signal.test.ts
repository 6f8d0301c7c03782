import assert from 'node:assert/strict';
import type { Gateway } from '../../src/gateway.js';
import { ClientWatch } from '../../src/job/client-watch.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startReplayServer, type ReplayServer } from '../helpers/replay-server.js';

// V8 (Node 20) gives every AbortSignal a hidden class of its own; such an object, and all it
// references, survives young-generation GCs until a full GC, which grows the heap under load. A
// job that never waits on its client MUST NOT make one.
describe('client signal of a job', () => {
  let backend: ReplayServer;
  let gw: Gateway | undefined;
  const signal = Object.getOwnPropertyDescriptor(ClientWatch.prototype, 'signal')!;
  let asked = 0;

  before(async () => {
    backend = await startReplayServer();
    Object.defineProperty(ClientWatch.prototype, 'signal', {
      ...signal,
      get(this: ClientWatch) {
        asked++;
        return signal.get!.call(this);
      },
    });
  });
  after(async () => {
    Object.defineProperty(ClientWatch.prototype, 'signal', signal);
    await backend.close();
  });
  afterEach(async () => {
    await gw?.shutdown(0);
  });

  it('is not made for a plain job, streamed or not', async () => {
    backend.set('/v1/chat/completions', { headers: { 'content-type': 'application/json' }, body: Buffer.from('{"id":"x","object":"chat.completion","choices":[]}\n') });
    gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: backend.url, models: ['replay'] }] });
    const whole = await fetch(gw.url + '/v1/chat/completions', { method: 'POST', body: '{"model":"replay"}' });
    assert.equal(whole.status, 200);
    await whole.arrayBuffer();
    backend.set('/v1/chat/completions', { headers: { 'content-type': 'text/event-stream' }, body: Buffer.from('data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n') });
    const streamed = await fetch(gw.url + '/v1/chat/completions', { method: 'POST', body: '{"model":"replay","stream":true}' });
    assert.equal(streamed.status, 200);
    await streamed.arrayBuffer();
    assert.equal(asked, 0, 'a job asked for its client signal without waiting on it');
  });
});
