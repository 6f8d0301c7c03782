import assert from 'node:assert/strict';
import { getEncodedToken, type Proof } from '@cashu/cashu-ts';
import type { OwlrunAgent } from '../../src/simulator/owlrun-agent.js';
import { asChange, post, sseData } from '../helpers/paid-stream.js';
import type { PaidEnv } from '../helpers/paid-env.js';
import { assertLedger, joinAgent, providerBalance, startMarketplace, waitFor } from '../helpers/marketplace.js';

const chat = { model: 'mock:latest', stream: true, messages: [{ role: 'user', content: 'Hello' }] };

describe('marketplace: the agent\'s automatic payout', () => {
  let env: PaidEnv | undefined;
  let agent: OwlrunAgent | undefined;
  afterEach(async () => {
    agent?.kill();
    await env?.close();
    env = undefined;
  });

  it('at 10 sats acked the agent withdraws by itself; it reads the padded cashuA token and its proofs are spendable at the mint', async () => {
    env = await startMarketplace();
    agent = await joinAgent(env, { autoWithdraw: true });
    for (let i = 0; i < 2; i++) {
      const res = await post(env, '/v1/chat/completions', chat, { 'x-cashu': await env.token(20) });
      const change = asChange(sseData(await res.text()).at(-1));
      assert.equal(change.cost_sats, 10);
      assert.equal(await env.redeem(change.token), 10);
    }
    await waitFor(() => agent!.wallet.claims.length === 1, 'the agent withdrew');
    const claim = agent.wallet.claims[0]!;
    assert.deepEqual(agent.wallet.errors, [], 'the agent could read its payout');
    assert.match(claim.token, /^cashuA[A-Za-z0-9_-]+={0,2}$/);
    assert.equal(claim.token.slice(6).length % 4, 0, 'padded base64');
    assert.equal(claim.amount_sats, 18);
    assert.equal(agent.wallet.balance, 18, 'the proofs the agent parsed hold the 18 sats it earned');
    assert.equal(claim.parsed!.mint, env.mintUrl);

    // The proofs as the agent stored them are real money at the mint.
    const proofs = claim.parsed!.proofs as unknown as Proof[];
    const states = await env.client.checkProofsStates(proofs);
    assert.ok(states.every((s) => s.state === 'UNSPENT'));
    assert.equal(await env.redeem(getEncodedToken({ mint: env.mintUrl, proofs })), 18);

    const balance = await providerBalance(env, agent.key);
    assert.equal(balance.balance_sats, 0);
    assert.equal(balance.earned_sats, 18);
    await waitFor(() => agent!.stats?.balance_sats === 0, 'the next heartbeat_ack shows the balance gone');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(agent.wallet.claims.length, 1, 'no second withdrawal');
    const l = await assertLedger(env);
    assert.equal(l.withdrawn_sats, 18);
  });
});
