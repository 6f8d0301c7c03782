// Turns the measurements into the markdown report.
import { burstSummary, type BurstResult } from './burst.js';
import type { ProcStats } from './protocol.js';
import type { ExtraSide } from './env.js';
import type { PairResult, SideResult, TtftResult } from './scenarios.js';
import { fmt, mb, median, percentile, signed } from './stats.js';
import { markdownTable } from './table.js';

export const GOALS = { streamRatio: 0.9, rpsVsBare: 0.9, cpuPerStreamMs: 1.0, ttftAddedMs: 2, peakRssMb: 200 };

export interface Report {
  streams?: PairResult;
  ttft?: TtftResult;
  rps?: PairResult;
  /** wrk drove the non-streaming run (else the in-process client). */
  rpsByWrk?: boolean;
  /** n streams at once on one node configured with the kind's default maxConcurrent. */
  burst?: BurstResult;
  /** n streams at once on one node of maxConcurrent `queueCap`: the admission queue's waits. */
  queueBurst?: BurstResult;
  queueCap?: number;
  gatewayStart: ProcStats;
  gatewayEnd: ProcStats;
  bareEnd?: ProcStats;
  /** The extra gateways (--before, --access-log-off) at the end of the run. */
  extraEnd?: Partial<Record<ExtraSide, ProcStats>>;
  simEnd: ProcStats;
}

export const mark = (ok: boolean): string => (ok ? '✅' : '❌');
export const ok = (s: SideResult): number => s.completed - s.failed;

/** A child's GCs since it was ready, and how fast its old generation grew between full GCs (GcCounts). */
export function gcSummary(x: ProcStats): string {
  const g = x.gc;
  if (!g) return 'GCs not counted (a child of an older tree)';
  const perScavenge = g.oldGrowthScavenges > 0 ? mb(g.oldGrowthBytes) / g.oldGrowthScavenges : 0;
  return `${g.scavenges} scavenges, ${g.fullGcs} full GCs, old generation +${fmt(perScavenge, 2)} MB per scavenge between full GCs`;
}

export function pct(cpuS: number, wallS: number): string {
  return `${fmt((cpuS / wallS) * 100, 0)}%`;
}

/** Details lines shared by the two throughput metrics. */
export function throughputDetails(name: string, unit: string, p: PairResult): string[] {
  const { direct: d, gateway: g } = p;
  const out: string[] = [];
  const failedD = p.all.direct.failed;
  const failedG = p.all.gateway.failed;
  if (failedD + failedG > 0) {
    const first = p.all.direct.firstError ?? p.all.gateway.firstError;
    const scope =
      p.used < p.rounds.length
        ? `the table uses the ${p.used} of ${p.rounds.length} rounds without failures; over all rounds: direct ${fmt(p.all.direct.perSecond)}/s, gateway ${fmt(p.all.gateway.perSecond)}/s (${fmt(p.all.gateway.perSecond / p.all.direct.perSecond, 2)}x)`
        : 'every round had failures: the table counts successes only';
    out.push(`**${name}: ${failedD} direct and ${failedG} gateway requests failed** (first: ${first}); ${scope}`);
  }
  const latency = (s: SideResult): string => fmt(median(s.latenciesMs), unit === 'stream' ? 1 : 2);
  out.push(
    `${name}: gateway/direct per round ${perRound(p.rounds.map((r) => r.gateway.perSecond / r.direct.perSecond))}`,
    `${name}: p50 ${unit} duration direct ${latency(d)} ms, gateway ${latency(g)} ms; ${fmt(d.bytes / Math.max(1, ok(d)), 0)} bytes per ${unit}`,
    `${name}: one gateway core could carry ≈${fmt(ok(g) / g.cpu.gateway, 0)} ${unit}s/s (1 / CPU per ${unit}; ${fmt(ok(g) / g.cpu.gateway / d.perSecond, 2)}x the direct rate), less sensitive to other load than the measured rate; ` +
      `the simulator spends ${fmt((d.cpu.sim / ok(d)) * 1000, 3)} ms of CPU per ${unit}`,
    `${name}: CPU busy (100% = one core) — direct run: client ${pct(d.cpu.client, d.wallS)}, simulator ${pct(d.cpu.sim, d.wallS)}; ` +
      `gateway run: client ${pct(g.cpu.client, g.wallS)}, simulator ${pct(g.cpu.sim, g.wallS)}, gateway ${pct(g.cpu.gateway, g.wallS)}`,
    contention(name, p),
  );
  const b = p.bare;
  if (b) {
    out.push(
      `${name}: bare http-proxy ${fmt(b.perSecond)}/s (${p.all.bare?.failed ?? 0} failed), ${fmt((b.cpu.gateway / Math.max(1, ok(b))) * 1000, 3)} ms of its CPU per ${unit}; gateway/bare per round ${perRound(p.rounds.flatMap((r) => (r.bare ? [r.gateway.perSecond / r.bare.perSecond] : [])))}`,
    );
  }
  return out;
}

