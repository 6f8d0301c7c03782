import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DAY_MS, earnings } from '../../../src/ledger/history.js';
import { JobsRepo } from '../../../src/ledger/jobs.js';
import type { Db } from '../../../src/store/db.js';
import { STORES } from './stores.js';

const DAY1 = Date.UTC(2025, 0, 10, 12);
const DAY2 = DAY1 + DAY_MS;

for (const store of STORES) {
  describe(`ledger/history (${store.name})`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    let jobs: JobsRepo;
    beforeEach(async () => {
      ({ db, drop } = await store.open());
      jobs = new JobsRepo(db, 'test');
      await jobs.init();
    });
    afterEach(async () => drop());

    /** A job through the journal as the gateway runs it: opened, claimed, settled with its bill. */
    async function job(at: number, model: string, provider: string | null, cost: number, completion: number): Promise<void> {
      const id = randomBytes(6).toString('hex');
      await jobs.create({ id, model, route: 'openai_chat', mint: 'm', format: 'B', token_sats: 100, fee_sats: 0, price_in_pico: 0, price_out_pico: 0, rate_cents: 0, min_sats: 2, prompt_estimate: 5 }, id, at);
      await jobs.markClaimed(id, 100, 0);
      const gateway = cost === 0 ? 0 : Math.max(1, Math.floor(cost / 10));
      await db.tx((sql) => jobs.settle(sql, id, {
        outcome: 'ok', node_id: 'n', provider, prompt_tokens: 5, completion_tokens: completion, token_source: 'backend',
        cost_sats: cost, provider_sats: cost - gateway, gateway_sats: gateway, change_sats: 100 - cost, change_token: '', expires_at: at,
      }, at));
    }

    it('sums what each account earned by UTC day and model; refunded jobs do not count', async () => {
      await job(DAY1, 'm1', 'alice', 30, 30);
      await job(DAY1 + 1000, 'm1', 'alice', 20, 20);
      await job(DAY1, 'm2', 'alice', 10, 10);
      await job(DAY2, 'm1', 'alice', 30, 30);
      await job(DAY2, 'm1', 'bob', 30, 30);
      await job(DAY2, 'm1', null, 30, 30);
      await job(DAY2, 'm1', 'alice', 0, 0); // refunded

      const a = await earnings(db, { provider: 'alice' });
      assert.deepEqual(a.rows, [
        { day: '2025-01-10', model: 'm1', jobs: 2, prompt_tokens: 10, completion_tokens: 50, sats: 27 + 18, cost_sats: 50 },
        { day: '2025-01-10', model: 'm2', jobs: 1, prompt_tokens: 5, completion_tokens: 10, sats: 9, cost_sats: 10 },
        { day: '2025-01-11', model: 'm1', jobs: 1, prompt_tokens: 5, completion_tokens: 30, sats: 27, cost_sats: 30 },
      ]);
      assert.deepEqual(a.totals, { jobs: 4, prompt_tokens: 20, completion_tokens: 90, sats: 81, cost_sats: 90 });
      // the history adds up to what the balances were credited
      assert.equal(a.totals.sats, (await jobs.balance('provider:alice')).earned_sats);

      const g = await earnings(db, { gateway: true });
      assert.equal(g.totals.sats, 3 + 2 + 1 + 3 + 3 + 30, "the gateway's share of every job, and all of a job without a provider");
      assert.equal(g.totals.sats, (await jobs.balance('gateway')).earned_sats);

      const since = await earnings(db, { provider: 'alice' }, DAY2 - (DAY2 % DAY_MS));
      assert.deepEqual(since.rows.map((r) => r.day), ['2025-01-11']);
      assert.deepEqual((await earnings(db, { provider: 'nobody' })).rows, []);
    });
  });
}
