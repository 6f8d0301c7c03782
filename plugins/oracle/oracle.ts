import type { Logger } from 'pino';
import type { RateSource } from '../../src/billing/rate.js';
import { Mutex } from '../../src/store/mutex.js';
import { nextUtcMidnight, Publisher } from './publisher.js';
import { DAY_MS, type OracleRepo, type PublishedRate, type Sample, type SourceReadings } from './samples.js';
import { absurdIndexes, fetchSource, median, SOURCE_ERROR_REASONS, type Fetcher, type SourceConfig, type SourceErrorReason } from './sources.js';

// The oracle service: polls the sources on an interval, stores each round's median as a sample,
// and keeps the published rate in force (publisher.ts). It is the RateSource Billing quotes
// with, and what the metrics plugin reads (services.find(OracleKey) → OracleMetrics).

/** What a metrics exporter reads; plain getters and counters, no prom-client here. */
export interface OracleMetrics {
  /** BTC/USD in force (what new jobs are quoted at). */
  rate(): number;
  /** Seconds since the rate in force was published. */
  rateAge(): number;
  /** 'published' (a day's mean) or 'provisional'. */
  status(): 'published' | 'provisional';
  /** 'samples' (from price sources) or 'fixed_rate' (oracle.fixedRate: no source answered yet). */
  basis(): 'samples' | 'fixed_rate';
  /** True when the rate in force is a day's rate older than today's (a midnight passed with no sample). */
  stale(): boolean;
  /** Seconds since the last sample, or undefined when none was taken. */
  lastSampleAge(): number | undefined;
  /** Polls of each source (attempts). */
  readonly sourceRequests: Map<string, number>;
  /** Unusable answers by source, every reason together. */
  readonly sourceErrors: Map<string, number>;
  /** Unusable answers by source and reason (timeout, network, http_status, bad_json, missing, non_numeric, non_positive, absurd, too_large). */
  readonly sourceErrorsByReason: Map<string, Map<SourceErrorReason, number>>;
  /** Each source's last accepted price (BTC/USD). */
  readonly sourceLastValue: Map<string, number>;
  /** Poll rounds, rounds that produced a sample, and changes of the rate in force since start. */
  readonly counters: { polls: number; samples: number; publications: number };
}

export interface SourceStatus {
  name: string;
  last_value: number | null;
  last_value_at: string | null;
  last_error: string | null;
  last_error_reason: SourceErrorReason | null;
  last_error_at: string | null;
  errors: number;
}

export interface OracleOptions {
  sources: readonly SourceConfig[];
  fixedRate: number;
  intervalMs: number;
  timeoutMs: number;
  repo: OracleRepo;
  log: Logger;
  now?: () => number;
  fetcher?: Fetcher;
}

