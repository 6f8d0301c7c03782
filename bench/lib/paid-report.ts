// The markdown report of the paid mode (bench/paid-overhead.ts).
import type { ProcStats } from './protocol.js';
import { gcSummary, GOALS, mark, ok, pct, throughputDetails } from './report.js';
import type { PairResult } from './scenarios.js';
import { fmt, mb, median, percentile, signed } from './stats.js';
import { markdownTable } from './table.js';
import { burstSummary, type BurstResult } from './burst.js';

/** What a paid job may add to TTFT beyond its one mint swap, over a free job on the plain gateway. */
export const PAID_GOALS = { addedBeyondSwapMs: 3, mintCallsPerJob: 1 };

/** One paid request of the measured series. */
export interface PaidJob {
  /** HTTP 200, ended with the change event. */
  ok: boolean;
  ttftMs?: number;
  cost?: number;
  change?: number;
  error?: string;
}

/** CPU and CPU-wait seconds per process ('client', 'sim', 'mint', gateways) over a span. */
export interface Spent {
  cpu: Record<string, number>;
  wait: Record<string, number>;
  /** CPU seconds used by processes outside the benchmark. */
  foreign: number;
  wallS: number;
}

export interface PaidTtft {
  /** Successful TTFTs (ms) of the free targets. */
  direct: number[];
  plain: number[];
  free: number[];
  /** Every paid request of the series, in order. */
  jobs: PaidJob[];
  /** The mint's own duration of each POST /v1/swap during the series, in order, and its status. */
  swapMs: number[];
  swapStatus: number[];
  /** Every mint request during the series, by endpoint. */
  mintRequests: Record<string, number>;
  /** Failures per target: direct, plain, free, paid. */
  failed: number[];
  firstError?: string;
  spent: Spent;
  /** Paid requests sent without a token (the pre-minted ones ran out). */
  tokensMissing: number;
}

export interface PaidReport {
  setup: string;
  loadStart: number;
  premint: { count: number; sats: number; parallel: number; seconds: number; mintCpuS: number };
  ttft?: PaidTtft;
  streams?: PairResult;
  /** n paid streams sent at once, each with a fresh token. */
  burst?: BurstResult;
  paidStart: ProcStats;
  paidEnd: ProcStats;
  freeEnd: ProcStats;
}

const ms = (v: number): string => `${fmt(v, 2)} ms`;
const range = (xs: number[]): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
};

