import { scratchDatabase, TEST_POSTGRES_URL } from '../../helpers/postgres.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDb } from '../../../src/store/open.js';
import type { Db } from '../../../src/store/db.js';
import { Holdings, rowToProof } from '../../../src/cashu/holdings.js';
import type { WalletProof } from '../../../src/cashu/types.js';

const MINT = 'http://mint.test';
const hex = (n: number): string => randomBytes(n).toString('hex');
const proof = (amount: number, dleq = false): WalletProof => ({
  id: '01' + 'ab'.repeat(32), amount, secret: hex(32), C: '02' + hex(32),
  ...(dleq && { dleq: { e: hex(32), s: hex(32), r: hex(32) } }),
});

/**
 * Stores the suite runs on: SQLite always; PostgreSQL when OWLRUN_TEST_POSTGRES_URL names a
 * server (a scratch database is created and dropped per test).
 */
interface Store { name: string; open(): Promise<{ db: Db; drop(): Promise<void> }> }
const stores: Store[] = [{ name: 'sqlite', open: async () => {
  const db = await openDb('sqlite::memory:');
  return { db, drop: () => db.close() };
} }];
const pgUrl = TEST_POSTGRES_URL;
if (pgUrl) {
  stores.push({ name: 'postgres', open: async () => {
    const scratch = await scratchDatabase('owlrun_cashu');
    const db = await openDb(scratch.url);
    return { db, drop: async () => {
      await db.close();
      await scratch.drop();
    } };
  } });
}

