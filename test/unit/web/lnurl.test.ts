import assert from 'node:assert/strict';
import { createFakeInvoice } from '../../../src/devmint/index.js';
import { LightningAddressError, invoiceFromAddress, isLightningAddress } from '../../../src/web/client/lnurl.js';

// Lightning addresses (LUD-16 → LUD-06 payRequest) as the chat page resolves them, against a fake
// service: the network of the development setup reaches no real one.

interface Call {
  url: string;
}

function service(routes: Record<string, unknown>, calls: Call[] = []) {
  return async (url: string): Promise<Response> => {
    calls.push({ url });
    const u = new URL(url);
    const body = routes[u.origin + u.pathname];
    if (body === undefined) throw new TypeError('Failed to fetch');
    return new Response(JSON.stringify(typeof body === 'function' ? (body as (u: URL) => unknown)(u) : body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

const PAY = { tag: 'payRequest', callback: 'https://wallet.example/lnurlp/cb/alice', minSendable: 1000, maxSendable: 100_000_000, metadata: '[["text/plain","alice"]]' };

describe('chat page: Lightning addresses (src/web/client/lnurl.ts)', () => {
  it('recognises name@domain only', () => {
    assert.equal(isLightningAddress(' Alice@wallet.example '), true);
    for (const t of ['lnbc10n1…', 'alice@', '@wallet.example', 'alice@localhost', 'a b@c.d']) assert.equal(isLightningAddress(t), false, t);
  });

  it('asks the well-known endpoint, then its callback with the amount in msat, and returns the invoice', async () => {
    const invoice = createFakeInvoice(21);
    const calls: Call[] = [];
    const fetchFn = service({ 'https://wallet.example/.well-known/lnurlp/alice': PAY, 'https://wallet.example/lnurlp/cb/alice': (u: URL) => ({ pr: u.searchParams.get('amount') === '21000' ? invoice : 'wrong', routes: [] }) }, calls);
    assert.equal(await invoiceFromAddress('Alice@wallet.example', 21, fetchFn), invoice);
    assert.deepEqual(calls.map((c) => c.url), ['https://wallet.example/.well-known/lnurlp/alice', 'https://wallet.example/lnurlp/cb/alice?amount=21000']);
  });

  it('says what went wrong: unreachable, refused, out of range, not https, no invoice', async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{}, 21, /Could not reach wallet\.example to get an invoice for alice@wallet\.example/],
      [{ 'https://wallet.example/.well-known/lnurlp/alice': { status: 'ERROR', reason: 'no such user' } }, 21, /wallet\.example refused: no such user/],
      [{ 'https://wallet.example/.well-known/lnurlp/alice': { ...PAY, minSendable: 100_000 } }, 21, /takes between 100 and 100000 sats/],
      [{ 'https://wallet.example/.well-known/lnurlp/alice': { ...PAY, callback: 'http://wallet.example/cb' } }, 21, /not https/],
      [{ 'https://wallet.example/.well-known/lnurlp/alice': { tag: 'withdrawRequest' } }, 21, /does not take Lightning payments/],
      [{ 'https://wallet.example/.well-known/lnurlp/alice': PAY, 'https://wallet.example/lnurlp/cb/alice': { pr: 42 } }, 21, /gave no invoice/],
    ];
    for (const [routes, sats, message] of cases) {
      await assert.rejects(invoiceFromAddress('alice@wallet.example', sats, service(routes)), (err: unknown) => err instanceof LightningAddressError && message.test(err.message));
    }
  });
});
