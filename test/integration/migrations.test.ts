// Versioned migrations on a store made by the first release (test/fixtures/schema/first-release.sql,
// no schema version): filled with jobs, held proofs, balances, receipts and withdrawals, upgraded,
// and every row (every sat, every receipt) is still there, on SQLite and PostgreSQL. Also: all or
// nothing when a migration fails, replicas migrating at once, a store from a newer release refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobsRepo, receiptHash } from '../../src/ledger/jobs.js';
import { migrations as ALL_MIGRATIONS } from '../../src/compose.js';
import type { Db } from '../../src/store/db.js';
import { migrate, pendingMigrations, type MigrationSet } from '../../src/store/migrate.js';
import { openDb } from '../../src/store/open.js';
import { scratchDatabase, TEST_POSTGRES_URL } from '../helpers/postgres.js';

const FIRST_RELEASE = readFileSync(new URL('../fixtures/schema/first-release.sql', import.meta.url), 'utf8');
const TABLES = ['jobs', 'balances', 'gateway_instances', 'wallet_proofs', 'wallet_outputs', 'wallet_signatures', 'wallet_reservations', 'withdrawals', 'node_registrations', 'oracle_samples', 'oracle_rates', 'oracle_broadcasts'];
const RECEIPTS = ['rcpt-settled-1', 'rcpt-settled-2', 'rcpt-claimed-3'];
/** Every migration this release has, as owner#version (an owner may have several). */
const ALL_VERSIONS = ALL_MIGRATIONS.flatMap((s) => s.migrations.map((m) => `${s.owner}#${m.version}`));

async function fill(db: Db): Promise<void> {
  const job = (id: string, receipt: string, state: string, f: { held: number; cost?: number; change?: number; provider?: number; gateway?: number; token?: string }) =>
    db.run(
      `INSERT INTO jobs (id, receipt_hash, state, outcome, model, route, provider, mint, format, token_sats, held_sats, price_in_pico, price_out_pico, rate_cents,
         min_sats, prompt_estimate, cost_sats, provider_sats, gateway_sats, change_sats, change_token, owner, created_at, settled_at, expires_at)
       VALUES (?, ?, ?, ?, 'm', 'openai_chat', 'alice', 'http://mint', 'B', ?, ?, 100, 1000, 10000000, 2, 10, ?, ?, ?, ?, ?, 'i1', 1000, ?, ?)`,
      [id, receiptHash(receipt), state, state === 'settled' ? 'ok' : null, f.held, f.held, f.cost ?? null, f.provider ?? null, f.gateway ?? null, f.change ?? null, f.token ?? null, state === 'settled' ? 2000 : null, state === 'settled' ? 9_999_999_999_999 : null],
    );
  await job('j1', RECEIPTS[0]!, 'settled', { held: 100, cost: 30, provider: 27, gateway: 3, change: 70, token: 'cashuBchange1' });
  await job('j2', RECEIPTS[1]!, 'settled', { held: 50, cost: 20, provider: 18, gateway: 2, change: 30, token: 'cashuBchange2' });
  await job('j3', RECEIPTS[2]!, 'claimed', { held: 64 });
  await db.run(`INSERT INTO balances (account, balance_sats, earned_sats, jobs) VALUES ('gateway', 5, 5, 2), ('provider:alice', 45, 45, 2)`);
  await db.run(`INSERT INTO gateway_instances (id, heartbeat_at) VALUES ('i1', 1000)`);
  const proof = (secret: string, job: string, amount: number, state: string) =>
    db.run(`INSERT INTO wallet_proofs (secret, job_id, mint, keyset_id, amount, c, dleq, state, created_at, updated_at) VALUES (?, ?, 'http://mint', '00ad', ?, '02ab', NULL, ?, 1000, 1000)`, [secret, job, amount, state]);
  for (const [i, a] of [64, 32, 16, 2].entries()) await proof(`held-${i}`, i === 0 ? 'j3' : 'j1', a, 'held');
  await proof('spent-0', 'j1', 8, 'spent');
  await db.run(`INSERT INTO wallet_outputs (b_, job_id, mint, keyset_id, amount, secret, r, state, created_at, updated_at) VALUES ('02b1', 'j2', 'http://mint', '00ad', 4, 's-out', 'r1', 'signed', 1000, 1000)`);
  await db.run(`INSERT INTO wallet_signatures (b_, c_, dleq, k, created_at) VALUES ('02b1', '02c1', NULL, '02k1', 1000)`);
  await db.run(`INSERT INTO withdrawals (id, account, kind, state, mint, amount_sats, hold_sats, debited_sats, fee_sats, token, format, created_at, updated_at)
    VALUES ('w1', 'provider:alice', 'ecash', 'done', 'http://mint', 10, 10, 10, 0, 'cashuAwithdrawn', 'A', 1000, 1000)`);
  await db.run(`INSERT INTO node_registrations (id, provider, url, kind, models, max_concurrent, registered_at, seen_at, expires_at) VALUES ('n1', 'alice', 'http://10.0.0.1:8000', 'vllm', '[]', 4, 1, 1, 2)`);
  await db.run(`INSERT INTO oracle_samples (id, taken_at, rate_cents, sources) VALUES ('s1', 1000, 9000000, '{}')`);
  await db.run(`INSERT INTO oracle_rates (id, status, basis, rate_cents, published_at, window_start, window_end, samples) VALUES ('r1', 'published', 'samples', 9000000, 1, 0, 1, 1)`);
  await db.run(`INSERT INTO oracle_broadcasts (id, message, level, created_at) VALUES ('b1', 'hello', 'info', 1)`);
}