/**
 * Ratios of the rounds, then their median: a host's slow spell that falls on one side's window
 * drags the summed rate of a whole run, the median of the rounds much less.
 */
function perRound(ratios: readonly number[]): string {
  return `${ratios.map((x) => fmt(x, 2)).join(', ')}; median ${fmt(median(ratios), 2)}`;
}

/**
 * Other work on the machine during the windows, and how long the gateway's event loop (alone on
 * its CPU when pinned) sat runnable without getting one.
 */
function contention(name: string, p: PairResult): string {
  const { direct: d, gateway: g } = p;
  const foreign = Math.max(d.foreign / d.wallS, g.foreign / g.wallS);
  const warn = foreign > 0.1 ? ' — ⚠ other processes competed for the CPUs: numbers are skewed, run again on a quiet machine' : '';
  return (
    `${name}: other processes used ${pct(d.foreign, d.wallS)} (direct run) / ${pct(g.foreign, g.wallS)} (gateway run) of a CPU; ` +
    `gateway event loop runnable but not running ${pct(g.wait.gateway, g.wallS)} of the time (other processes, or its own GC threads)${warn}`
  );
}

const EXTRA_LABELS: Record<ExtraSide, string> = { before: 'gateway before (--before tree)', nolog: 'gateway, log.access false' };

/**
 * Rows of the extra gateways (same run, same backend): rate, CPU per unit, and both against this
 * gateway's — the before/after and access-log on/off comparisons.
 */
function extraRows(metric: string, p: PairResult, per: number): string[][] {
  const rows: string[][] = [];
  const g = p.gateway;
  for (const [side, x] of Object.entries(p.extra) as [ExtraSide, SideResult][]) {
    const gCpu = g.cpu.gateway / ok(g);
    const xCpu = x.cpu.gateway / ok(x);
    rows.push([`${metric}: ${EXTRA_LABELS[side]}`, '—', '—', fmt(x.perSecond), `${fmt(x.perSecond / p.direct.perSecond, 2)}x`, vsBare(x, p.bare), `this gateway: ${fmt(g.perSecond / x.perSecond, 2)}x its rate`]);
    rows.push([`  its proxy CPU per ${per === 1 ? 'stream' : '1k requests'}`, '—', '—', cpuMs(x, per), '—', '—', `this gateway: ${cpuMs(g, per)} (${fmt(gCpu / xCpu, 2)}x)`]);
  }
  return rows;
}

const cpuMs = (s: SideResult | undefined, per = 1): string => (s ? `${fmt((s.cpu.gateway / ok(s)) * 1000 * per, per === 1 ? 3 : 0)} ms` : '—');
const vsBare = (g: SideResult, b: SideResult | undefined): string => (b ? `${fmt(g.perSecond / b.perSecond, 2)}x` : '—');

