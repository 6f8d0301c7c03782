import assert from 'node:assert/strict';
import type { Gateway } from '../../src/gateway.js';
import type { Db } from '../../src/store/db.js';
import { openDb } from '../../src/store/open.js';
import { startTestGateway } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { scratchDatabase, TEST_POSTGRES_URL } from '../helpers/postgres.js';

const pgUrl = TEST_POSTGRES_URL;

(pgUrl ? describe : describe.skip)('gateway replicas on one PostgreSQL store', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let dbUrl: string;
  const dbs: Db[] = [];

  beforeEach(async () => {
    scratch = await scratchDatabase('owlrun_gw');
    dbUrl = scratch.url;
  });
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((d) => d.close()));
    await scratch.drop();
  });

  const open = async () => {
    const db = await openDb(dbUrl);
    dbs.push(db);
    return db;
  };

  it('settles paid jobs on PostgreSQL, and a second replica shares the books and the receipts', async () => {
    const env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 12, promptTokens: 10 }, db: await open() });
    let replica: Gateway | undefined;
    try {
      replica = await startTestGateway(PaidEnv.config(env.sim, env.mintUrl), { db: await open() });
      const send = (gw: Gateway, token: string) =>
        fetch(gw.url + '/v1/chat/completions', {
          method: 'POST',
          headers: { 'x-cashu': token, 'content-type': 'application/json' },
          body: JSON.stringify({ model: env.model, messages: [{ role: 'user', content: 'hi' }] }),
        });
      const [t1, t2] = [await env.token(40), await env.token(40, 3)];
      const [r1, r2] = await Promise.all([send(env.gw, t1), send(replica, t2)]);
      assert.deepEqual([r1.status, r2.status], [200, 200]);
      await Promise.all([r1.arrayBuffer(), r2.arrayBuffer()]);
      for (const r of [r1, r2]) {
        assert.equal(r.headers.get('x-cashu-cost-sats'), '13');
        assert.equal(await env.redeem(r.headers.get('x-cashu-change')!), 27);
      }
      // the receipt of a job served by one replica is answered by the other
      const receipt = r2.headers.get('x-cashu-receipt')!;
      const byReceipt = (await (await fetch(`${env.gw.url}/v1/change/${receipt}`)).json()) as { status: string; change_sats: number };
      assert.deepEqual([byReceipt.status, byReceipt.change_sats], ['settled', 27]);
      const books = await env.assertBooksBalance();
      assert.equal(books.held, 26);
      assert.equal(books.gateway + books.providers, 26);
    } finally {
      await replica?.shutdown(0);
      await env.close();
    }
  });

  it('a replica starting up leaves the running jobs of a live replica alone', async () => {
    const env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 40, tokenDelayMs: 15, promptTokens: 10 }, db: await open() });
    let replica: Gateway | undefined;
    try {
      const res = await fetch(env.gw.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'x-cashu': await env.token(100) },
        body: JSON.stringify({ model: env.model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = res.text();
      await new Promise((r) => setTimeout(r, 100)); // the job is claimed and streaming
      replica = await startTestGateway(PaidEnv.config(env.sim, env.mintUrl), { db: await open() });
      const text = await body;
      const last = JSON.parse(text.trimEnd().split('\n\n').pop()!.slice('data: '.length)) as { change_sats: number; cost_sats: number; token: string };
      assert.equal(last.cost_sats, 41);
      assert.equal(await env.redeem(last.token), 59);
      await env.assertBooksBalance();
    } finally {
      await replica?.shutdown(0);
      await env.close();
    }
  });

  it('serves one token once across replicas racing for it', async () => {
    const env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 3 }, db: await open() });
    let replica: Gateway | undefined;
    try {
      replica = await startTestGateway(PaidEnv.config(env.sim, env.mintUrl), { db: await open() });
      const token = await env.token(30);
      const gws = [env.gw, replica, env.gw, replica];
      const statuses = await Promise.all(
        gws.map((gw) =>
          fetch(gw.url + '/v1/chat/completions', {
            method: 'POST',
            headers: { 'x-cashu': token },
            body: JSON.stringify({ model: env.model, messages: [{ role: 'user', content: 'hi' }] }),
          }).then(async (r) => (await r.arrayBuffer(), r.status)),
        ),
      );
      assert.equal(statuses.filter((s) => s === 200).length, 1, JSON.stringify(statuses));
      await env.assertBooksBalance();
    } finally {
      await replica?.shutdown(0);
      await env.close();
    }
  });
});
