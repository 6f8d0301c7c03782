import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Gateway } from '../../src/gateway.js';
import { OwlrunAgent } from '../../src/simulator/owlrun-agent.js';
import { MOCK_WORDS } from '../../src/simulator/owlrun-mock-ollama.js';
import type { Db } from '../../src/store/db.js';
import { openDb } from '../../src/store/open.js';
import { startTestGateway } from '../helpers/gateway.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { ADMIN_KEY, assertLedger, joinAgent, MARKETPLACE_CONFIG, modelNodes, providerBalance, startMarketplace, waitFor } from '../helpers/marketplace.js';
import { PaidEnv, TEST_PRICING } from '../helpers/paid-env.js';
import { asChange, contentEvents, sseData, streamedText } from '../helpers/paid-stream.js';
import { scratchDatabase, TEST_POSTGRES_URL } from '../helpers/postgres.js';

// Two gateway replicas on one PostgreSQL store, one Owlrun agent connected to one of them
// (replica A): buyers who arrive at the other (replica B) are served by it, and every sat adds
// up in the one shared store, whichever replica the buyer, the agent's socket or its job fetch
// reached, and whoever dies in the middle.

const MOCK_TEXT = MOCK_WORDS.join('');
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'mock:latest', messages: [{ role: 'user', content: 'Hello' }], ...extra });
/** Short timers: replicas renew and read the directory every 100 ms (entries live 500 ms). */
const MARKET = { ...MARKETPLACE_CONFIG.marketplace, replicaSyncMs: 100 };

