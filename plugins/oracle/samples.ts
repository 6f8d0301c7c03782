import { randomUUID } from 'node:crypto';
import type { Db, SqlExecutor } from '../../src/store/db.js';
import { migrate, type MigrationSet } from '../../src/store/migrate.js';

// The oracle's store: every sample (the median of one poll round) and every published rate.
// Rates are kept as integer cents per BTC — what price.ts uses — so the published number is
// exactly the number jobs are quoted at. Several replicas may share the store (PostgreSQL):
// a day's rate is inserted once (the first replica to publish wins), and all read it back.

export const DAY_MS = 86_400_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oracle_samples (
  id TEXT PRIMARY KEY,
  taken_at BIGINT NOT NULL,
  rate_cents BIGINT NOT NULL,
  sources TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS oracle_samples_taken_at ON oracle_samples (taken_at);
CREATE TABLE IF NOT EXISTS oracle_rates (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  basis TEXT NOT NULL,
  rate_cents BIGINT NOT NULL,
  published_at BIGINT NOT NULL,
  window_start BIGINT NOT NULL,
  window_end BIGINT NOT NULL,
  samples BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS oracle_rates_window_end ON oracle_rates (window_end);
`;

/** Schema versions of oracle_samples, oracle_rates (src/store/migrate.ts: never edit a released one, append). */
export const ORACLE_MIGRATIONS: MigrationSet = {
  owner: 'oracle',
  migrations: [{ version: 1, name: 'first schema', up: SCHEMA }],
};

/** What each source said in one round: its price, or why it was not used. */
export type SourceReadings = Record<string, { value?: number; error?: string; message?: string }>;

export interface Sample {
  takenAt: number;
  rateCents: number;
  sources: SourceReadings;
}

export type RateStatus = 'published' | 'provisional';
/** samples: the mean of stored samples; fixed_rate: oracle.fixedRate (no sample yet). */
export type RateBasis = 'samples' | 'fixed_rate';

export interface PublishedRate {
  status: RateStatus;
  basis: RateBasis;
  rateCents: number;
  publishedAt: number;
  /** The samples averaged: [windowStart, windowEnd) for a day's rate; first..last sample for a provisional one. */
  windowStart: number;
  windowEnd: number;
  samples: number;
}

interface RateRow {
  [k: string]: string | number | null;
  id: string;
  status: string;
  basis: string;
  rate_cents: number;
  published_at: number;
  window_start: number;
  window_end: number;
  samples: number;
}

const PROVISIONAL_ID = 'provisional';
const dailyId = (windowEnd: number): string => `daily:${new Date(windowEnd).toISOString().slice(0, 10)}`;

function toRate(r: RateRow): PublishedRate {
  return {
    status: r.status === 'published' ? 'published' : 'provisional',
    basis: r.basis === 'fixed_rate' ? 'fixed_rate' : 'samples',
    rateCents: Number(r.rate_cents),
    publishedAt: Number(r.published_at),
    windowStart: Number(r.window_start),
    windowEnd: Number(r.window_end),
    samples: Number(r.samples),
  };
}

export interface WindowStats {
  n: number;
  sumCents: number;
  first: number;
  last: number;
}

/** The mean rate of a window, in whole cents (half up). A rate, not money: a plain division is fine. */
export function meanCents(s: WindowStats): number {
  return Math.round(s.sumCents / s.n);
}

export class OracleRepo {
  constructor(private readonly db: Db) {}

  async init(): Promise<void> {
    await migrate(this.db, [ORACLE_MIGRATIONS]);
  }

  async addSample(s: Sample): Promise<void> {
    await this.db.run('INSERT INTO oracle_samples (id, taken_at, rate_cents, sources) VALUES (?, ?, ?, ?)', [randomUUID(), s.takenAt, s.rateCents, JSON.stringify(s.sources)]);
  }

  async lastSample(): Promise<Sample | undefined> {
    const r = await this.db.get<{ taken_at: number; rate_cents: number; sources: string }>('SELECT taken_at, rate_cents, sources FROM oracle_samples ORDER BY taken_at DESC LIMIT 1');
    return r ? { takenAt: Number(r.taken_at), rateCents: Number(r.rate_cents), sources: parseReadings(r.sources) } : undefined;
  }

  /** Samples with from ≤ taken_at < to, oldest first. */
  async samples(from: number, to: number, limit = 10_000): Promise<Sample[]> {
    const rows = await this.db.all<{ taken_at: number; rate_cents: number; sources: string }>(
      'SELECT taken_at, rate_cents, sources FROM oracle_samples WHERE taken_at >= ? AND taken_at < ? ORDER BY taken_at, id LIMIT ?',
      [from, to, limit],
    );
    return rows.map((r) => ({ takenAt: Number(r.taken_at), rateCents: Number(r.rate_cents), sources: parseReadings(r.sources) }));
  }

  async stats(from: number, to: number, sql: SqlExecutor = this.db): Promise<WindowStats> {
    const r = await sql.get<{ n: number | string; s: number | string | null; a: number | null; b: number | null }>(
      'SELECT COUNT(*) AS n, SUM(rate_cents) AS s, MIN(taken_at) AS a, MAX(taken_at) AS b FROM oracle_samples WHERE taken_at >= ? AND taken_at < ?',
      [from, to],
    );
    return { n: Number(r?.n ?? 0), sumCents: Number(r?.s ?? 0), first: Number(r?.a ?? 0), last: Number(r?.b ?? 0) };
  }

  /** The day's rate published for the window ending at `windowEnd` (a UTC midnight). */
  async daily(windowEnd: number): Promise<PublishedRate | undefined> {
    const r = await this.db.get<RateRow>('SELECT * FROM oracle_rates WHERE id = ?', [dailyId(windowEnd)]);
    return r ? toRate(r) : undefined;
  }

  /** The most recent day's rate, optionally the last one before `before` (a window end). */
  async latestDaily(before?: number): Promise<PublishedRate | undefined> {
    const r =
      before === undefined
        ? await this.db.get<RateRow>("SELECT * FROM oracle_rates WHERE status = 'published' ORDER BY window_end DESC LIMIT 1")
        : await this.db.get<RateRow>("SELECT * FROM oracle_rates WHERE status = 'published' AND window_end < ? ORDER BY window_end DESC LIMIT 1", [before]);
    return r ? toRate(r) : undefined;
  }

  async provisional(): Promise<PublishedRate | undefined> {
    const r = await this.db.get<RateRow>('SELECT * FROM oracle_rates WHERE id = ?', [PROVISIONAL_ID]);
    return r ? toRate(r) : undefined;
  }

  /**
   * Publishes the mean of the samples of [windowEnd − 24 h, windowEnd) as that day's rate, once:
   * if a replica already published it, that row is returned. Undefined when there is no sample.
   */
  async publishDaily(windowEnd: number, publishedAt: number): Promise<PublishedRate | undefined> {
    const id = dailyId(windowEnd);
    return this.db.tx(async (sql) => {
      const existing = await sql.get<RateRow>('SELECT * FROM oracle_rates WHERE id = ?', [id]);
      if (existing) return toRate(existing);
      const windowStart = windowEnd - DAY_MS;
      const st = await this.stats(windowStart, windowEnd, sql);
      if (st.n === 0) return undefined;
      const rate: PublishedRate = { status: 'published', basis: 'samples', rateCents: meanCents(st), publishedAt, windowStart, windowEnd, samples: st.n };
      await sql.run(
        'INSERT INTO oracle_rates (id, status, basis, rate_cents, published_at, window_start, window_end, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
        [id, rate.status, rate.basis, rate.rateCents, rate.publishedAt, rate.windowStart, rate.windowEnd, rate.samples],
      );
      const row = await sql.get<RateRow>('SELECT * FROM oracle_rates WHERE id = ?', [id]);
      return row ? toRate(row) : rate;
    });
  }

  /**
   * Writes the provisional rate (before the first day's rate exists). `decide` sees the current
   * provisional row and returns the new one, or undefined to keep it; nothing is written once a
   * day's rate exists (returns undefined then).
   */
  async updateProvisional(decide: (current: PublishedRate | undefined, sql: SqlExecutor) => Promise<PublishedRate | undefined>): Promise<PublishedRate | undefined> {
    return this.db.tx(async (sql) => {
      const daily = await sql.get("SELECT id FROM oracle_rates WHERE status = 'published' LIMIT 1");
      if (daily) return undefined;
      const cur = await sql.get<RateRow>('SELECT * FROM oracle_rates WHERE id = ?', [PROVISIONAL_ID]);
      const next = await decide(cur ? toRate(cur) : undefined, sql);
      if (!next) return undefined;
      await sql.run(
        'INSERT INTO oracle_rates (id, status, basis, rate_cents, published_at, window_start, window_end, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET basis = excluded.basis, rate_cents = excluded.rate_cents, published_at = excluded.published_at, ' +
          'window_start = excluded.window_start, window_end = excluded.window_end, samples = excluded.samples',
        [PROVISIONAL_ID, 'provisional', next.basis, next.rateCents, next.publishedAt, next.windowStart, next.windowEnd, next.samples],
      );
      return next;
    });
  }

  async pruneSamples(before: number): Promise<number> {
    return this.db.run('DELETE FROM oracle_samples WHERE taken_at < ?', [before]);
  }
}

function parseReadings(text: string): SourceReadings {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as SourceReadings) : {};
  } catch {
    return {};
  }
}
