// A paying gateway with the marketplace on and no backend of its own, and Owlrun agent
// simulators joining it; the money checks every marketplace test makes.
import assert from 'node:assert/strict';
import { OwlrunAgent, type OwlrunAgentOptions } from '../../src/simulator/owlrun-agent.js';
import { PaidEnv, type PaidEnvOptions } from './paid-env.js';

export const ADMIN_KEY = 'admin-key';

export const MARKETPLACE_CONFIG = {
  backends: [],
  providers: [],
  admin: { key: ADMIN_KEY },
  marketplace: { enabled: true, openRegistration: true, acceptTimeoutMs: 3000, firstChunkTimeoutMs: 3000, chunkGapTimeoutMs: 3000, jobTimeoutMs: 15_000, pingIntervalSeconds: 1 },
};

export async function startMarketplace(opts: PaidEnvOptions = {}): Promise<PaidEnv> {
  return PaidEnv.start({ ...opts, config: { ...MARKETPLACE_CONFIG, ...(opts.config ?? {}) } });
}

/** An agent with test timings (heartbeats every 200 ms, delays scaled down 100×; no automatic payout unless asked), connected. */
export async function joinAgent(env: PaidEnv, o: Partial<OwlrunAgentOptions> = {}, gateway = env.gw.url): Promise<OwlrunAgent> {
  const agent = new OwlrunAgent({ gateway, heartbeatMs: 200, timeScale: 0.01, autoWithdraw: false, ...o });
  await agent.start();
  await waitFor(async () => (await modelNodes(gateway, agent.models[0]!)) > 0, 'the agent\'s model is listed');
  return agent;
}

/** How many nodes /v1/models says serve a model. */
export async function modelNodes(gateway: string, model: string): Promise<number> {
  const list = (await (await fetch(`${gateway}/v1/models`)).json()) as { data: { id: string; nodes: number }[] };
  return list.data.find((m) => m.id === model)?.nodes ?? 0;
}

export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET /admin/ledger agrees with the store, and balances. */
export async function assertLedger(env: PaidEnv): Promise<Record<string, unknown>> {
  const books = await env.assertBooksBalance();
  const res = await fetch(`${env.gw.url}/admin/ledger`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const l = (await res.json()) as Record<string, unknown>;
  assert.equal(l.balanced, true, 'the ledger balances');
  assert.equal(l.held_sats, books.held);
  assert.equal(l.pending_change_sats, 0, 'no job left unsettled');
  return l;
}

export async function providerBalance(env: PaidEnv, key: string): Promise<{ provider: string; balance_sats: number; earned_sats: number; jobs: number }> {
  const res = await fetch(`${env.gw.url}/v1/provider/balance`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as { provider: string; balance_sats: number; earned_sats: number; jobs: number };
}