/** Queue waits of the requests that waited (Server-Timing), as "p50 / p95 / p99 ms (n waited)". */
export function queueWaits(b: BurstResult): string {
  const waits = b.outcomes.map((o) => o.queueMs).filter((q): q is number => q !== undefined);
  if (waits.length === 0) return 'none waited';
  return `${fmt(median(waits), 0)} / ${fmt(percentile(waits, 95), 0)} / ${fmt(percentile(waits, 99), 0)} ms (${waits.length} of ${b.n} waited)`;
}

export function renderReport(r: Report, a: { connections: number; streamTokens: number; kind: string; plugins: string[] }): string {
  const framing = a.kind === 'ollama' ? 'NDJSON' : 'SSE';
  const rows: string[][] = [];
  const details: string[] = [];
  const plain = a.plugins.length === 0;
  const excluded = (p: PairResult): string => (p.used < p.rounds.length ? ` (${p.used}/${p.rounds.length} rounds)` : '');
  if (r.streams) {
    const { direct: d, gateway: g, bare: b } = r.streams;
    const ratio = g.perSecond / d.perSecond;
    const none = r.streams.all.gateway.failed === 0;
    const good = ratio >= GOALS.streamRatio && (!b || g.perSecond >= b.perSecond) && none;
    rows.push([`streams/s (${a.connections} clients, ${a.streamTokens}-chunk ${framing})${excluded(r.streams)}`, fmt(d.perSecond), b ? fmt(b.perSecond) : '—', fmt(g.perSecond), `${fmt(ratio, 2)}x`, vsBare(g, b), `≥${fmt(GOALS.streamRatio, 2)}x direct, ≥ bare, none refused ${mark(good)}`]);
    const perStream = (g.cpu.gateway / ok(g)) * 1000;
    rows.push(['proxy CPU per stream', '—', cpuMs(b), cpuMs(g), '—', b ? `${fmt(perStream / ((b.cpu.gateway / ok(b)) * 1000), 2)}x` : '—', plain ? `≤${fmt(GOALS.cpuPerStreamMs, 1)} ms ${mark(perStream <= GOALS.cpuPerStreamMs)}` : '—']);
    rows.push(...extraRows('streams/s', r.streams, 1));
    details.push(...throughputDetails('streams', 'stream', r.streams));
  }
  if (r.ttft) {
    const t = r.ttft;
    const m = [median(t.direct), median(t.gateway)] as const;
    const p = [percentile(t.direct, 95), percentile(t.gateway, 95)] as const;
    rows.push([`TTFT median (paced stream, n=${t.direct.length})`, `${fmt(m[0], 2)} ms`, '—', `${fmt(m[1], 2)} ms`, signed(m[1] - m[0], 2, ' ms'), '—', `≤+${GOALS.ttftAddedMs} ms ${mark(m[1] - m[0] <= GOALS.ttftAddedMs)}`]);
    rows.push(['TTFT p95', `${fmt(p[0], 2)} ms`, '—', `${fmt(p[1], 2)} ms`, signed(p[1] - p[0], 2, ' ms'), '—', `≤+${GOALS.ttftAddedMs} ms ${mark(p[1] - p[0] <= GOALS.ttftAddedMs)}`]);
    if (t.failed.direct + t.failed.gateway > 0) details.push(`**ttft: ${t.failed.direct} direct and ${t.failed.gateway} gateway requests failed** (first: ${t.firstError})`);
    details.push(
      `ttft: p99 direct ${fmt(percentile(t.direct, 99), 2)} ms, gateway ${fmt(percentile(t.gateway, 99), 2)} ms`,
      `ttft: other processes used ${pct(t.foreign, t.wallS)} of a CPU during the series; gateway event loop runnable but not running ${fmt(t.gatewayWait * 1000, 0)} ms in total` +
        (t.foreign / t.wallS > 0.1 ? ' — ⚠ other processes competed for the CPUs: tails (p95) are skewed' : ''),
    );
  }
  if (r.rps) {
    const { direct: d, gateway: g, bare: b } = r.rps;
    const good = b !== undefined && g.perSecond >= GOALS.rpsVsBare * b.perSecond;
    rows.push([`non-streaming req/s (${a.connections} keep-alive conns${r.rpsByWrk ? ', wrk' : ''})${excluded(r.rps)}`, fmt(d.perSecond), b ? fmt(b.perSecond) : '—', fmt(g.perSecond), `${fmt(g.perSecond / d.perSecond, 2)}x`, vsBare(g, b), `≥${fmt(GOALS.rpsVsBare, 1)}x bare ${mark(good)}`]);
    rows.push(['proxy CPU per 1k non-streaming requests', '—', cpuMs(b, 1000), cpuMs(g, 1000), '—', '—', '—']);
    rows.push(...extraRows('non-streaming req/s', r.rps, 1000));
    details.push(...throughputDetails('rps', 'request', r.rps));
  }
  if (r.burst) {
    const served = r.burst.outcomes.filter((o) => o.ok).length;
    rows.push([`${r.burst.n}-stream burst, one node, default maxConcurrent`, '—', '—', `${served}/${r.burst.n} served`, '—', '—', `all served ${mark(served === r.burst.n)}`]);
    details.push(`burst: ${burstSummary(r.burst)}; the last ended after ${fmt(r.burst.wallMs, 0)} ms`);
  }
  if (r.queueBurst) {
    const q = r.queueBurst;
    const served = q.outcomes.filter((o) => o.ok).length;
    rows.push([`queue wait p50 / p95 / p99: ${q.n} streams at once, maxConcurrent ${r.queueCap}`, '—', '—', queueWaits(q), '—', '—', `all served ${mark(served === q.n)}`]);
    details.push(`queue burst: ${burstSummary(q)}; the last ended after ${fmt(q.wallMs, 0)} ms`);
  }
  const peak = mb(r.gatewayEnd.maxRssBytes);
  rows.push(['proxy peak RSS', '—', r.bareEnd ? `${fmt(mb(r.bareEnd.maxRssBytes))} MB` : '—', `${fmt(peak)} MB`, '—', '—', `≤${GOALS.peakRssMb} MB ${mark(peak <= GOALS.peakRssMb)}`]);
  details.push(
    `memory: gateway RSS idle after start ${fmt(mb(r.gatewayStart.rssBytes))} MB (start-up peak ${fmt(mb(r.gatewayStart.maxRssBytes))} MB), at the end ${fmt(mb(r.gatewayEnd.rssBytes))} MB (heap used ${fmt(mb(r.gatewayEnd.heapUsedBytes))} MB); ` +
      `sampled peaks: V8 heap total ${fmt(mb(r.gatewayEnd.peak.heapTotalBytes))} MB, external ${fmt(mb(r.gatewayEnd.peak.externalBytes))} MB (ArrayBuffers ${fmt(mb(r.gatewayEnd.peak.arrayBuffersBytes))} MB); ` +
      `simulator peak RSS ${fmt(mb(r.simEnd.maxRssBytes))} MB`,
    `GC: gateway ${gcSummary(r.gatewayEnd)}${r.bareEnd ? `; bare http-proxy ${gcSummary(r.bareEnd)}` : ''}`,
  );
  for (const [side, x] of Object.entries(r.extraEnd ?? {}) as [ExtraSide, ProcStats][]) {
    details.push(`memory: ${EXTRA_LABELS[side]} peak RSS ${fmt(mb(x.maxRssBytes))} MB (this gateway ${fmt(peak)} MB), at the end ${fmt(mb(x.rssBytes))} MB (heap used ${fmt(mb(x.heapUsedBytes))} MB); sampled peak V8 heap total ${fmt(mb(x.peak.heapTotalBytes))} MB; ${gcSummary(x)}`);
  }
  const table = markdownTable(['metric', 'direct', 'bare http-proxy', 'gateway', 'gateway/direct', 'gateway/bare', 'goal'], rows);
  return `${table}\n\n${details.map((d) => `- ${d}`).join('\n')}\n`;
}