/** The longest setTimeout Node accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());

export class Oracle implements RateSource, OracleMetrics {
  readonly sourceRequests = new Map<string, number>();
  readonly sourceErrors = new Map<string, number>();
  readonly sourceErrorsByReason = new Map<string, Map<SourceErrorReason, number>>();
  readonly sourceLastValue = new Map<string, number>();
  readonly counters = { polls: 0, samples: 0, publications: 0 };
  readonly now: () => number;
  readonly publisher: Publisher;

  private readonly lastValueAt = new Map<string, number>();
  private readonly lastError = new Map<string, { reason: SourceErrorReason; message: string; at: number }>();
  private lastSample?: Sample;
  private readonly lock = new Mutex();
  private readonly closing = new AbortController();
  private pollTimer?: NodeJS.Timeout;
  private midnightTimer?: NodeJS.Timeout;
  private readonly running = new Set<Promise<unknown>>();
  private answering = true;
  private closed = false;

  constructor(private readonly opts: OracleOptions) {
    this.now = opts.now ?? Date.now;
    this.publisher = new Publisher({
      repo: opts.repo,
      now: this.now,
      fixedRate: opts.fixedRate,
      onPublish: (rate, before) => {
        this.counters.publications++;
        opts.log.info(
          { btc_usd: rate.rateCents / 100, status: rate.status, basis: rate.basis, samples: rate.samples, previous: before.rateCents / 100 },
          rate.status === 'published' ? 'oracle: day rate published' : 'oracle: provisional rate (no day rate published yet)',
        );
      },
      onLoad: (rate) => {
        opts.log.info({ btc_usd: rate.rateCents / 100, status: rate.status, basis: rate.basis, published_at: new Date(rate.publishedAt).toISOString() }, 'oracle: rate in force');
      },
    });
    for (const s of opts.sources) {
      this.sourceRequests.set(s.name, 0);
      this.sourceErrors.set(s.name, 0);
      this.sourceErrorsByReason.set(s.name, new Map(SOURCE_ERROR_REASONS.map((r) => [r, 0])));
    }
  }

  /**
   * Loads what the store holds, polls once first when nothing was ever published (so a first
   * start publishes from real samples when the sources answer), publishes what is due, and
   * starts the poll and midnight timers.
   */
  async start(): Promise<void> {
    this.lastSample = await this.opts.repo.lastSample();
    if (this.lastSample) this.restoreReadings(this.lastSample);
    const firstStart = !(await this.publisher.hasPublished());
    if (firstStart && this.opts.sources.length > 0) await this.poll();
    else await this.tick();
    if (this.opts.sources.length > 0) this.schedulePoll(firstStart ? this.opts.intervalMs : 0);
    this.scheduleMidnight();
  }

  // ── RateSource ──
  btcUsd(): number {
    return this.publisher.current().rateCents / 100;
  }

  // ── OracleMetrics ──
  rate(): number {
    return this.btcUsd();
  }
  rateAge(): number {
    return Math.max(0, (this.now() - this.publisher.current().publishedAt) / 1000);
  }
  status(): 'published' | 'provisional' {
    return this.publisher.current().status;
  }
  basis(): 'samples' | 'fixed_rate' {
    return this.publisher.current().basis;
  }
  stale(): boolean {
    const r = this.publisher.current();
    return r.status === 'published' && r.windowEnd < Math.floor(this.now() / DAY_MS) * DAY_MS;
  }
  lastSampleAge(): number | undefined {
    return this.lastSample ? Math.max(0, (this.now() - this.lastSample.takenAt) / 1000) : undefined;
  }

  current(): PublishedRate {
    return this.publisher.current();
  }
  previous(): PublishedRate | undefined {
    return this.publisher.previous();
  }
  latestSample(): Sample | undefined {
    return this.lastSample;
  }

  sourceStatuses(): SourceStatus[] {
    return this.opts.sources.map((s) => {
      const err = this.lastError.get(s.name);
      return {
        name: s.name,
        last_value: this.sourceLastValue.get(s.name) ?? null,
        last_value_at: iso(this.lastValueAt.get(s.name)),
        last_error: err?.message ?? null,
        last_error_reason: err?.reason ?? null,
        last_error_at: iso(err?.at),
        errors: this.sourceErrors.get(s.name) ?? 0,
      };
    });
  }

  /**
   * One round: every source at once, each bounded by timeoutMs. Answers that are not a positive
   * number, or are > 10× from the round's median, are counted as errors and ignored; the median
   * of the rest is stored as a sample. Then whatever is due is published. Never throws.
   */
  async poll(): Promise<Sample | undefined> {
    const task = this.pollOnce().catch((err: unknown) => {
      this.opts.log.error({ err }, 'oracle: poll failed; the rate in force stays');
      return undefined;
    });
    this.running.add(task);
    try {
      return await task;
    } finally {
      this.running.delete(task);
    }
  }

  private async pollOnce(): Promise<Sample | undefined> {
    const { sources, timeoutMs, fetcher } = this.opts;
    if (this.closed) return undefined;
    if (sources.length === 0) return this.tick().then(() => undefined);
    this.counters.polls++;
    const results = await Promise.all(
      sources.map((s) => {
        this.sourceRequests.set(s.name, (this.sourceRequests.get(s.name) ?? 0) + 1);
        return fetchSource(s, timeoutMs, withClose(fetcher ?? fetch, this.closing.signal));
      }),
    );
    if (this.closed) return undefined;
    const at = this.now();
    const readings: SourceReadings = {};
    const okIdx: number[] = [];
    results.forEach((r, i) => {
      const name = sources[i]!.name;
      if (r.ok) okIdx.push(i);
      else {
        readings[name] = { error: r.reason, message: r.message };
        this.countError(name, r.reason, r.message, at);
      }
    });
    const values = okIdx.map((i) => (results[i] as { value: number }).value);
    const anchor = this.lastSample && at - this.lastSample.takenAt < DAY_MS ? this.lastSample.rateCents / 100 : undefined;
    const absurd = absurdIndexes(values, anchor);
    const accepted: number[] = [];
    okIdx.forEach((srcIdx, k) => {
      const name = sources[srcIdx]!.name;
      const value = values[k]!;
      if (absurd.has(k)) {
        const message = `${value} is more than 10x from the median of this poll`;
        readings[name] = { value, error: 'absurd', message };
        this.countError(name, 'absurd', message, at);
        return;
      }
      readings[name] = { value };
      accepted.push(value);
      this.sourceLastValue.set(name, value);
      this.lastValueAt.set(name, at);
      this.lastError.delete(name);
    });
    let sample: Sample | undefined;
    if (accepted.length > 0) {
      sample = { takenAt: at, rateCents: Math.round(median(accepted) * 100), sources: readings };
      await this.lock.with(() => this.opts.repo.addSample(sample!));
      this.lastSample = sample;
      this.counters.samples++;
      this.answering = true;
    } else if (this.answering) {
      this.answering = false; // logged once per outage
      this.opts.log.warn({ sources: sources.length }, 'oracle: no source answered with a usable price; the rate in force stays');
    }
    await this.tick();
    return sample;
  }

  /** Publishes what is due now (see Publisher.tick). Store errors are logged, never thrown: pricing goes on at the last rate. */
  async tick(): Promise<PublishedRate> {
    return this.lock.with(async () => {
      try {
        return await this.publisher.tick();
      } catch (err) {
        this.opts.log.error({ err }, 'oracle: publishing failed; the rate in force stays');
        return this.publisher.current();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.midnightTimer);
    this.closing.abort();
    await Promise.allSettled([...this.running]);
    await this.lock.with(async () => undefined);
  }

  private countError(name: string, reason: SourceErrorReason, message: string, at: number): void {
    this.sourceErrors.set(name, (this.sourceErrors.get(name) ?? 0) + 1);
    const byReason = this.sourceErrorsByReason.get(name);
    byReason?.set(reason, (byReason.get(reason) ?? 0) + 1);
    const before = this.lastError.get(name);
    this.lastError.set(name, { reason, message, at });
    // Warn when a source starts failing or fails differently; a source down for hours logs once.
    if (before?.reason !== reason) this.opts.log.warn({ source: name, reason, message }, 'oracle: price source unusable');
    else this.opts.log.debug({ source: name, reason }, 'oracle: price source still unusable');
  }

  private restoreReadings(s: Sample): void {
    for (const src of this.opts.sources) {
      const r = s.sources[src.name];
      if (r?.value !== undefined && r.error === undefined) {
        this.sourceLastValue.set(src.name, r.value);
        this.lastValueAt.set(src.name, s.takenAt);
      }
    }
  }

  private schedulePoll(delayMs: number): void {
    if (this.closed) return;
    this.pollTimer = setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll(this.opts.intervalMs));
    }, Math.min(delayMs, MAX_TIMER_MS));
    this.pollTimer.unref();
  }

  private scheduleMidnight(): void {
    if (this.closed) return;
    const now = this.now();
    const delay = Math.min(Math.max(1000, nextUtcMidnight(now) - now + 50), MAX_TIMER_MS);
    this.midnightTimer = setTimeout(() => {
      this.tick().finally(() => this.scheduleMidnight());
    }, delay);
    this.midnightTimer.unref();
  }
}

/** A fetch that also aborts when the oracle closes (shutdown does not wait for a slow source). */
function withClose(fetcher: Fetcher, closing: AbortSignal): Fetcher {
  return (input, init) => fetcher(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, closing]) : closing });
}
