import assert from 'node:assert/strict';
import { OwlrunAgent } from '../../src/simulator/owlrun-agent.js';
import { goString } from '../../src/simulator/owlrun-go.js';
import { agentReads, MOCK_WORDS, mockFlushes } from '../../src/simulator/owlrun-mock-ollama.js';
import { asChange, post, sseData, streamedText } from '../helpers/paid-stream.js';
import type { PaidEnv } from '../helpers/paid-env.js';
import { assertLedger, joinAgent, modelNodes, providerBalance, startMarketplace, waitFor } from '../helpers/marketplace.js';

const MOCK_TEXT = MOCK_WORDS.join('');
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'mock:latest', messages: [{ role: 'user', content: 'Hello' }], ...extra });

describe('marketplace: Owlrun node agents serve paid jobs over their WebSocket', () => {
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

  it('streams a paid answer from an agent: the change is the last event, the node earns, the books balance', async () => {
    env = await startMarketplace();
    const agent = await join();
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(100), cookie: 'session=secret' });
    assert.equal(res.status, 200);
    const data = sseData(await res.text());
    assert.equal(streamedText(data), MOCK_TEXT);
    assert.equal(data.at(-2), '[DONE]');
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats + change.change_sats, 100);
    assert.equal(change.cost_sats, 10, '10 prompt tokens at 0.1 sat + 9 completion tokens at 1 sat');
    assert.equal(await env.redeem(change.token), change.change_sats);

    const [jobId, fetched] = [...agent.fetched.entries()][0]!;
    assert.equal(fetched.model, 'mock:latest');
    assert.equal(fetched.stream, true);
    assert.deepEqual(fetched.stream_options, { include_usage: true });
    assert.ok(!JSON.stringify(fetched).includes('secret'), 'nothing of the buyer\'s headers reaches the node');
    const again = await fetch(`${env.gw.url}/v1/gateway/jobs/${jobId}/proxy/request`, { headers: { authorization: `Bearer ${agent.key}` } });
    assert.equal(again.status, 404, 'a job\'s request is fetched once');

    const nodes = (await (await fetch(`${env.gw.url}/v1/provider/nodes`, { headers: { authorization: `Bearer ${agent.key}` } })).json()) as { data: { id: string; source: string; models: string[] }[] };
    assert.deepEqual(nodes.data.map((n) => [n.id.endsWith(`/${agent.nodeId}`), n.source, n.models]), [[true, 'connected', ['mock:latest']]]);
    const balance = await providerBalance(env, agent.key);
    assert.equal(balance.balance_sats, 9);
    assert.match(balance.provider, /^owlr-[0-9a-f]{16}$/);
    const ledger = await assertLedger(env);
    assert.equal(ledger.held_sats, 10);
    await waitFor(() => agent.completed.length === 1, 'job_complete reached the agent');
    assert.equal(agent.completed[0]!.tokens, 19);
    await waitFor(() => agent.stats?.balance_sats === 9000, 'the heartbeat_ack shows the balance in msat');
    assert.equal(agent.stats!.earned_total_sats, 9000);
  });

  it('reassembles 4096-byte proxy_chunk cuts that split SSE events and multi-byte characters (U+FFFD as the agent sends them)', async () => {
    env = await startMarketplace();
    const words = Array.from({ length: 300 }, (_, i) => `${"żółw🦉".repeat(20)}${i} `);
    const agent = await join({ answer: { words, wordDelayMs: 0 } });
    const reads = agentReads(mockFlushes({ words, wordDelayMs: 0 })[0]!.bytes);
    assert.ok(reads.length >= 8, 'the answer spans many 4096-byte reads');
    const expected = streamedText(sseData(reads.map(goString).join('')));
    assert.ok(expected.includes('\uFFFD'), 'some read boundary cut a character');
    const res = await post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(1000) });
    const data = sseData(await res.text());
    assert.equal(streamedText(data), expected, 'the buyer gets exactly the bytes the agent sent, in order');
    assert.equal(agent.chunksSent, reads.length);
    const change = asChange(data.at(-1));
    assert.equal(change.cost_sats + change.change_sats, 1000);
    assert.equal(await env.redeem(change.token), change.change_sats);
    await assertLedger(env);
  });

  it('answers a buyer who asked for no stream with one chat.completion, the change in X-Cashu-Change', async () => {
    env = await startMarketplace();
    await join();
    const res = await post(env, '/v1/chat/completions', chat({ stream: false }), { 'x-cashu': await env.token(50) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0]!.message.content, MOCK_TEXT);
    assert.equal(body.choices[0]!.finish_reason, 'stop');
    const cost = Number(res.headers.get('x-cashu-cost-sats'));
    assert.equal(cost + Number(res.headers.get('x-cashu-change-sats')), 50);
    assert.equal(await env.redeem(res.headers.get('x-cashu-change')!), 50 - cost);
    await assertLedger(env);
  });

  it('a node whose socket closes leaves the pool at once: its model vanishes from /v1/models', async () => {
    env = await startMarketplace();
    const agent = await join();
    assert.equal(await modelNodes(env.gw.url, 'mock:latest'), 1);
    agent.kill();
    await waitFor(async () => (await modelNodes(env!.gw.url, 'mock:latest')) === 0, 'the model is gone');
    const token = await env.token(20);
    const res = await post(env, '/v1/chat/completions', chat(), { 'x-cashu': token });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-cashu-change'), token, 'the untouched token comes back');
  });
});