async function snapshot(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) {
    const rows = await db.all(`SELECT * FROM ${t}`);
    out[t] = rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b))))).sort();
  }
  return out;
}

async function sats(db: Db): Promise<{ held: number; balances: number; pending: number; change: number }> {
  const one = async (q: string) => Number((await db.get<{ s: number | null }>(q))?.s ?? 0);
  return {
    held: await one(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held'`),
    balances: await one(`SELECT SUM(balance_sats) AS s FROM balances`),
    pending: await one(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`),
    change: await one(`SELECT SUM(change_sats) AS s FROM jobs WHERE change_token IS NOT NULL`),
  };
}

/** A later release's migration, to show one that changes a table keeps every row. */
const withNextVersion = (sets: readonly MigrationSet[]): MigrationSet[] =>
  sets.map((s) => (s.owner !== 'jobs' ? s : { ...s, migrations: [...s.migrations, { version: 2, name: 'test: a new column', up: 'ALTER TABLE jobs ADD COLUMN note TEXT;\nCREATE INDEX IF NOT EXISTS jobs_note ON jobs (note);' }] }));

function suite(name: 'SQLite' | 'PostgreSQL', open: () => Promise<{ url: string; cleanup(): Promise<void> }>): void {
  describe(`schema migrations (${name})`, () => {
    let store: { url: string; cleanup(): Promise<void> };
    let db: Db;
    beforeEach(async () => {
      store = await open();
      db = await openDb(store.url);
      await db.exec(FIRST_RELEASE);
      await fill(db);
    });
    afterEach(async () => {
      await db.close();
      await store.cleanup();
    });

    it('upgrades a first-release store: every sat, held proof, balance and receipt is still there', async () => {
      const before = await snapshot(db);
      const satsBefore = await sats(db);
      assert.deepEqual(satsBefore, { held: 114, balances: 50, pending: 64, change: 100 });
      const pending = await pendingMigrations(db, ALL_MIGRATIONS);
      assert.deepEqual(pending.map((m) => `${m.owner}#${m.version}`), ALL_VERSIONS);

      const applied = await migrate(db, withNextVersion(ALL_MIGRATIONS));
      assert.equal(applied.length, ALL_VERSIONS.length + 1);
      assert.deepEqual(await pendingMigrations(db, withNextVersion(ALL_MIGRATIONS)), []);
      assert.deepEqual(await migrate(db, withNextVersion(ALL_MIGRATIONS)), [], 'a current store: nothing to do');

      const after = await snapshot(db);
      for (const t of TABLES.filter((t) => t !== 'jobs')) assert.deepEqual(after[t], before[t], t);
      const jobs = await db.all<{ note: string | null }>(`SELECT * FROM jobs`);
      assert.equal(jobs.length, 3);
      assert.ok(jobs.every((j) => j.note === null));
      assert.deepEqual(await sats(db), satsBefore);
      const repo = new JobsRepo(db, 'i2');
      for (const r of RECEIPTS) assert.ok(await repo.byReceipt(r), `receipt ${r}`);
      assert.equal((await repo.byReceipt(RECEIPTS[0]!))!.change_token, 'cashuBchange1');
      assert.deepEqual(await repo.balances(), [{ account: 'gateway', balance_sats: 5 }, { account: 'provider:alice', balance_sats: 45 }]);
      assert.equal(await repo.pendingSats(), 64);

      // This release (which knows jobs up to #1) refuses the store a newer one migrated.
      await assert.rejects(migrate(db, ALL_MIGRATIONS), /"jobs" tables are at schema version 2, this release knows 1/);
    });

    it('applies all or nothing: a failing migration leaves the store as it was', async () => {
      const before = await snapshot(db);
      const broken = ALL_MIGRATIONS.map((s) => (s.owner !== 'wallet' ? s : { ...s, migrations: [...s.migrations, { version: 2, name: 'broken', up: 'ALTER TABLE no_such_table ADD COLUMN x TEXT;' }] }));
      await assert.rejects(migrate(db, broken), /migration wallet #2 \(broken\) failed: .*nothing was changed/);
      assert.equal((await pendingMigrations(db, ALL_MIGRATIONS)).length, ALL_VERSIONS.length, 'no version recorded');
      assert.deepEqual(await snapshot(db), before);
    });

    // SQLite has one gateway process per file (better-sqlite3 blocks its thread while waiting for a lock).
    if (name === 'PostgreSQL') it('replicas starting together migrate once', async () => {
      const others = await Promise.all([openDb(store.url), openDb(store.url), openDb(store.url)]);
      try {
        const results = await Promise.all([db, ...others].map((d) => migrate(d, ALL_MIGRATIONS)));
        assert.equal(results.reduce((n, r) => n + r.length, 0), ALL_VERSIONS.length, 'each migration applied by exactly one');
        const rows = await db.all(`SELECT owner, version FROM schema_migrations`);
        assert.equal(rows.length, ALL_VERSIONS.length);
      } finally {
        for (const d of others) await d.close();
      }
      assert.deepEqual(await sats(db), { held: 114, balances: 50, pending: 64, change: 100 });
    });
  });
}

suite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'owlrun-migrate-'));
  return { url: `sqlite:${join(dir, 'owlrun.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

if (TEST_POSTGRES_URL) {
  suite('PostgreSQL', async () => {
    const scratch = await scratchDatabase('owlrun_migrate');
    return { url: scratch.url, cleanup: () => scratch.drop() };
  });
}
