import { scratchDatabase, TEST_POSTGRES_URL } from '../../helpers/postgres.js';
import assert from 'node:assert/strict';
import { KEEP_SAMPLES_MS, Publisher, utcMidnight } from '../../../plugins/oracle/publisher.js';
import { DAY_MS, OracleRepo } from '../../../plugins/oracle/samples.js';
import type { Db } from '../../../src/store/db.js';
import { openDb } from '../../../src/store/open.js';
import { SqliteDb } from '../../../src/store/sqlite.js';

const H = 3_600_000;
/** 2025-01-10 00:00 UTC */
const DAY1 = Date.UTC(2025, 0, 10);
const DAY2 = DAY1 + DAY_MS;

class Clock {
  constructor(public t: number) {}
  now = (): number => this.t;
}

async function setup(db: Db = new SqliteDb(':memory:'), t = DAY1 + 12 * H, fixedRate = 100000) {
  const repo = new OracleRepo(db);
  await repo.init();
  const clock = new Clock(t);
  const pub = new Publisher({ repo, now: clock.now, fixedRate });
  const sample = (usd: number, at = clock.t) => repo.addSample({ takenAt: at, rateCents: Math.round(usd * 100), sources: {} });
  return { db, repo, clock, pub, sample };
}

describe('oracle publisher: midnight logic (injected clock)', () => {
  it('a first start with no sample publishes oracle.fixedRate provisionally', async () => {
    const { pub } = await setup();
    const r = await pub.tick();
    assert.equal(r.status, 'provisional');
    assert.equal(r.basis, 'fixed_rate');
    assert.equal(r.rateCents, 100000_00);
    assert.equal(r.samples, 0);
  });

  it('the provisional rate comes from the first samples, once; later samples wait for midnight', async () => {
    const { pub, clock, sample } = await setup();
    await pub.tick(); // fixed rate first
    await sample(90000);
    let r = await pub.tick();
    assert.deepEqual([r.status, r.basis, r.rateCents, r.samples], ['provisional', 'samples', 90000_00, 1]);
    clock.t += H;
    await sample(95000);
    r = await pub.tick();
    assert.equal(r.rateCents, 90000_00, 'the provisional rate stays until the first midnight');
  });

  it('at midnight publishes the mean of the previous 24 hours, used until the next midnight', async () => {
    const { pub, clock, sample } = await setup(undefined, DAY1 - 2 * H);
    await sample(80000, DAY1 - 2 * H); // the day before: not in the window
    await pub.tick();
    for (const [h, usd] of [[1, 90000], [6, 91000], [23, 92000.01]] as const) await sample(usd, DAY1 + h * H);
    await sample(99999, DAY2); // at midnight sharp: belongs to the next window
    clock.t = DAY2 + 5;
    let r = await pub.tick();
    assert.equal(r.status, 'published');
    assert.equal(r.basis, 'samples');
    assert.equal(r.samples, 3);
    assert.equal(r.rateCents, Math.round((9000000 + 9100000 + 9200001) / 3));
    assert.equal(r.windowStart, DAY1);
    assert.equal(r.windowEnd, DAY2);
    assert.equal(r.publishedAt, DAY2 + 5);
    // samples during the day do not move it
    clock.t = DAY2 + 20 * H;
    await sample(150000);
    r = await pub.tick();
    assert.equal(r.rateCents, 9100000);
    assert.equal(pub.previous(), undefined);
    // the next midnight publishes the next day's mean; the previous day's rate is kept
    clock.t = DAY2 + DAY_MS + 1;
    r = await pub.tick();
    assert.equal(r.rateCents, Math.round((9999900 + 15000000) / 2));
    assert.equal(pub.previous()?.rateCents, 9100000);
  });

  it('a day with no sample publishes nothing: the last rate stays in force', async () => {
    const { pub, clock, sample } = await setup();
    await sample(90000);
    clock.t = DAY2 + 1;
    assert.equal((await pub.tick()).rateCents, 9000000);
    clock.t = DAY2 + 3 * DAY_MS + 1; // three days of dead sources
    const r = await pub.tick();
    assert.equal(r.status, 'published');
    assert.equal(r.rateCents, 9000000);
    assert.equal(r.windowEnd, DAY2);
  });

  it('a restart keeps the rate; a midnight missed while stopped is published at start', async () => {
    const db = new SqliteDb(':memory:');
    const a = await setup(db);
    await a.sample(90000);
    await a.pub.tick();
    await a.sample(94000, DAY1 + 20 * H);
    // "restart": a new publisher on the same store, after midnight
    const b = await setup(db, DAY2 + 8 * H);
    const r = await b.pub.tick();
    assert.equal(r.status, 'published');
    assert.equal(r.rateCents, 9200000);
    assert.equal(r.publishedAt, DAY2 + 8 * H, 'published when it was computed');
    // and again, the same day: nothing changes
    const c = await setup(db, DAY2 + 9 * H);
    assert.deepEqual(await c.pub.tick(), r);
  });

  it('a provisional rate never comes back once a day rate exists', async () => {
    const db = new SqliteDb(':memory:');
    const a = await setup(db);
    await a.sample(90000);
    await a.pub.tick();
    a.clock.t = DAY2 + 1;
    await a.pub.tick();
    const b = await setup(db, DAY2 + 12 * DAY_MS); // long after, no sample in the last window
    const r = await b.pub.tick();
    assert.equal(r.status, 'published');
    assert.equal(await b.repo.provisional().then((p) => p?.basis), 'samples', 'the old provisional row stays as it was');
  });

  it('prunes samples older than a week at midnight', async () => {
    const { pub, clock, sample, repo } = await setup();
    await sample(90000, DAY1 - KEEP_SAMPLES_MS - H);
    await sample(91000, DAY1 - 2 * H);
    clock.t = DAY1 + 1;
    await pub.tick();
    assert.equal((await repo.samples(0, DAY2)).length, 1);
  });

  it('utcMidnight is UTC', () => {
    assert.equal(utcMidnight(DAY1 + 23 * H + 59 * 60_000), DAY1);
    assert.equal(utcMidnight(DAY2), DAY2);
  });
});

const pgUrl = TEST_POSTGRES_URL;

(pgUrl ? describe : describe.skip)('oracle publisher on PostgreSQL (replicas)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let dbs: Db[] = [];
  beforeEach(async () => {
    scratch = await scratchDatabase('owlrun_oracle');
  });
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((d) => d.close()));
    await scratch.drop();
  });

  it('two replicas publish the same day rate once', async () => {
    dbs = [await openDb(scratch.url), await openDb(scratch.url)];
    const a = await setup(dbs[0], DAY1 + 12 * H);
    const b = await setup(dbs[1], DAY1 + 12 * H);
    await a.sample(90000);
    await b.sample(92000);
    assert.equal((await a.pub.tick()).rateCents, 9100000);
    assert.equal((await b.pub.tick()).rateCents, 9100000, 'the provisional rate is shared');
    a.clock.t = DAY2 + 10;
    b.clock.t = DAY2 + 20;
    const [ra, rb] = await Promise.all([a.pub.tick(), b.pub.tick()]);
    assert.deepEqual(ra, rb);
    assert.equal(ra.status, 'published');
    assert.equal(ra.rateCents, 9100000);
    assert.equal(Number((await dbs[0]!.get<{ n: number }>("SELECT COUNT(*) AS n FROM oracle_rates WHERE status = 'published'"))?.n), 1);
  });
});