const buy = (gw: { url: string }, body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal });

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function ledger(url: string): Promise<Record<string, number | boolean>> {
  return (await (await fetch(`${url}/admin/ledger`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as Record<string, number | boolean>;
}

(TEST_POSTGRES_URL ? describe : describe.skip)('marketplace: replicas on one PostgreSQL store share their agents', () => {
  let scratch: { url: string; drop(): Promise<void> };
  const dbs: Db[] = [];
  let env: PaidEnv | undefined;
  let b: Gateway | undefined;
  const agents: OwlrunAgent[] = [];

  const open = async () => {
    const db = await openDb(scratch.url);
    dbs.push(db);
    return db;
  };

  beforeEach(async () => {
    scratch = await scratchDatabase('owlrun_replicas');
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) a.kill();
    await b?.shutdown(0);
    b = undefined;
    await env?.close();
    env = undefined;
    await Promise.all(dbs.splice(0).map((d) => d.close()));
    await scratch.drop();
  });

  /** Replica A (env.gw, with the dev mint) and replica B (b), one store. */
  const twoReplicas = async () => {
    env = await startMarketplace({ db: await open(), config: { marketplace: MARKET } });
    b = await startTestGateway(PaidEnv.config(env.sim, env.mintUrl, { ...MARKETPLACE_CONFIG, marketplace: MARKET }), { db: await open() });
    return { a: env.gw, b, env };
  };

  /** An agent connected to A, listed by B too. */
  const agentAtA = async (o: Parameters<typeof joinAgent>[1] = {}) => {
    const agent = await joinAgent(env!, o);
    agents.push(agent);
    await waitFor(async () => (await modelNodes(b!.url, 'mock:latest')) === 1, 'replica B lists the agent held by A');
    return agent;
  };

  it('a buyer paying at B is streamed by the agent connected to A; B bills, the agent hears job_complete, every sat adds up', async () => {
    const { a, b } = await twoReplicas();
    const agent = await agentAtA();
    const paid = 100;
    const res = await buy(b, chat({ stream: true }), { 'x-cashu': await env!.token(paid), cookie: 'session=secret' });
    assert.equal(res.status, 200);
    const data = sseData(await res.text());
    assert.equal(streamedText(data), MOCK_TEXT);
    assert.equal(data.at(-2), '[DONE]');
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats, 10, '10 prompt tokens at 0.1 sat + 9 completion tokens at 1 sat');
    assert.equal(change.cost_sats + change.change_sats, paid);
    assert.equal(await env!.redeem(change.token), change.change_sats);

    const [, fetched] = [...agent.fetched.entries()][0]!;
    assert.equal(fetched.model, 'mock:latest');
    assert.ok(!JSON.stringify(fetched).includes('secret'), 'nothing of the buyer\'s headers reaches the node');

    // paid = change out + provider earnings + gateway fee, and both replicas read the same books
    const fromA = await providerBalance(env!, agent.key);
    const fromB = (await (await fetch(`${b.url}/v1/provider/balance`, { headers: { authorization: `Bearer ${agent.key}` } })).json()) as { balance_sats: number };
    assert.equal(fromA.balance_sats, 9);
    assert.equal(fromB.balance_sats, 9);
    const books = await env!.assertBooksBalance();
    assert.equal(books.held, change.cost_sats);
    assert.equal(change.change_sats + books.providers + books.gateway, paid);
    for (const url of [a.url, b.url]) {
      const l = await ledger(url);
      assert.equal(l.balanced, true);
      assert.equal(l.pending_change_sats, 0);
    }
    await waitFor(() => agent.completed.length === 1, 'job_complete reached the agent through A');
    assert.equal(agent.completed[0]!.tokens, 19);
    await waitFor(() => agent.stats?.balance_sats === 9000, 'A\'s heartbeat_ack shows the balance B credited (msat)');

    assert.equal(await metric(b.url, 'owlrun_marketplace_forwarded_jobs_total', 'result="streamed"'), 1);
    assert.equal(await metric(a.url, 'owlrun_marketplace_jobs_for_replicas_total'), 1);
    assert.equal(await metric(b.url, 'owlrun_marketplace_replica_nodes'), 1);
    const nodes = (await (await fetch(`${b.url}/v1/provider/nodes`, { headers: { authorization: `Bearer ${agent.key}` } })).json()) as { data: { id: string }[] };
    assert.deepEqual(nodes.data.map((n) => n.id.endsWith(`/${agent.nodeId}`)), [true], 'B lists the agent for its provider');
  });

  it('a buyer at B who asked for no stream gets one chat.completion, the change in X-Cashu-Change', async () => {
    const { b } = await twoReplicas();
    const agent = await agentAtA();
    const res = await buy(b, chat({ stream: false }), { 'x-cashu': await env!.token(50) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; choices: { message: { content: string } }[] };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0]!.message.content, MOCK_TEXT);
    const cost = Number(res.headers.get('x-cashu-cost-sats'));
    assert.equal(cost, 10);
    assert.equal(cost + Number(res.headers.get('x-cashu-change-sats')), 50);
    assert.equal(await env!.redeem(res.headers.get('x-cashu-change')!), 40);
    const l = await assertLedger(env!);
    assert.equal(l.held_sats, 10);
    assert.equal((await providerBalance(env!, agent.key)).earned_sats, 9);
  });

  it('the agent rejecting a job forwarded from B: B answers 503 with the whole token back, as locally', async () => {
    const { b } = await twoReplicas();
    await agentAtA({ behaviour: 'reject' });
    const paid = 30;
    const res = await buy(b, chat({ stream: true }), { 'x-cashu': await env!.token(paid) });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('x-cashu-change-sats'), String(paid));
    assert.equal(await env!.redeem(res.headers.get('x-cashu-change')!), paid);
    const l = await assertLedger(env!);
    assert.equal(l.provider_balances_sats, 0);
    assert.equal(l.held_sats, 0);
    assert.equal(await metric(b.url, 'owlrun_marketplace_forwarded_jobs_total', 'result="refused"'), 1);
  });

  it('the agent killed mid-stream: the buyer at B gets [DONE] and change for what was not delivered; the agent leaves B\'s pool too', async () => {
    const { b } = await twoReplicas();
    const agent = await agentAtA({ behaviour: 'die-mid-stream', dieAfterChunks: 3 });
    const paid = 100;
    const res = await buy(b, chat({ stream: true }), { 'x-cashu': await env!.token(paid) });
    const data = sseData(await res.text());
    assert.equal(streamedText(data), 'This is a ');
    assert.equal(data.at(-2), '[DONE]');
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats + change.change_sats, paid);
    assert.ok(change.cost_sats >= 2 && change.cost_sats < 10, `billed for 3 delivered words only (cost ${change.cost_sats})`);
    assert.equal(await env!.redeem(change.token), change.change_sats);
    const l = await assertLedger(env!);
    assert.equal(l.held_sats, change.cost_sats);
    assert.equal(agent.fetched.size, 1);
    await waitFor(async () => (await modelNodes(b.url, 'mock:latest')) === 0, 'B dropped the agent');
  });

  it('a buyer at B who leaves stops the relay on A (its slot is free again); the change waits at the receipt', async () => {
    const { a, b } = await twoReplicas();
    const words = Array.from({ length: 100 }, () => 'word ');
    const agent = await agentAtA({ answer: { words, wordDelayMs: 50 } });
    const inFlightAtA = async () =>
      ((await (await fetch(`${a.url}/v1/provider/nodes`, { headers: { authorization: `Bearer ${agent.key}` } })).json()) as { data: { in_flight: number }[] }).data[0]!.in_flight;
    const abort = new AbortController();
    const paid = 100;
    const res = await buy(b, chat({ stream: true }), { 'x-cashu': await env!.token(paid) }, abort.signal);
    const receipt = res.headers.get('x-cashu-receipt')!;
    const reader = res.body!.getReader();
    await reader.read();
    assert.equal(await inFlightAtA(), 1, 'A counts the job it runs for B in its node\'s in-flight');
    abort.abort();
    const sentAtAbort = agent.chunksSent;
    await waitFor(async () => ((await (await fetch(`${b.url}/v1/change/${receipt}`)).json()) as { status: string }).status === 'settled', 'the job settled', 10_000);
    await waitFor(async () => (await inFlightAtA()) === 0, 'A let go of the job', 10_000);
    await waitFor(() => agent.chunksSent > sentAtAbort + 3, 'the agent kept streaming (it cannot be stopped)', 10_000);
    const settled = (await (await fetch(`${a.url}/v1/change/${receipt}`)).json()) as { token: string; change_sats: number; cost_sats: number };
    assert.equal(settled.cost_sats + settled.change_sats, paid);
    // one word a chunk: the buyer got at most what the agent had sent when the buyer left (plus the prompt's sat)
    assert.ok(settled.cost_sats <= sentAtAbort + 2, `billed for what reached the buyer, not what the node produced after (cost ${settled.cost_sats}, ${sentAtAbort} chunks sent at the abort)`);
    assert.equal(await env!.redeem(settled.token), settled.change_sats);
    await assertLedger(env!);
  });

  it('the agent\'s job fetch reaching B (a non-sticky load balancer) is served from A, once', async () => {
    const { a, b } = await twoReplicas();
    const agent = await agentAtA({ fetchGateway: b.url });
    for (const gw of [a, b]) {
      const paid = 50;
      const res = await buy(gw, chat({ stream: true }), { 'x-cashu': await env!.token(paid) });
      const data = sseData(await res.text());
      assert.equal(streamedText(data), MOCK_TEXT, `a buyer at ${gw === a ? 'A' : 'B'} is served`);
      const change = asChange(data.at(-1));
      assert.equal(change.cost_sats, 10);
      assert.equal(await env!.redeem(change.token), paid - 10);
    }
    assert.equal(agent.fetched.size, 2, 'both fetches went to B and were answered');
    for (const jobId of agent.fetched.keys()) {
      for (const gw of [a, b]) {
        const again = await fetch(`${gw.url}/v1/gateway/jobs/${jobId}/proxy/request`, { headers: { authorization: `Bearer ${agent.key}` } });
        assert.equal(again.status, 404, 'a job\'s request is fetched once, whichever replica is asked');
        assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'job_not_found');
      }
    }
    const l = await assertLedger(env!);
    assert.equal(l.held_sats, 20);
  });

  it('a job fetch at B with another key, or the replicas\' endpoints called without the cluster secret, are refused', async () => {
    const { a, b } = await twoReplicas();
    const paid = 100;
    const agent = await agentAtA({ behaviour: 'silent' });
    // A job waits for the silent agent's fetch: nobody else may take its body.
    const pending = buy(b, chat({ stream: true }), { 'x-cashu': await env!.token(paid), cookie: 'session=secret' });
    await waitFor(() => agent.offered.length === 1, 'the job was offered');
    const jobId = agent.offered[0]!;
    const fetchAt = (gw: { url: string }, key: string) => fetch(`${gw.url}/v1/gateway/jobs/${jobId}/proxy/request`, { headers: { authorization: `Bearer ${key}` } });
    const stranger = `owlr_prov_${'cd'.repeat(24)}`;
    for (const gw of [a, b]) assert.equal((await fetchAt(gw, stranger)).status, 404, 'another key gets nothing');
    const first = await fetchAt(b, agent.key);
    assert.equal(first.status, 200, 'the agent\'s own key at B gets the body from A');
    const fetched = (await first.json()) as Record<string, unknown>;
    assert.equal(fetched.model, 'mock:latest');
    assert.ok(!JSON.stringify(fetched).includes('secret'));
    assert.equal((await fetchAt(b, agent.key)).status, 404, 'once');
    const secret = (await dbs[0]!.get<{ value: string }>(`SELECT value FROM marketplace_cluster WHERE name = 'secret'`))!.value;
    for (const auth of [undefined, 'Bearer wrong-secret', `Bearer ${secret}x`]) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) };
      const calls = [
        fetch(`${a.url}/v1/gateway/cluster/jobs`, { method: 'POST', headers, body: JSON.stringify({ job_id: 'j1', node_id: 'x', body: chat() }) }),
        fetch(`${a.url}/v1/gateway/cluster/jobs/j1/request`, { headers }),
        fetch(`${a.url}/v1/gateway/cluster/jobs/j1/complete`, { method: 'POST', headers, body: JSON.stringify({ node_id: 'x', model: 'mock:latest', tokens: 1, earned_usd: 0 }) }),
      ];
      for (const res of await Promise.all(calls)) {
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'auth_invalid_key');
      }
    }
    // The right secret, for an agent the replica does not hold: refused before any byte.
    const notHere = await fetch(`${b.url}/v1/gateway/cluster/jobs`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ job_id: 'j1', node_id: 'owlr-0000/none', body: chat() }),
    });
    assert.equal(notHere.status, 503);
    assert.equal(((await notHere.json()) as { error: { code: string } }).error.code, 'backend_unavailable');
    const res = await pending;
    assert.equal(res.status, 503, 'the silent agent times out: refunded');
    assert.equal(await env!.redeem(res.headers.get('x-cashu-change')!), paid);
    await assertLedger(env!);
  });

  it('an agent that reconnects to B takes its entry over; once its old socket on A is gone, A sends its buyers to B', async () => {
    const { a, b } = await twoReplicas();
    const first = await agentAtA();
    // The same node (key and id) dials B, as after a reconnect through the load balancer, while A still holds the old socket.
    const moved = await joinAgent(env!, { key: first.key, nodeId: first.nodeId }, b.url);
    agents.push(moved);
    first.kill();
    await waitFor(async () => (await metric(a.url, 'owlrun_marketplace_replica_nodes')) === 1, 'A routes to the agent through B');
    for (const gw of [a, b]) {
      const res = await buy(gw, chat({ stream: true }), { 'x-cashu': await env!.token(30) });
      const data = sseData(await res.text());
      assert.equal(streamedText(data), MOCK_TEXT, `a buyer at ${gw === a ? 'A' : 'B'} is served`);
      assert.equal(await env!.redeem(asChange(data.at(-1)).token), 20);
    }
    assert.equal(moved.fetched.size, 2);
    assert.equal(first.fetched.size, 0);
    assert.equal(await metric(a.url, 'owlrun_marketplace_forwarded_jobs_total', 'result="streamed"'), 1);
    assert.equal((await providerBalance(env!, first.key)).earned_sats, 18);
    await assertLedger(env!);
  });

  it('a replica that stops takes its agents out of the other replicas\' pools', async () => {
    const { b } = await twoReplicas();
    await agentAtA();
    assert.equal(await modelNodes(b.url, 'mock:latest'), 1);
    await env!.gw.shutdown(0);
    await waitFor(async () => (await modelNodes(b.url, 'mock:latest')) === 0, 'B no longer lists the agent');
    const token = await env!.token(20);
    const res = await buy(b, chat(), { 'x-cashu': token });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-cashu-change'), token, 'the untouched token comes back');
  });
});

