// Instructions per request of the bare http-proxy passthrough, this tree's gateway and, with
// --before DIR, the gateway of another compiled tree, each counted by valgrind's callgrind over
// the same requests. An instruction count does not follow the host's speed: where the CPU time of
// the same process swings 2x between seconds (a VM with busy neighbours), the count of the same
// run moves by a few percent, so it tells whether a change made the gateway's own work smaller.
// It is not time: cache misses, branch mispredictions and the kernel (system calls, waking the
// peers of a loopback connection) are not in it — `npm run bench` measures those, as rates.
// A script, not a test: prints a markdown table and asserts nothing. Needs valgrind
// (Debian: apt-get install valgrind).
//
//   node --import tsx bench/instructions.ts [--before DIR] [--runs 3] [--streaming]
//                                           [--warmup N] [--requests N] [--connections 32]
//                                           [--plugins a,b]
//
// Each run starts every proxy afresh under callgrind (all at once, one client loop each, the
// simulator and the client natively), sends --warmup requests (JIT tiers, pools, caches warm),
// zeroes the proxy's counters, sends --requests requests and reads the count. Everything the
// process ran in between is in it: its threads (GC helpers, the optimizing compiler) and its
// timers. Under valgrind a process runs ~50x slower, so timer-driven work (the access log's
// flush every 50 ms) weighs more per request than at full speed; health checks are set to once
// an hour so that none falls inside a run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ChildProc } from './lib/child.js';
import { childrenRuntime } from './lib/compile.js';
import { chatTargetAt, startGateway } from './lib/env.js';
import { keepAliveAgent, send, type Target } from './lib/load.js';
import { fmt, median } from './lib/stats.js';
import { markdownTable } from './lib/table.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

