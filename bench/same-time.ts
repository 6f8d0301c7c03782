// CPU per request of proxies loaded AT THE SAME TIME on the same core: a bare http-proxy
// passthrough, this tree's gateway and, with --before DIR, the gateway of another compiled tree.
// On a host whose speed swings from one second to the next, runs taken one after the other
// compare the host's moments more than the proxies; loaded together, every swing hits all of
// them alike, and each one's CPU per request is its own. A script, not a test: prints a markdown
// table and asserts nothing. Needs wrk (one per proxy, each its own process).
//
//   node --import tsx bench/same-time.ts [--before DIR] [--rounds 6] [--seconds 5]
//                                        [--connections 16] [--non-streaming] [--plugins a,b]
//
// The proxies share one core (the gateway's, lib/env.ts), so each gets about a third of it: the
// numbers are higher than a proxy alone would spend (caches shared three ways); the ratios are
// what this measures. Round 0 warms up and is not counted.
import { parseArgs } from 'node:util';
import { childrenRuntime } from './lib/compile.js';
import { ChildProc } from './lib/child.js';
import { chatTargetAt, pinPlan, startGateway, startSim } from './lib/env.js';
import { cpuSecondsBetween } from './lib/protocol.js';
import { fmt, median } from './lib/stats.js';
import { markdownTable } from './lib/table.js';
import { hasWrk, wrkLoop } from './lib/wrk.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

const { values: opts } = parseArgs({
  options: {
    before: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    'non-streaming': { type: 'boolean', default: false },
    plugins: { type: 'string', default: '' },
  },
});
const rounds = Number(opts.rounds);
const seconds = Number(opts.seconds);
const connections = Number(opts.connections);
const stream = !opts['non-streaming'];
const plugins = opts.plugins === '' ? [] : opts.plugins!.split(',');
if (![rounds, seconds, connections].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--rounds, --seconds and --connections take positive integers');
if (!hasWrk()) {
  log('bench/same-time.ts needs wrk (Debian: apt-get install wrk)');
  process.exit(2);
}

const runtime = await childrenRuntime({ runtime: 'js' }, log);
const pins = pinPlan(true);
const kind = 'vllm';
const { sim, model } = await startSim({ kind, simOptions: { tokens: 200 }, pins, jsRoot: runtime.jsRoot });
const config = { plugins, log: { level: 'warn', access: true }, health: { intervalSeconds: 10 } };
const backend = { kind, url: sim.url, model } as const;
const proxies: Array<{ label: string; proc: ChildProc }> = [];
try {
  proxies.push({ label: 'bare http-proxy', proc: await ChildProc.start('bare-proxy', 'bare-proxy-process.ts', { target: sim.url }, { cpus: pins.gateway, jsRoot: runtime.jsRoot }) });
  proxies.push({ label: 'gateway', proc: await startGateway('gateway', backend, config, { cpus: pins.gateway, jsRoot: runtime.jsRoot }) });
  if (opts.before) proxies.push({ label: 'gateway before', proc: await startGateway('gateway-before', backend, config, { cpus: pins.gateway, jsRoot: opts.before }) });

  const load = wrkLoop(pins.client);
  const targets = proxies.map((p) => chatTargetAt(p.label, p.proc.url, kind, model, stream));
  /** Per round: microseconds of CPU per request of each proxy (same order as `proxies`). */
  const perRequestUs: number[][] = [];
  for (let round = 0; round <= rounds; round++) {
    const before = await Promise.all(proxies.map((p) => p.proc.stats()));
    const results = await Promise.all(targets.map((t) => load(t, connections, 0, seconds * 1000)));
    const after = await Promise.all(proxies.map((p) => p.proc.stats()));
    const failed = results.reduce((n, r) => n + r.failed, 0);
    const us = proxies.map((_, i) => (cpuSecondsBetween(before[i]!, after[i]!) * 1e6) / Math.max(1, results[i]!.completed));
    log(`round ${round}${round === 0 ? ' (warm-up)' : ''}: ${proxies.map((p, i) => `${p.label} ${results[i]!.completed} requests, ${fmt(us[i]!)} µs each`).join('; ')}${failed ? `; ${failed} FAILED` : ''}`);
    if (round > 0 && failed === 0) perRequestUs.push(us);
  }

  const ratios = (i: number, j: number) => perRequestUs.map((r) => r[i]! / r[j]!);
  const range = (xs: number[]) => (xs.length ? `${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)}x` : 'n/a');
  const rows = proxies.map((p, i) => {
    const col = perRequestUs.map((r) => r[i]!);
    const vsBare = ratios(i, 0);
    const vsBefore = opts.before && i === 1 ? ratios(1, 2) : [];
    return [p.label, `${fmt(median(col))} µs`, i === 0 ? '—' : `${fmt(median(vsBare), 2)}x (${range(vsBare)})`, vsBefore.length ? `${fmt(median(vsBefore), 2)}x (${range(vsBefore)})` : '—'];
  });
  process.stdout.write(`\n## Proxies loaded at the same time — ${stream ? '200-chunk SSE streams' : 'non-streaming requests'}, plugins [${plugins.join(', ') || 'none'}]\n\n`);
  process.stdout.write(`${pins.description}; the proxies share the gateway's CPU; ${connections} connections each (wrk), ${seconds} s × ${perRequestUs.length} counted rounds; ${runtime.description}\n\n`);
  process.stdout.write(markdownTable(['proxy', 'CPU per request, median', 'vs bare, median (rounds)', 'vs gateway before, median (rounds)'], rows) + '\n');
} finally {
  for (const p of proxies) await p.proc.stop();
  await sim.stop();
  runtime.remove();
}
