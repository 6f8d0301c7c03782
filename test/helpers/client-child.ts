// A wallet in a process of its own, for tests that kill it: `node --import tsx client-child.ts
// FILE MINT GATEWAY MODEL MODE`. MODE "streaming": pays for a streamed chat and reads it slowly;
// "unsent": pays, but the request never leaves (its fetch hangs). Prints "paid" once the payment
// is recorded in the file (streaming: once the response has started), then waits to be killed.
import { openWallet } from '../../src/client/index.js';

const [file, mint, gateway, model, mode] = process.argv.slice(2) as [string, string, string, string, string];
const hang = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
  init?.method === 'POST' ? new Promise<Response>(() => process.stdout.write('paid\n')) : fetch(input, init);
const wallet = await openWallet({ file, mint, ...(mode === 'unsent' ? { fetch: hang } : {}) });
const res = await wallet.fetch(`${gateway}/v1/chat/completions`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, stream: true, max_tokens: 40, messages: [{ role: 'user', content: 'a long answer please' }] }),
});
process.stdout.write('paid\n');
const reader = res.body!.getReader();
for (;;) {
  const { done } = await reader.read();
  if (done) break;
  await new Promise((r) => setTimeout(r, 1000));
}