describe('marketplace: who may join', () => {
  let env: PaidEnv | undefined;
  const agents: OwlrunAgent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.kill();
    await env?.close();
    env = undefined;
  });

  it('closed registration refuses an unknown agent key at register (the agent backs off and never dials); a key in providers[] joins as that provider', async () => {
    const listed = `owlr_prov_${'ab'.repeat(24)}`;
    env = await startMarketplace({ config: { marketplace: { enabled: true, openRegistration: false }, providers: [{ id: 'gpu-owner', key: listed }] } });
    const stranger = new OwlrunAgent({ gateway: env.gw.url, heartbeatMs: 200, timeScale: 0.01 });
    agents.push(stranger);
    void stranger.start();
    await waitFor(() => stranger.registrationFailures >= 3, 'three refused registrations');
    assert.equal(stranger.dials, 0, 'refused at register, never at the upgrade');
    const res = await fetch(`${env.gw.url}/v1/gateway/ws?api_key=${stranger.key}`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } }).catch((e: Error) => e);
    assert.ok(res instanceof Error || res.status === 401, 'a dial without a registration is refused');

    const owner = await joinAgent(env, { key: listed });
    agents.push(owner);
    assert.equal((await providerBalance(env, listed)).provider, 'gpu-owner');
  });

  it('the URL registration keeps working beside the agent\'s body (told apart by shape)', async () => {
    env = await startMarketplace({ config: { providers: [{ id: 'alice', key: 'alice-key' }], nodes: { allowPrivateAddresses: true } } });
    const res = await fetch(`${env.gw.url}/v1/gateway/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer alice-key' },
      body: JSON.stringify({ url: env.sim.url, kind: env.sim.kind, name: 'sim' }),
    });
    assert.equal(res.status, 201);
    assert.equal(((await res.json()) as { id: string }).id, 'alice/sim');
  });

  it('on shutdown the gateway lets running jobs finish, then sends drain: the agent closes and re-registers', async () => {
    env = await startMarketplace();
    const agent = await joinAgent(env);
    agents.push(agent);
    const registrations = agent.registrations;
    const res = post(env, '/v1/chat/completions', chat({ stream: true }), { 'x-cashu': await env.token(50) });
    await waitFor(() => agent.fetched.size === 1, 'the job started');
    const stopping = env.gw.shutdown(5000);
    const data = sseData(await (await res).text());
    assert.equal(streamedText(data), MOCK_TEXT, 'the running job finished');
    asChange(data.at(-1));
    await stopping;
    assert.equal(agent.drains, 1);
    await waitFor(() => agent.registrations > registrations, 'the agent registers again');
  });
});