export function renderPaidReport(r: PaidReport, a: { connections: number; streamTokens: number; kind: string; plugins: string[]; tokenSats: number; gapMs: number }): string {
  const framing = a.kind === 'ollama' ? 'NDJSON' : 'SSE';
  const freeName = `[${a.plugins.join(', ')}]`;
  const rows: string[][] = [];
  const details: string[] = [];
  details.push(
    `pre-minting (before the timed part): ${r.premint.count} token${r.premint.count === 1 ? '' : 's'} of ${r.premint.sats} sats in ${fmt(r.premint.seconds, 1)} s, ${r.premint.parallel} at a time ` +
      `(${fmt((r.premint.seconds / r.premint.count) * 1000, 0)} ms per token; the mint used ${fmt(r.premint.mintCpuS, 1)} s of CPU)`,
  );

  const t = r.ttft;
  if (t) {
    const n = t.jobs.length;
    const good = t.jobs.filter((j) => j.ok && j.ttftMs !== undefined);
    const paid = good.map((j) => j.ttftMs!);
    const swaps = t.swapMs.length;
    // Sequential requests: the i-th swap is the i-th paid job's claim when the counts agree.
    const aligned = swaps === n && good.length === n;
    const mS = median(t.swapMs);
    const net = aligned ? t.jobs.map((j, i) => j.ttftMs! - t.swapMs[i]!) : paid.map((v) => v - mS);
    const [mD, mP, mF, mM, mN] = [median(t.direct), median(t.plain), median(t.free), median(paid), median(net)];
    const p95 = (xs: number[]): number => percentile(xs, 95);
    const added = mM - mP;
    rows.push([`TTFT median, paced stream (n=${n}): free on [] vs paid`, ms(mP), ms(mM), signed(added, 2, ' ms'), `one swap (${fmt(mS, 1)} ms) + ≤${PAID_GOALS.addedBeyondSwapMs} ms ${mark(added <= mS + PAID_GOALS.addedBeyondSwapMs)}`]);
    rows.push(['TTFT p95: free on [] vs paid', ms(p95(t.plain)), ms(p95(paid)), signed(p95(paid) - p95(t.plain), 2, ' ms'), '—']);
    rows.push(['mint swap time, inside the mint: median / p95', '—', `${fmt(mS, 2)} / ${fmt(p95(t.swapMs), 2)} ms`, '—', '—']);
    rows.push([`paid TTFT − its own swap${aligned ? '' : ' (median swap)'}, median: vs free on []`, ms(mP), ms(mN), signed(mN - mP, 2, ' ms'), `≤+${PAID_GOALS.addedBeyondSwapMs} ms ${mark(mN - mP <= PAID_GOALS.addedBeyondSwapMs)}`]);
    rows.push([`paid TTFT − its own swap, p95: vs free on [] p95`, ms(p95(t.plain)), ms(p95(net)), signed(p95(net) - p95(t.plain), 2, ' ms'), '—']);
    rows.push([`paid TTFT − its own swap, median: vs direct`, ms(mD), ms(mN), signed(mN - mD, 2, ' ms'), `≤+${GOALS.ttftAddedMs} ms ${mark(mN - mD <= GOALS.ttftAddedMs)}`]);
    rows.push(['TTFT median: direct vs free on []', ms(mD), ms(mP), signed(mP - mD, 2, ' ms'), `≤+${GOALS.ttftAddedMs} ms ${mark(mP - mD <= GOALS.ttftAddedMs)}`]);
    rows.push([`TTFT median: direct vs free on ${freeName}`, ms(mD), ms(mF), signed(mF - mD, 2, ' ms'), `≤+${GOALS.ttftAddedMs} ms ${mark(mF - mD <= GOALS.ttftAddedMs)}`]);
    const all = Object.values(t.mintRequests).reduce((x, y) => x + y, 0);
    const perJob = n > 0 ? swaps / n : NaN;
    rows.push([
      'mint calls per paid job (POST /v1/swap ÷ jobs)',
      '—',
      `${fmt(perJob, 2)} (${swaps}/${n})`,
      '—',
      `exactly ${PAID_GOALS.mintCallsPerJob} ${mark(swaps === n * PAID_GOALS.mintCallsPerJob && n > 0)}`,
    ]);
    rows.push(['mint requests per paid job, any endpoint', '—', `${fmt(n > 0 ? all / n : NaN, 2)} (${all}/${n})`, '—', '—']);
    const costs = good.map((j) => j.cost!);
    const changes = good.map((j) => j.change!);
    if (good.length > 0) rows.push(['paid job: cost / change (from the change event)', '—', `${range(costs)} / ${range(changes)} sats of ${a.tokenSats}`, '—', '—']);
    const cpu = t.spent.cpu;
    const per = (name: string, jobs: number): number => ((cpu[name] ?? NaN) / jobs) * 1000;
    rows.push(['gateway CPU per paced job: free on [] vs paid (claim, unblinding, settle)', ms(per('plain', n)), ms(per('paid', n)), signed(per('paid', n) - per('plain', n), 2, ' ms'), '—']);

    if (t.failed.some((f) => f > 0)) {
      details.push(`**ttft: failed — direct ${t.failed[0]}, plain ${t.failed[1]}, free ${t.failed[2]}, paid ${t.failed[3]}** (first: ${t.firstError}; first paid: ${t.jobs.find((j) => !j.ok)?.error ?? '—'})`);
    }
    if (t.tokensMissing > 0) details.push(`**ttft: ${t.tokensMissing} paid requests went out without a token (pre-minted tokens ran out)**`);
    const badSwaps = t.swapStatus.filter((s) => s !== 200).length;
    details.push(
      `ttft: series of ${n} rounds × 4 targets (direct, plain [], free ${freeName}, paid), ${a.gapMs} ms idle after each request; ` +
        `p99 direct ${ms(percentile(t.direct, 99))}, plain ${ms(percentile(t.plain, 99))}, free ${ms(percentile(t.free, 99))}, paid ${ms(percentile(paid, 99))}; ` +
        `median free ${freeName} ${ms(mF)}`,
      `swaps: ${swaps} during the series (${badSwaps} not HTTP 200), inside the mint min ${ms(Math.min(...t.swapMs))}, max ${ms(Math.max(...t.swapMs))}; ` +
        (aligned ? 'each paid job paired with its own swap (sequential: swap i = paid job i)' : `**swaps ≠ successful paid jobs: the median swap time is subtracted instead**`) +
        `; mint requests during the series: ${Object.entries(t.mintRequests).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
      `CPU during the series: mint ${ms(per('mint', Math.max(1, swaps)))} per swap; gateways per job: plain ${ms(per('plain', n))}, free ${ms(per('free', n))}, paid ${ms(per('paid', n))}`,
      `ttft noise: other processes used ${pct(t.spent.foreign, t.spent.wallS)} of a CPU during the ${fmt(t.spent.wallS, 0)} s series; ` +
        `event loops runnable but not running: paid gateway ${fmt((t.spent.wait.paid ?? 0) * 1000, 0)} ms, plain ${fmt((t.spent.wait.plain ?? 0) * 1000, 0)} ms, ` +
        `free ${fmt((t.spent.wait.free ?? 0) * 1000, 0)} ms, mint ${fmt((t.spent.wait.mint ?? 0) * 1000, 0)} ms, client ${fmt((t.spent.wait.client ?? 0) * 1000, 0)} ms` +
        (t.spent.foreign / t.spent.wallS > 0.1 ? ' — ⚠ other processes competed for the CPUs: tails (p95) are skewed' : ''),
    );
  }

  const p = r.streams;
  if (p) {
    const { direct: d, gateway: g } = p;
    const ratio = g.perSecond / d.perSecond;
    const excluded = p.used < p.rounds.length ? ` (${p.used}/${p.rounds.length} rounds)` : '';
    rows.push([`streams/s (${a.connections} clients, ${a.streamTokens}-chunk ${framing}): direct vs free on ${freeName}${excluded}`, fmt(d.perSecond), fmt(g.perSecond), `${fmt(ratio, 2)}x`, `≥${fmt(GOALS.streamRatio, 2)}x ${mark(ratio >= GOALS.streamRatio)}`]);
    rows.push([`gateway CPU per stream on ${freeName}`, '—', ms((g.cpu.gateway / ok(g)) * 1000), '—', '—']);
    details.push(...throughputDetails('streams', 'stream', p));
    details.push('streams: "other processes" counts the idle plain and paid gateways and the idle mint too (timers only)');
  }

  if (r.burst) {
    const b = r.burst;
    const served = b.outcomes.filter((o) => o.ok);
    const ttft = served.map((o) => o.ttftMs).filter((x): x is number => x !== undefined);
    rows.push([`${b.n} paid streams at once (fresh token each): served; TTFT p50 / p95`, '—', `${served.length}/${b.n}; ${fmt(percentile(ttft, 50), 0)} / ${fmt(percentile(ttft, 95), 0)} ms`, '—', `all served ${mark(served.length === b.n)}`]);
    details.push(`paid burst: ${burstSummary(b)}; the last ended after ${fmt(b.wallMs, 0)} ms`);
  }

  const peakPaid = mb(r.paidEnd.maxRssBytes);
  const peakFree = mb(r.freeEnd.maxRssBytes);
  rows.push([`gateway peak RSS: free on ${freeName} (ran the streams/s load) vs paid`, `${fmt(peakFree)} MB`, `${fmt(peakPaid)} MB`, '—', `≤${GOALS.peakRssMb} MB: free ${mark(peakFree <= GOALS.peakRssMb)} paid ${mark(peakPaid <= GOALS.peakRssMb)}`]);
  details.push(
    `memory: paid gateway RSS idle after start ${fmt(mb(r.paidStart.rssBytes))} MB, at the end ${fmt(mb(r.paidEnd.rssBytes))} MB (heap used ${fmt(mb(r.paidEnd.heapUsedBytes))} MB)`,
    `GC: free gateway ${gcSummary(r.freeEnd)}; paid gateway ${gcSummary(r.paidEnd)}`,
  );

  const table = markdownTable(['metric', 'free/direct', 'paid/with plugins', 'added or ratio', 'goal'], rows);
  return `${table}\n\n${details.map((x) => `- ${x}`).join('\n')}\n`;
}
