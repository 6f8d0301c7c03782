import { DAY_MS, meanCents, type OracleRepo, type PublishedRate } from './samples.js';

// When the rate in force changes. At 00:00 UTC each day the mean of the previous 24 hours'
// samples is published, and used for all pricing until the next midnight. Before the first
// day's rate exists (a first start), a provisional rate is published from the first samples,
// else from oracle.fixedRate, and upgraded once when the first sample arrives. A day with no
// sample publishes nothing: the last rate stays in force (its age grows; it is reported stale).
// The clock is injectable (`now`), so tests cross midnight without waiting for it.

export const utcMidnight = (t: number): number => Math.floor(t / DAY_MS) * DAY_MS;
export const nextUtcMidnight = (t: number): number => utcMidnight(t) + DAY_MS;

/** Samples older than this are deleted (the day's rates themselves are kept). */
export const KEEP_SAMPLES_MS = 7 * DAY_MS;

export interface PublisherOptions {
  repo: OracleRepo;
  now: () => number;
  /** oracle.fixedRate, BTC/USD. */
  fixedRate: number;
  /** The rate in force changed (not called for the first tick, which loads it: onLoad). */
  onPublish?: (rate: PublishedRate, previous: PublishedRate) => void;
  onLoad?: (rate: PublishedRate) => void;
}

export class Publisher {
  private inForce: PublishedRate;
  private previousDaily?: PublishedRate;
  private prunedFor = -1;
  private loaded = false;

  constructor(private readonly opts: PublisherOptions) {
    const t = opts.now();
    this.inForce = fixedProvisional(opts.fixedRate, t);
  }

  /** The rate in force (cached: read synchronously on every quote). */
  current(): PublishedRate {
    return this.inForce;
  }

  /** The day's rate before the current one (jobs quoted before the last midnight were billed at it). */
  previous(): PublishedRate | undefined {
    return this.previousDaily;
  }

  /** Whether anything (a day's rate or a provisional one) was ever published in the store. */
  async hasPublished(): Promise<boolean> {
    return (await this.opts.repo.latestDaily()) !== undefined || (await this.opts.repo.provisional()) !== undefined;
  }

  /**
   * Brings the rate in force up to date with the clock and the store: publishes the day's rate
   * due at the last midnight if it is not yet (idempotent; another replica may have), or the
   * provisional rate while no day's rate exists; then reloads what is in force.
   */
  async tick(): Promise<PublishedRate> {
    const { repo } = this.opts;
    const now = this.opts.now();
    const midnight = utcMidnight(now);
    if (!(await repo.daily(midnight))) await repo.publishDaily(midnight, now);
    let daily = await repo.latestDaily();
    if (!daily) {
      await repo.updateProvisional(async (cur, sql) => {
        const st = await repo.stats(now - DAY_MS, now + 1, sql);
        if (st.n > 0) {
          // From the samples there are: once, when nothing (or only the fixed rate) was published.
          if (cur && cur.basis === 'samples') return undefined;
          return { status: 'provisional', basis: 'samples', rateCents: meanCents(st), publishedAt: now, windowStart: st.first, windowEnd: st.last, samples: st.n };
        }
        const fixed = fixedProvisional(this.opts.fixedRate, now);
        if (cur && (cur.basis === 'samples' || cur.rateCents === fixed.rateCents)) return undefined;
        return fixed;
      });
      daily = await repo.latestDaily(); // a replica may have published meanwhile
    }
    const next = daily ?? (await repo.provisional()) ?? fixedProvisional(this.opts.fixedRate, now);
    const before = this.inForce;
    this.inForce = next;
    this.previousDaily = daily ? await repo.latestDaily(daily.windowEnd) : undefined;
    if (!this.loaded) {
      this.loaded = true;
      this.opts.onLoad?.(next);
    } else if (!sameRate(before, next)) {
      this.opts.onPublish?.(next, before);
    }
    if (this.prunedFor !== midnight) {
      this.prunedFor = midnight;
      await repo.pruneSamples(midnight - KEEP_SAMPLES_MS);
    }
    return next;
  }
}

function sameRate(a: PublishedRate, b: PublishedRate): boolean {
  return a.status === b.status && a.basis === b.basis && a.rateCents === b.rateCents && a.publishedAt === b.publishedAt && a.windowEnd === b.windowEnd;
}

/** oracle.fixedRate as a provisional rate (no sample behind it). */
export function fixedProvisional(fixedRate: number, now: number): PublishedRate {
  return { status: 'provisional', basis: 'fixed_rate', rateCents: Math.round(fixedRate * 100), publishedAt: now, windowStart: now, windowEnd: now, samples: 0 };
}
