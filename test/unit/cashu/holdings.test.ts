import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
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
const pgUrl = process.env.OWLRUN_TEST_POSTGRES_URL;
if (pgUrl) {
  stores.push({ name: 'postgres', open: async () => {
    const name = `owlrun_cashu_${hex(6)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(pgUrl);
    u.pathname = `/${name}`;
    const db = await openDb(u.toString());
    return { db, drop: async () => {
      await db.close();
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
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
});