for (const store of stores) describe(`cashu/holdings (${store.name})`, () => {
  let db: Db;
  let h: Holdings;
  let drop: () => Promise<void>;

  beforeEach(async () => {
    ({ db, drop } = await store.open());
    h = new Holdings(db);
    await h.init();
    await h.init(); // idempotent
  });
  afterEach(() => drop());

  it('stores proofs per job and sums them by state and job', async () => {
    const a = [proof(1), proof(2, true), proof(4)];
    const b = [proof(8)];
    await db.tx(async (sql) => {
      for (const p of a) await h.insertProof(sql, 'job-a', MINT, p);
      for (const p of b) await h.insertProof(sql, 'job-b', MINT, p);
    });
    assert.equal(await h.sum('held'), 15);
    assert.equal(await h.sum('held', 'job-a'), 7);
    assert.equal(await h.sum('held', 'nope'), 0);
    const rows = await h.proofsOfJob(db, 'job-a');
    assert.deepEqual(rows.map((r) => r.amount), [4, 2, 1]);
    const back = rows.map(rowToProof).find((p) => p.amount === 2)!;
    assert.deepEqual(back, a[1]);
  });

  it('moveProofs moves all or nothing (the caller tx rolls back)', async () => {
    const [p1, p2] = [proof(1), proof(2)];
    await db.tx(async (sql) => {
      await h.insertProof(sql, 'j', MINT, p1);
      await h.insertProof(sql, 'j', MINT, p2);
    });
    await db.tx((sql) => h.moveProofs(sql, [p1.secret], 'held', 'sent'));
    await assert.rejects(db.tx((sql) => h.moveProofs(sql, [p2.secret, p1.secret], 'held', 'sent')));
    assert.equal(await h.sum('held'), 2, 'p2 still held after the rolled-back tx');
    assert.equal(await h.sum('sent'), 1);
  });

  it('a proof secret is stored once', async () => {
    const p = proof(4);
    await db.tx((sql) => h.insertProof(sql, 'j', MINT, p));
    await assert.rejects(db.tx((sql) => h.insertProof(sql, 'k', MINT, p)));
    assert.equal(await h.sum('held'), 4);
  });

  it('outputs: pending → done/failed exactly once', async () => {
    const row = { b_: '02' + hex(32), job_id: 'j', mint: MINT, keyset_id: 'k', amount: 8, secret: hex(32), r: hex(32) };
    await db.tx((sql) => h.insertOutputs(sql, [row], 1000));
    assert.equal((await h.pendingOutputs(999)).length, 0, 'younger than the cut-off');
    const pending = await h.pendingOutputs(1000);
    assert.equal(pending.length, 1);
    assert.equal(pending[0]!.amount, 8);
    assert.equal(await db.tx((sql) => h.moveOutput(sql, row.b_, ['pending'], 'done')), true);
    assert.equal(await db.tx((sql) => h.moveOutput(sql, row.b_, ['pending'], 'failed')), false);
    assert.equal(await h.countOutputs('done'), 1);
    assert.equal(await h.countOutputs('pending'), 0);
  });

  it('signed outputs: held until unblinded, then counted once as a proof; never restored', async () => {
    const out = (amount: number, job = 'j') => ({ b_: '02' + hex(32), job_id: job, mint: MINT, keyset_id: 'k', amount, secret: hex(32), r: hex(32) });
    const [a, b, c] = [out(4), out(8), out(16, 'other')];
    await db.tx((sql) => h.insertOutputs(sql, [a, b, c], 1000));
    assert.equal(await h.heldSum(), 0, 'pending outputs are not held');
    await db.tx(async (sql) => {
      for (const o of [a, b, c]) {
        assert.equal(await h.moveOutput(sql, o.b_, ['pending'], 'signed', 2000), true);
        await h.insertSignature(sql, o.b_, { c_: '03' + hex(32), dleq: o === a ? JSON.stringify({ e: hex(32), s: hex(32) }) : null, k: '02' + hex(32) });
      }
    });
    assert.equal(await h.heldSum(), 28);
    assert.equal(await h.heldSum('j'), 12);
    assert.equal(await h.sum('held'), 0, 'sum() counts proofs only');
    assert.equal((await h.pendingOutputs(5000)).length, 0, 'signed outputs are not pending: restore never sees them');
    const ofJob = await h.signedOutputs(db, { jobId: 'j' });
    assert.deepEqual(ofJob.map((r) => r.amount), [8, 4]);
    const a2 = ofJob.find((r) => r.b_ === a.b_)!;
    assert.equal(a2.secret, a.secret);
    assert.equal(a2.r, a.r);
    assert.deepEqual(Object.keys(JSON.parse(a2.dleq!)), ['e', 's']);
    assert.equal((await h.signedOutputs(db, { signedBefore: 1999 })).length, 0);
    assert.equal((await h.signedOutputs(db, { signedBefore: 2000 })).length, 3);

    // signed → done together with the proof: the total does not move
    const p = { ...proof(4), secret: a.secret };
    await db.tx(async (sql) => {
      assert.equal(await h.moveOutput(sql, a.b_, ['signed'], 'done'), true);
      await h.insertProof(sql, 'j', MINT, p);
    });
    assert.equal(await h.heldSum('j'), 12);
    assert.equal(await h.heldSum(), 28);
    assert.equal(await db.tx((sql) => h.moveOutput(sql, a.b_, ['signed'], 'done')), false, 'exactly once');
    // a bad signature: signed → invalid, its sats are no longer held
    assert.equal(await db.tx((sql) => h.moveOutput(sql, b.b_, ['signed'], 'invalid')), true);
    assert.equal(await h.heldSum('j'), 4);
    assert.equal(await h.countOutputs('signed'), 1);
  });

  it("a swap's answer: outputs still pending or failed become signed with their signatures, restored ones are left alone", async () => {
    const out = (amount: number) => ({ b_: '02' + hex(32), job_id: 'j', mint: MINT, keyset_id: 'k', amount, secret: hex(32), r: hex(32) });
    const [a, b, c, d] = [out(1), out(2), out(4), out(8)];
    await db.tx((sql) => h.insertOutputs(sql, [a, b, c, d], 1000));
    assert.equal((await h.pendingOutputs(1000)).length, 4, 'one statement stores them all');
    const sig = (o: { b_: string }) => ({ b_: o.b_, c_: '03' + hex(32), dleq: null, k: '02' + hex(32) });
    assert.deepEqual(await db.tx((sql) => h.signOutputs(sql, [sig(a), sig(b)], 2000)), new Set([a.b_, b.b_]), 'all moved');
    // c was marked failed by a restore that ran too early, d was restored ('done') meanwhile
    await db.tx((sql) => h.moveOutput(sql, c.b_, ['pending'], 'failed'));
    await db.tx((sql) => h.moveOutput(sql, d.b_, ['pending'], 'done'));
    assert.deepEqual(await db.tx((sql) => h.signOutputs(sql, [sig(c), sig(d)], 3000)), new Set([c.b_]), 'only what this call moved');
    assert.equal(await h.heldSum('j'), 7);
    assert.deepEqual((await h.signedOutputs(db, { jobId: 'j' })).map((r) => r.amount), [4, 2, 1], 'each with its signature');
    assert.equal(Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM wallet_signatures`))?.n), 3, 'no signature stored for the restored output');
  });

  it('unblinded proofs: stored for outputs still signed only, each exactly once', async () => {
    const out = (amount: number) => ({ b_: '02' + hex(32), job_id: 'ju', mint: MINT, keyset_id: 'k', amount, secret: hex(32), r: hex(32) });
    const [a, b, c] = [out(1), out(2), out(4)];
    await db.tx((sql) => h.insertOutputs(sql, [a, b, c], 1000));
    const sig = (o: { b_: string }) => ({ b_: o.b_, c_: '03' + hex(32), dleq: null, k: '02' + hex(32) });
    await db.tx((sql) => h.signOutputs(sql, [sig(a), sig(b), sig(c)], 2000));
    await db.tx((sql) => h.moveOutput(sql, c.b_, ['signed'], 'invalid'));
    const proof = (o: typeof a) => ({ b_: o.b_, proof: { id: 'k', amount: o.amount, secret: o.secret, C: '02' + hex(32) } });
    const where = () => ({ jobId: 'ju', mint: MINT });
    assert.equal(await db.tx((sql) => h.storeUnblinded(sql, where, [proof(a), proof(b), proof(c)])), 2, 'not the invalid one');
    assert.equal(await db.tx((sql) => h.storeUnblinded(sql, where, [proof(a), proof(b)])), 0, 'exactly once');
    assert.equal(await h.heldSum('ju'), 3, 'counted once: as proofs, no longer as signed outputs');
    assert.equal((await h.proofsOfJob(db, 'ju')).length, 2);
    assert.equal(await h.countOutputs('done', 'ju'), 2);
  });
});
