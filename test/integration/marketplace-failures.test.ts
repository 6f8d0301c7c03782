import assert from 'node:assert/strict';
import type { OwlrunAgent } from '../../src/simulator/owlrun-agent.js';
import { asChange, post, sseData, streamedText } from '../helpers/paid-stream.js';
import type { PaidEnv } from '../helpers/paid-env.js';
import { assertLedger, joinAgent, modelNodes, providerBalance, startMarketplace, waitFor } from '../helpers/marketplace.js';

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'mock:latest', messages: [{ role: 'user', content: 'Hello' }], ...extra });

async function metric(env: PaidEnv, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${env.gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A refused paid request: the whole token comes back as change (the claim already happened), the books balance. */
async function assertRefunded(env: PaidEnv, res: Response, paid: number, status: number): Promise<void> {
  assert.equal(res.status, status, await res.clone().text());
  assert.equal(res.headers.get('x-cashu-change-sats'), String(paid));
  assert.equal(await env.redeem(res.headers.get('x-cashu-change')!), paid);
  const l = await assertLedger(env);
  assert.equal(l.provider_balances_sats, 0);
}

describe('marketplace: agents that refuse, go silent, die or lose their buyer', () => {
  let env: PaidEnv | undefined;
  const agents: OwlrunAgent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.kill();
    await env?.close();
    env = undefined;
  });
  const join = async (o: Parameters<typeof joinAgent>[1] = {}) => {
    const a = await joinAgent(env!, o);
    agents.push(a);
    return a;
  };

  it('a node that rejects the offer is passed over before anything streams; the next node serves', async () => {
    env = await startMarketplace();
    const refuser = await join({ behaviour: 'reject' });
    const server = await join();
    await waitFor(async () => (await modelNodes(env!.gw.url, 'mock:latest')) === 2, 'both nodes listed');
    let jobs = 0;
    while (refuser.offers === 0 && jobs < 6) {
      const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(30) });
      const change = asChange(sseData(await res.text()).at(-1));
      assert.equal(change.cost_sats, 10, 'every job was served');
      assert.equal(await env.redeem(change.token), 20);
      jobs++;
    }
    assert.ok(refuser.offers > 0, 'the refuser was offered a job');
    assert.equal(await metric(env, 'owlrun_marketplace_jobs_total', 'event="rejected"'), refuser.offers);
    assert.equal(await metric(env, 'owlrun_marketplace_jobs_total', 'event="offered"'), jobs + refuser.offers);
    assert.equal(refuser.fetched.size, 0);
    assert.equal(server.fetched.size, jobs);
    assert.equal((await providerBalance(env, refuser.key)).earned_sats, 0);
    assert.equal((await providerBalance(env, server.key)).earned_sats, 9 * jobs);
    await assertLedger(env);
  });

  it('every node rejecting: 503 backend_unavailable, the whole payment back as change', async () => {
    env = await startMarketplace();
    await join({ behaviour: 'reject' });
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(30) });
    await assertRefunded(env, res, 30, 503);
  });

  it('an agent silent after accepting: the job times out before any output and is refunded', async () => {
    env = await startMarketplace();
    await join({ behaviour: 'silent' });
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(30) });
    await assertRefunded(env, res, 30, 503);
    assert.equal(await metric(env, 'owlrun_marketplace_jobs_total', 'event="timed_out"'), 1);
  });

  it('an agent whose Ollama fails after fetching (sends nothing more) is timed out and the job moves to the next node', async () => {
    env = await startMarketplace();
    const broken = await join({ behaviour: 'ollama-error' });
    const good = await join();
    await waitFor(async () => (await modelNodes(env!.gw.url, 'mock:latest')) === 2, 'both nodes listed');
    let jobs = 0;
    while (broken.offers === 0 && jobs < 6) {
      const res = await post(env, '/v1/chat/completions', chat({ stream: false }), { 'x-cashu': await env.token(30) });
      assert.equal(res.status, 200);
      assert.equal(await env.redeem(res.headers.get('x-cashu-change')!), 20);
      jobs++;
    }
    assert.equal(broken.fetched.size, 1, 'the broken node took one job and failed it');
    assert.equal(good.fetched.size, jobs, 'every job was served by the good node');
    assert.equal((await providerBalance(env, broken.key)).balance_sats, 0);
    await assertLedger(env);
  });

  it('an agent killed mid-stream: the buyer\'s stream ends with [DONE] and change for what was not delivered; the node leaves', async () => {
    env = await startMarketplace();
    const agent = await join({ behaviour: 'die-mid-stream', dieAfterChunks: 3 });
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(100) });
    const data = sseData(await res.text());
    assert.equal(streamedText(data), 'This is a ');
    assert.equal(data.at(-2), '[DONE]');
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats + change.change_sats, 100);
    assert.ok(change.cost_sats >= 2 && change.cost_sats < 10, `billed for 3 delivered words only (cost ${change.cost_sats})`);
    assert.equal(await env.redeem(change.token), change.change_sats);
    assert.equal(await modelNodes(env.gw.url, 'mock:latest'), 0);
    const l = await assertLedger(env);
    assert.equal(l.held_sats, change.cost_sats);
    assert.equal(agent.fetched.size, 1);
  });

  it('an agent that never sends proxy_done: the stream ends at the gap timeout, billed for what was delivered', async () => {
    env = await startMarketplace();
    await join({ behaviour: 'no-done' });
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(100) });
    const data = sseData(await res.text());
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats, 10);
    assert.equal(await env.redeem(change.token), 90);
    assert.equal(await metric(env, 'owlrun_marketplace_jobs_total', 'event="timed_out"'), 1);
    await assertLedger(env);
  });

  it('a buyer who leaves stops the relay: the node streams on, its chunks are dropped, the change waits at the receipt', async () => {
    env = await startMarketplace();
    const words = Array.from({ length: 40 }, (_, i) => `w${i} `);
    const agent = await join({ answer: { words, wordDelayMs: 50 } });
    const abort = new AbortController();
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(100) }, abort.signal);
    const receipt = res.headers.get('x-cashu-receipt')!;
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    const sentAtAbort = agent.chunksSent;
    await waitFor(async () => ((await (await fetch(`${env!.gw.url}/v1/change/${receipt}`)).json()) as { status: string }).status === 'settled', 'the job settled');
    await waitFor(() => agent.chunksSent > sentAtAbort + 5, 'the agent kept streaming (it cannot be stopped)');
    const settled = (await (await fetch(`${env.gw.url}/v1/change/${receipt}`)).json()) as { token: string; change_sats: number; cost_sats: number };
    assert.equal(settled.cost_sats + settled.change_sats, 100);
    assert.ok(settled.cost_sats < 40, 'billed for what reached the buyer, not what the node produced after');
    assert.equal(await env.redeem(settled.token), settled.change_sats);
    await assertLedger(env);
  });

  it('a lying agent (usage 1e6) is billed the gateway\'s own count, never past the buyer\'s max_tokens', async () => {
    env = await startMarketplace();
    await join({ answer: { usage: { prompt: 1_000_000, completion: 1_000_000 } } });
    const res = await post(env, '/v1/chat/completions', chat({ stream: true, max_tokens: 5 }), { 'x-cashu': await env.token(500) });
    const change = asChange(sseData(await res.text()).at(-1));
    assert.equal(change.cost_sats + change.change_sats, 500);
    assert.ok(change.cost_sats <= 7, `at most 5 completion tokens and the prompt estimate (cost ${change.cost_sats})`);
    assert.equal(await env.redeem(change.token), change.change_sats);
    const disputes = (await (await fetch(`${env.gw.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('owlrun_usage_disputes_total{'));
    assert.ok(disputes.some((l) => Number(l.split(' ').at(-1)) > 0), 'the lie is counted as a dispute');
    await assertLedger(env);
  });

  it('marketplace nodes serve /v1/chat/completions only: other routes for their models answer 404 with the token echoed', async () => {
    env = await startMarketplace();
    await join();
    for (const [path, body] of [['/v1/completions', { model: 'mock:latest', prompt: 'Hi' }], ['/api/chat', chat()], ['/api/generate', { model: 'mock:latest', prompt: 'Hi' }]] as const) {
      const token = await env.token(20);
      const res = await post(env, path, body, { 'x-cashu': token });
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'no_backend_for_model');
      assert.equal(res.headers.get('x-cashu-change'), token);
    }
    await assertLedger(env);
  });
});