const { values: opts } = parseArgs({
  options: {
    before: { type: 'string' },
    runs: { type: 'string', default: '3' },
    streaming: { type: 'boolean', default: false },
    warmup: { type: 'string' },
    requests: { type: 'string' },
    connections: { type: 'string', default: '32' },
    plugins: { type: 'string', default: '' },
  },
});
const stream = opts.streaming!;
const runs = Number(opts.runs);
// A 200-chunk stream costs ~10x a non-streaming request: fewer of them give as steady a count.
const warmup = Number(opts.warmup ?? (stream ? 300 : 3000));
const requests = Number(opts.requests ?? (stream ? 400 : 4000));
const connections = Number(opts.connections);
const plugins = opts.plugins === '' ? [] : opts.plugins!.split(',');
if (![runs, warmup, requests, connections].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--runs, --warmup, --requests and --connections take positive integers');

function has(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
if (!has('valgrind') || !has('callgrind_control')) {
  log('bench/instructions.ts needs valgrind (Debian: apt-get install valgrind)');
  process.exit(2);
}

/** `n` requests over `connections` keep-alive connections; resolves with how many failed. */
async function sendMany(target: Target, n: number): Promise<number> {
  const agent = keepAliveAgent(connections);
  let left = n;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (left-- > 0) if (!(await send(agent, target)).ok) failed++;
  };
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
  return failed;
}

/** The instructions counted since the last zeroing: callgrind's dump number 1 of `pid` under `dir`. */
async function dumpedInstructions(dir: string, pid: number): Promise<number> {
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const name = `callgrind.${pid}.1`;
  for (let i = 0; i < 600 && !existsSync(join(dir, name)); i++) await new Promise((r) => setTimeout(r, 100));
  // The summary line is written last: wait until the file holds it.
  for (let i = 0; i < 600; i++) {
    const m = /^summary: (\d+)/m.exec(existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no callgrind dump from ${pid} in ${dir}`);
}

const runtime = await childrenRuntime({ runtime: 'js' }, log);
const outDir = mkdtempSync(join(os.tmpdir(), 'owlrun-callgrind-'));
// --smc-check: V8 writes machine code at run time (valgrind must see it change).
const wrapper = ['valgrind', '-q', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(outDir, 'callgrind.%p')}`];
const kind = 'vllm';
const sim = await ChildProc.start('simulator', 'sim-process.ts', { kind, tokens: stream ? 200 : 16, tokenDelayMs: 0, firstTokenDelayMs: 0 }, { jsRoot: runtime.jsRoot });
const model = String(sim.info.model);
const backend = { kind, url: sim.url, model } as const;
const config = { plugins, log: { level: 'warn', access: true }, health: { intervalSeconds: 3600 } };
const sides: Array<{ label: string; start(): Promise<ChildProc> }> = [
  { label: 'bare http-proxy', start: () => ChildProc.start('bare-proxy', 'bare-proxy-process.ts', { target: sim.url }, { jsRoot: runtime.jsRoot, wrapper, startTimeoutS: 300 }) },
  { label: 'gateway', start: () => startGateway('gateway', backend, config, { jsRoot: runtime.jsRoot, wrapper, startTimeoutS: 300 }) },
];
if (opts.before) sides.push({ label: 'gateway before', start: () => startGateway('gateway-before', backend, config, { jsRoot: opts.before, wrapper, startTimeoutS: 300 }) });

/** Per run: instructions per request of each side (same order as `sides`). */
const perRequest: number[][] = [];
/** Requests that failed, per side, over all runs (the bare proxy has no retry: any connection failure fails its request). */
const failures = sides.map(() => 0);
try {
  for (let run = 1; run <= runs; run++) {
    // Every side ends its run (and its process) before a failure of another stops the simulator.
    const settled = await Promise.allSettled(
      sides.map(async (side, i) => {
        const proc = await side.start();
        try {
          const target = chatTargetAt(side.label, proc.url, kind, model, stream);
          failures[i]! += await sendMany(target, warmup);
          execFileSync('callgrind_control', ['-z', String(proc.pid)], { stdio: 'ignore' });
          const failed = await sendMany(target, requests);
          const total = await dumpedInstructions(outDir, proc.pid);
          failures[i]! += failed;
          if (failed > requests / 100) throw new Error(`${side.label}: ${failed} of ${requests} counted requests failed`);
          return total / (requests - failed);
        } finally {
          await proc.stop(60_000);
        }
      }),
    );
    const counts = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    log(`run ${run}: ${sides.map((s, i) => `${s.label} ${fmt(counts[i]! / 1000)}k instructions per request`).join('; ')}`);
    perRequest.push(counts);
  }

  const col = (i: number) => perRequest.map((r) => r[i]!);
  const range = (xs: number[], digits: number, unit: string) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}${unit}`;
  const ratio = (i: number, j: number) => perRequest.map((r) => r[i]! / r[j]!);
  const rows = sides.map((s, i) => [
    s.label,
    `${fmt(median(col(i)) / 1000)}k (${range(col(i).map((v) => v / 1000), 1, 'k')})`,
    i === 0 ? '—' : `${fmt(median(ratio(i, 0)), 2)}x (${range(ratio(i, 0), 2, 'x')})`,
    opts.before && i === 1 ? `${fmt(median(ratio(1, 2)), 2)}x (${range(ratio(1, 2), 2, 'x')})` : '—',
  ]);
  process.stdout.write(`\n## Instructions per request under callgrind — ${stream ? '200-chunk SSE streams' : 'non-streaming requests'}, plugins [${plugins.join(', ') || 'none'}]\n\n`);
  const failedNote = failures.some((n) => n > 0) ? `; failed requests (not counted): ${sides.map((s, i) => `${s.label} ${failures[i]}`).join(', ')}` : '';
  process.stdout.write(`${runs} runs, each proxy started afresh per run; ${warmup} requests to warm up, then ${requests} counted, ${connections} keep-alive connections${failedNote}; ${runtime.description}; node ${process.version}\n\n`);
  process.stdout.write(markdownTable(['proxy', 'instructions per request, median (runs)', 'vs bare, median (runs)', 'vs gateway before, median (runs)'], rows) + '\n');
} finally {
  await sim.stop();
  runtime.remove();
  rmSync(outDir, { recursive: true, force: true });
}