(TEST_POSTGRES_URL ? describe : describe.skip)('marketplace: the replica holding the agent killed under a job of another replica\'s buyer', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let dir: string;
  let env: PaidEnv | undefined;
  let holder: GatewayProcess | undefined;
  let agent: OwlrunAgent | undefined;
  let db: Db | undefined;
  beforeEach(async () => {
    scratch = await scratchDatabase('owlrun_replicas');
    dir = mkdtempSync(join(tmpdir(), 'owlrun-replicas-'));
  });
  afterEach(async () => {
    agent?.kill();
    await holder?.kill();
    await env?.close();
    await db?.close();
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no money: the buyer at B is billed for what was delivered, the change is the last event, the books balance', async function () {
    this.timeout(90_000); // the holding replica is a process of its own (tsx compiles at start)
    db = await openDb(scratch.url);
    env = await startMarketplace({ db, config: { marketplace: MARKET } });
    const configFile = join(dir, 'holder.yaml');
    writeFileSync(configFile, stringify({
      server: { host: '127.0.0.1', port: 0 },
      store: { url: scratch.url },
      log: { level: 'info' },
      plugins: ['auth', 'payment', 'metering', 'change'],
      payment: { mints: [env.mintUrl], minSatsPerJob: 2 },
      pricing: TEST_PRICING,
      marketplace: MARKET,
    }));
    holder = await GatewayProcess.start(configFile);
    const words = Array.from({ length: 100 }, () => 'word ');
    agent = new OwlrunAgent({ gateway: holder.url, heartbeatMs: 200, timeScale: 0.01, autoWithdraw: false, answer: { words, wordDelayMs: 50 } });
    await agent.start();
    await waitFor(async () => (await modelNodes(env!.gw.url, 'mock:latest')) === 1, 'B lists the agent held by the process', 10_000);

    const paid = 200;
    const res = await buy(env.gw, chat({ stream: true }), { 'x-cashu': await env.token(paid) });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    })();
    const seen = () => contentEvents(sseData(text.slice(0, text.lastIndexOf('\n\n') + 2)));
    await waitFor(() => seen() >= 5, 'five words delivered');
    await holder.kill();
    await reading;
    const data = sseData(text);
    const delivered = contentEvents(data);
    assert.ok(delivered >= 5 && delivered < 100, `the stream broke mid-way (${delivered} words)`);
    assert.equal(data.at(-2), '[DONE]');
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats + change.change_sats, paid);
    assert.ok(change.cost_sats >= 2 && change.cost_sats <= delivered + 2, `billed ${change.cost_sats} for ${delivered} delivered words`);
    assert.equal(await env.redeem(change.token), change.change_sats);
    const l = await assertLedger(env);
    assert.equal(l.held_sats, change.cost_sats);
    await waitFor(async () => (await modelNodes(env!.gw.url, 'mock:latest')) === 0, 'the dead replica\'s entry expired');
  });
});
