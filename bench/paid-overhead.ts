// Paid mode of the proxy-overhead benchmark: paid streams vs free streams side by side in one run,
// what a paid job adds to the time to first token beyond its one mint swap, and how many mint
// calls a paid job makes. A script, not a test: it prints a markdown table and asserts nothing.
//
//   npm run bench -- --paid                      # ~2 min on 2 CPUs
//   node --import tsx bench/paid-overhead.ts     # the same
//   npm run bench -- --paid --gw-cpu-prof /tmp/p # CPU profiles of the paid and the metered gateway
//   npm run bench -- --paid --help
//
// Processes (each its own event loop; lib/env.ts pins them like the proxy-overhead bench):
//   - this client;
//   - the development mint (bench/mint-process.ts: src/devmint on its own in-memory SQLite). Its
//     signing is pure JS (~15 ms per output), so it runs beside the client and the simulator,
//     never on the gateways' CPU; it times every POST /v1/swap from the inside;
//   - the backend simulator;
//   - three gateways on the gateway CPU, each in front of the same simulator:
//       plain  plugins []                                  the free baseline (a plain proxy)
//       free   plugins --plugins (default metering,change) free streams with metering and change on
//       paid   plugins [auth, payment, metering, change]   payment.mints = [the dev mint]
//     Prices: 10 USD per 1M prompt tokens, 100 per 1M completion tokens at the default fixed rate
//     of 100,000 USD/BTC: 0.1 sat per completion token, a 200-token answer costs 20 sats; at least
//     2 sats a job (minSatsPerJob). Only one gateway works at a time in the TTFT series.
//
// Before anything is timed, one token of --token-sats (64) per paid request is minted at the dev
// mint (mintToken from src/devmint, --mint-parallel at a time) and the time that took is reported.
//
// Measurements
//   1. TTFT on paced streams (3 tokens, 20 ms apart, no first-token delay): sequential requests,
//      one keep-alive connection per target, direct / plain / free / paid interleaved (order
//      reversed every other round), --gap-ms idle after each request, --ttft-warmup rounds first
//      (not counted). Each paid request carries a fresh token in X-Cashu; it must end with the
//      change event (its cost and change are read from it).
//   2. The mint's swap time, from the inside, for the same paid jobs: the n-th swap belongs to the
//      n-th paid request (requests are sequential; checked: swaps = paid jobs). "Paid TTFT − its
//      own swap" per job, against the free TTFTs, is what the gateway adds beyond the claim's mint
//      round trip: the goal is ≤ 3 ms over the plain gateway, ≤ 2 ms over direct.
//   3. Mint calls per paid job: POST /v1/swap (and every other mint request) counted by the mint
//      during the series ÷ paid jobs. The goal is exactly 1.00 (the change is paid from what the
//      claim produced: no second mint call).
//   4. streams/s with metering and change on: the free gateway (--plugins) vs direct, 32 clients,
//      200-chunk streams, as in the proxy-overhead bench (paid streams at that rate would need
//      thousands of tokens). The goal stands: ≥ 0.80x direct.
//   5. Gateway CPU per job (the paid one includes the claim, the background unblinding and
//      blinding-pool refill of its outputs, and the settlement), peak RSS of the paid gateway.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Wallet } from '@cashu/cashu-ts';
import { mintToken } from '../src/devmint/index.js';
import type { MintSwaps } from './mint-process.js';
import { parseBenchArgs, USAGE, type BenchArgs } from './lib/args.js';
import { ChildProc } from './lib/child.js';
import { childrenRuntime } from './lib/compile.js';
import { chatTargetAt, pinPlan, pinSelf, renice, startGateway, startSim, type BenchEnv } from './lib/env.js';
import { burst } from './lib/burst.js';
import { keepAliveAgent, send, ttftSeries, type Outcome, type Target } from './lib/load.js';
import { machineBusySeconds } from './lib/machine.js';
import { renderPaidReport, type PaidJob, type PaidReport, type Spent } from './lib/paid-report.js';
import { procStats, type ProcStats } from './lib/protocol.js';
import { throughputPair } from './lib/scenarios.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** The paid gateway's plugins (the production set without the oracle: the rate is the fixed one). */
export const PAID_PLUGINS = ['auth', 'payment', 'metering', 'change'];

