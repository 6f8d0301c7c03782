import assert from 'node:assert/strict';
import type { Proof } from '@cashu/cashu-ts';
import { PaidEnv } from '../helpers/paid-env.js';
import { chatBody, post } from '../helpers/paid-stream.js';

// The Owlrun node agent's payout: POST /v1/provider/withdraw-ecash with `{}` and its own key
// (`owlr_prov_` + 48 hex). It parses only a Cashu V3 `cashuA` token whose base64 (URL-safe or
// standard) is padded with "=", keeps the proofs of token[0], and never talks to a mint itself.

const AGENT_KEY = 'owlr_prov_' + 'ab'.repeat(24);
/** The agent's key is a configured provider key here; the marketplace (on) gives such keys padded payouts. */
const CONFIG = { providers: [{ id: 'alice', key: 'alice-key' }, { id: 'owlr-node', key: AGENT_KEY }], marketplace: { enabled: true } };

/** The agent's parser: strict padded base64 (URL-safe, else standard) of V3 JSON; proofs of token[0]; null for anything else. */
function parseAsAgent(token: string): { mint: string; proofs: Proof[] } | null {
  if (!token.startsWith('cashuA')) return null;
  const b64 = token.slice('cashuA'.length);
  const strict = (alphabet: RegExp) => b64.length % 4 === 0 && alphabet.test(b64);
  if (!strict(/^[A-Za-z0-9_-]*={0,2}$/) && !strict(/^[A-Za-z0-9+/]*={0,2}$/)) return null;
  const json = JSON.parse(Buffer.from(b64.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as { token?: { mint: string; proofs: Proof[] }[] };
  return json.token?.[0] ?? null;
}

async function withdraw(env: PaidEnv, key: string, body: Record<string, unknown> = {}) {
  const res = await fetch(env.gw.url + '/v1/provider/withdraw-ecash', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { token: string; amount_sats: number } };
}

describe('provider payouts the Owlrun node agent understands (exact and swapped payouts, formats)', () => {
  let env: PaidEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  const earn = async (e: PaidEnv, jobs: number) => {
    for (let i = 0; i < jobs; i++) {
      const res = await post(e, '/v1/chat/completions', chatBody(e), { 'x-cashu': await e.token(100) });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  };

  it('an agent key withdrawing with {} gets a padded cashuA token whose token[0] proofs redeem at the mint for amount_sats', async () => {
    const e = (env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30 }, config: CONFIG, node: { provider: 'owlr-node' } }));
    await earn(e, 2);
    const before = await e.assertBooksBalance();
    const w = await withdraw(e, AGENT_KEY);
    assert.equal(w.status, 200, JSON.stringify(w.body));
    assert.match(w.body.token, /^cashuA[A-Za-z0-9_-]+={0,2}$/);
    assert.equal((w.body.token.length - 'cashuA'.length) % 4, 0, 'padded');
    const parsed = parseAsAgent(w.body.token);
    assert.ok(parsed, 'the agent can read it');
    assert.equal(parsed.mint, e.mintUrl);
    const sum = parsed.proofs.reduce((s, p) => s + Number(p.amount), 0);
    assert.equal(sum, w.body.amount_sats);
    assert.equal(w.body.amount_sats, before.providers, 'the whole balance');
    const received = await e.client.receive({ mint: parsed.mint, proofs: parsed.proofs, unit: 'sat' });
    assert.equal(received.reduce((s, p) => s + Number(p.amount), 0), sum, 'spendable at the mint');
    const after = await e.assertBooksBalance();
    assert.equal(after.providers, 0);
    assert.equal(after.held, before.held - sum);
  });

  it('when the payout needs a swap, the swapped proofs come padded too', async () => {
    const e = (env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30 }, config: CONFIG, node: { provider: 'owlr-node' } }));
    await earn(e, 1); // held proofs 1, 2, 4, 8, 16 (claims are split so any change is exact)
    // The 1-sat proof goes first (an exact payout); then no subset makes 1: one swap pays it.
    assert.ok(parseAsAgent((await withdraw(e, AGENT_KEY, { amount_sats: 1 })).body.token));
    const held = (await e.gw.db.all<{ amount: number }>(`SELECT amount FROM wallet_proofs WHERE state = 'held'`)).map((r) => Number(r.amount));
    const sums = held.reduce((acc, a) => new Set([...acc, ...[...acc].map((s) => s + a)]), new Set([0]));
    const amount = [...Array(27).keys()].map((i) => i + 1).find((n) => !sums.has(n))!;
    assert.ok(amount, `held ${held.join(', ')}`);
    const swaps = e.swaps();
    const w = await withdraw(e, AGENT_KEY, { amount_sats: amount });
    assert.equal(w.status, 200, JSON.stringify(w.body));
    assert.equal(e.swaps(), swaps + 1, 'one swap');
    const parsed = parseAsAgent(w.body.token);
    assert.ok(parsed);
    assert.equal(parsed.proofs.reduce((s, p) => s + Number(p.amount), 0), amount);
    assert.equal((await e.client.receive({ mint: parsed.mint, proofs: parsed.proofs, unit: 'sat' })).reduce((s, p) => s + Number(p.amount), 0), amount);
    await e.assertBooksBalance();
  });

  it('other keys keep cashuB by default; any key may ask for "cashuA-padded" or another format', async () => {
    const e = (env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30 }, config: CONFIG }));
    await earn(e, 2);
    const plain = await withdraw(e, 'alice-key', { amount_sats: 4 });
    assert.match(plain.body.token, /^cashuB/);
    const padded = await withdraw(e, 'alice-key', { amount_sats: 8, format: 'cashuA-padded' });
    assert.equal(parseAsAgent(padded.body.token)?.proofs.reduce((s, p) => s + Number(p.amount), 0), 8);
    const bad = await withdraw(e, 'alice-key', { format: 'cashuZ' });
    assert.equal(bad.status, 400);
    for (const t of [plain.body.token, padded.body.token]) assert.ok((await e.redeem(t)) > 0);
    await e.assertBooksBalance();
  });
});