/** 0.1 sat per completion token at 100,000 USD/BTC (1 sat = 0.001 USD). */
export const BENCH_PRICING = { default: { per_m_input_usd: 10, per_m_output_usd: 100 } };

/** The change event ends a paid stream: `…,"change_sats":62,"cost_sats":2}`. */
const CHANGE = /"change_sats":(\d+),"cost_sats":(\d+)\}/;

interface Snap {
  client: ProcStats;
  procs: Map<string, ProcStats>;
  busyS: number;
  atMs: number;
}

async function snap(procs: readonly ChildProc[]): Promise<Snap> {
  const stats = await Promise.all(procs.map((p) => p.stats()));
  return { client: procStats(), procs: new Map(procs.map((p, i) => [p.name, stats[i]!])), busyS: machineBusySeconds(), atMs: performance.now() };
}

function spent(a: Snap, b: Snap): Spent {
  const cpuOf = (x: ProcStats, y: ProcStats): number => (y.cpuUserUs + y.cpuSystemUs - x.cpuUserUs - x.cpuSystemUs) / 1e6;
  const cpu: Record<string, number> = { client: cpuOf(a.client, b.client) };
  const wait: Record<string, number> = { client: (b.client.loopWaitNs - a.client.loopWaitNs) / 1e9 };
  for (const [name, s] of b.procs) {
    cpu[name] = cpuOf(a.procs.get(name)!, s);
    wait[name] = (s.loopWaitNs - a.procs.get(name)!.loopWaitNs) / 1e9;
  }
  const ours = Object.values(cpu).reduce((x, y) => x + y, 0);
  return { cpu, wait, foreign: Math.max(0, b.busyS - a.busyS - ours), wallS: (b.atMs - a.atMs) / 1000 };
}

/** Mints `count` tokens of `sats`, `parallel` at a time, with one wallet. */
async function premint(mintUrl: string, count: number, sats: number, parallel: number): Promise<string[]> {
  const wallet = new Wallet(mintUrl);
  await wallet.loadMint();
  const out: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      out.push((await mintToken(mintUrl, sats, { wallet })).token);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return out;
}

function paidJob(o: Outcome): PaidJob {
  const m = o.ok ? CHANGE.exec(o.tail ?? '') : null;
  return { ok: o.ok && m !== null, ttftMs: o.ttftMs, change: m ? Number(m[1]) : undefined, cost: m ? Number(m[2]) : undefined, error: o.error ?? (m ? undefined : 'no change event') };
}

export async function runPaid(args: BenchArgs): Promise<void> {
  const cpus = os.availableParallelism(); // before pinning narrows it
  const pins = pinPlan(args.pin);
  // The mint signs on the client/simulator CPU, never on the gateways'; with ≥ 4 CPUs, its own.
  const mintCpu = pins.gateway === undefined ? undefined : cpus >= 4 ? '3' : pins.sim;
  const started = Date.now();
  log(`paid-overhead: kind ${args.kind}, free gateway plugins [${args.plugins.join(', ')}], paid [${PAID_PLUGINS.join(', ')}], ${pins.description}${mintCpu !== undefined ? `, mint CPU ${mintCpu}` : ''}`);
  const loadStart = os.loadavg();
  log(`load average ${loadStart.map((l) => l.toFixed(2)).join(' ')} (other work on this machine skews the numbers)`);

  const children = await childrenRuntime(args, log);
  const { jsRoot } = children;
  const owned: ChildProc[] = [];
  const report: Partial<PaidReport> = { loadStart: loadStart[0]! };
  try {
    const mint = await ChildProc.start('mint', 'mint-process.ts', {}, { cpus: mintCpu, jsRoot });
    owned.push(mint);

    // Tokens first, before this process is pinned: the client side of minting (blinding,
    // unblinding, DLEQ checks) runs on the CPU the mint does not use.
    const perTarget = args.ttftWarmup + args.ttftRequests;
    const wanted = (args.only.has('ttft') ? perTarget + 2 : 1) + (args.only.has('burst') ? args.burst : 0);
    const mintBefore = await mint.stats();
    const t0 = performance.now();
    const tokens = await premint(mint.url, wanted, args.tokenSats, args.mintParallel);
    const premintS = (performance.now() - t0) / 1000;
    const mintAfter = await mint.stats();
    const mintCpuS = (mintAfter.cpuUserUs + mintAfter.cpuSystemUs - mintBefore.cpuUserUs - mintBefore.cpuSystemUs) / 1e6;
    report.premint = { count: tokens.length, sats: args.tokenSats, parallel: args.mintParallel, seconds: premintS, mintCpuS };
    log(`pre-minted ${tokens.length} tokens of ${args.tokenSats} sats in ${premintS.toFixed(1)} s (${args.mintParallel} at a time; mint CPU ${mintCpuS.toFixed(1)} s)`);

    pinSelf(pins.client);
    const { sim, model } = await startSim({ kind: args.kind, simOptions: { tokens: 3, tokenDelayMs: args.ttftTokenDelayMs, firstTokenDelayMs: 0 }, pins, jsRoot });
    owned.push(sim);
    const backend = { kind: args.kind, url: sim.url, model };
    const common = {
      log: { level: args.logLevel },
      health: { intervalSeconds: 10 },
      payment: { mints: [mint.url], minSatsPerJob: 2 },
      pricing: BENCH_PRICING,
    };
    const prof = args.gwCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${args.gwCpuProf}`] : [];
    const gwOpts = { cpus: pins.gateway, jsRoot };
    const plain = await startGateway('plain', backend, { ...common, plugins: [] }, gwOpts);
    owned.push(plain);
    const free = await startGateway('free', backend, { ...common, plugins: args.plugins }, { ...gwOpts, nodeArgs: prof });
    owned.push(free);
    const paid = await startGateway('paid', backend, { ...common, plugins: PAID_PLUGINS }, { ...gwOpts, nodeArgs: prof });
    owned.push(paid);
    if (args.gwCpuProf) log(`CPU profiles in ${args.gwCpuProf}: free gateway pid ${free.pid}, paid gateway pid ${paid.pid}`);
    let priority = '';
    if (args.nice !== undefined) {
      const ok = [0, ...owned.map((p) => p.pid)].map((pid) => renice(pid, args.nice)).every(Boolean);
      priority = `, nice ${args.nice}${ok ? '' : ' NOT applied (not permitted)'}`;
    }
    report.paidStart = await paid.stats();

    let exhausted = 0;
    const stream = (label: string, gw: { url: string }, extra: Pick<Target, 'headers' | 'terminal'> = {}): Target => chatTargetAt(label, gw.url, args.kind, model, true, extra);
    const targets = {
      direct: stream('direct', sim),
      plain: stream('plain', plain),
      free: stream('free', free),
      paid: stream('paid', paid, {
        terminal: '"cost_sats":',
        headers: (): Record<string, string> => {
          const t = tokens.pop();
          if (t === undefined) exhausted++;
          return t === undefined ? {} : { 'x-cashu': t };
        },
      }),
    };
    const swaps = (): Promise<MintSwaps> => mint.query<MintSwaps>('swaps');

    // Sanity: every path answers; the paid one refuses a request without a token, and a paid
    // request ends with its change after exactly one swap.
    const agent = keepAliveAgent(1);
    for (const t of [targets.direct, targets.plain, targets.free]) {
      const o = await send(agent, t);
      if (!o.ok) throw new Error(`sanity check failed: ${t.label}: ${o.error}`);
    }
    const unpaid = await send(agent, stream('paid without token', paid));
    if (unpaid.status !== 402) throw new Error(`sanity check failed: the paid gateway answered ${unpaid.status} without a token, not 402`);
    const s0 = (await swaps()).swapMs.length;
    const first = paidJob(await send(agent, targets.paid, { ttft: true }));
    const s1 = (await swaps()).swapMs.length;
    if (!first.ok) throw new Error(`sanity check failed: paid stream: ${first.error}`);
    log(`sanity: 402 without a token; a paid stream cost ${first.cost} sats, change ${first.change} sats, ${s1 - s0} swap(s)`);
    agent.destroy();

    if (args.only.has('ttft')) {
      const order = [targets.direct, targets.plain, targets.free, targets.paid];
      log(`TTFT: ${args.ttftWarmup} warm-up + ${args.ttftRequests} paced streams per target (${args.ttftTokenDelayMs} ms between tokens, ${args.gapMs} ms gap), order ${order.map((t) => t.label).join('/')}`);
      if (args.ttftWarmup > 0) await ttftSeries(order, args.ttftWarmup, 0, { gapMs: args.gapMs });
      const procs = [sim, mint, plain, free, paid];
      const [a, swA] = [await snap(procs), await swaps()];
      const jobs: PaidJob[] = [];
      const r = await ttftSeries(order, args.ttftRequests, 0, { gapMs: args.gapMs, onOutcome: (k, o) => void (k === 3 && jobs.push(paidJob(o))) });
      const [b, swB] = [await snap(procs), await swaps()];
      const counters: Record<string, number> = {};
      for (const [k, v] of Object.entries(swB.counters)) if (v - (swA.counters[k] ?? 0) > 0) counters[k] = v - (swA.counters[k] ?? 0);
      report.ttft = {
        direct: r.ttftMs[0]!,
        plain: r.ttftMs[1]!,
        free: r.ttftMs[2]!,
        jobs,
        swapMs: swB.swapMs.slice(swA.swapMs.length),
        swapStatus: swB.swapStatus.slice(swA.swapStatus.length),
        mintRequests: counters,
        failed: r.failed,
        firstError: r.firstError,
        spent: spent(a, b),
        tokensMissing: exhausted,
      };
    }

    if (args.only.has('burst')) {
      log(`paid burst: ${args.burst} paid streams at once, a fresh token each`);
      await sim.setOptions({ tokens: 20, tokenDelayMs: args.ttftTokenDelayMs, firstTokenDelayMs: 0 });
      report.burst = await burst(targets.paid, args.burst, { ttft: true });
    }

    if (args.only.has('streams')) {
      log(`streams/s: ${args.connections} clients × ${args.streamTokens}-chunk streams, direct vs free gateway [${args.plugins.join(', ')}]`);
      await sim.setOptions({ tokens: args.streamTokens, tokenDelayMs: 0, firstTokenDelayMs: 0 });
      const env: BenchEnv = { sim, gw: free, extra: {}, model, kind: args.kind, close: async () => undefined };
      const loop = { connections: args.connections, warmupMs: args.warmupS * 1000, rewarmMs: args.rewarmS * 1000, durationMs: args.durationS * 1000, rounds: args.rounds, log };
      report.streams = await throughputPair(env, (side) => chatTargetAt(side, side === 'direct' ? sim.url : free.url, args.kind, model, true), loop);
    }
    report.paidEnd = await paid.stats();
    report.freeEnd = await free.stats();
    report.setup =
      `node ${process.version}, ${cpus} CPUs (${os.cpus()[0]?.model ?? '?'}), children on ${children.description}, ${pins.description}` +
      `${mintCpu !== undefined ? `, mint CPU ${mintCpu}` : ''}${priority}, ran ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
      `load average at the start ${loadStart[0]!.toFixed(2)}, at the end ${os.loadavg()[0]!.toFixed(2)}`;
  } finally {
    for (const p of owned.reverse()) await p.stop();
    children.remove();
  }

  const title = `## Owlrun gateway paid mode — ${args.kind}, paid [${PAID_PLUGINS.join(', ')}] vs free [] / [${args.plugins.join(', ')}], dev mint, store sqlite::memory:`;
  process.stdout.write(`\n${title}\n\n${report.setup}\n\n${renderPaidReport(report as PaidReport, args)}`);
  if (args.gwCpuProf) process.stdout.write(`\ngateway CPU profiles written to ${args.gwCpuProf}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(['--paid', ...process.argv.slice(2).filter((a) => a !== '--paid')]);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  runPaid(args).catch((err: Error) => {
    process.stderr.write(`paid-overhead failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
