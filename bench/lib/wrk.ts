// wrk (a C load generator, its own process) as the load of a throughput run, so the client is
// not the bottleneck of a non-streaming req/s comparison. Debian: `apt-get install wrk`. Not
// needed by `npm test`; without it the bench falls back to its in-process client.
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoopHooks, LoopResult, Target } from './load.js';

const SCRIPT = fileURLToPath(new URL('../wrk/post.lua', import.meta.url));

export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version
    return (err as { status?: number }).status === 1;
  }
}

function runWrk(target: Target, connections: number, seconds: number, cpus: string | undefined): Promise<string> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', SCRIPT, new URL(target.path, target.base).href];
  const [cmd, argv] = cpus === undefined ? ['wrk', args] : ['taskset', ['-c', cpus, 'wrk', ...args]];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { env: { ...process.env, WRK_BODY: target.body }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out.slice(-300)}`))));
  });
}

const ms = (v: string, unit: string): number => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);

/** A warm-up run, then the measured run (hooks around it); wrk's own counts and p50. */
export function wrkLoop(cpus: string | undefined) {
  return async (target: Target, connections: number, warmupMs: number, durationMs: number, hooks: LoopHooks = {}): Promise<LoopResult> => {
    if (warmupMs > 0) await runWrk(target, connections, Math.max(1, Math.round(warmupMs / 1000)), cpus);
    await hooks.beforeWindow?.();
    const out = await runWrk(target, connections, Math.max(1, Math.round(durationMs / 1000)), cpus);
    await hooks.afterWindow?.();
    const summary = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(out);
    const completed = Number(summary?.[1] ?? 0);
    const windowS = summary ? Number(summary[2]) * (summary[3] === 'ms' ? 0.001 : summary[3] === 'm' ? 60 : 1) : durationMs / 1000;
    const non200 = Number(/non200 (\d+)/.exec(out)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
    const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)/m.exec(out);
    const bytesRead = /requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read/.exec(out);
    const scale: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
    const failed = non200 + socketErrors;
    return {
      label: target.label,
      completed,
      failed,
      firstError: failed > 0 ? `wrk: ${non200} non-200, ${socketErrors} socket errors` : undefined,
      windowS,
      perSecond: (completed - failed) / windowS,
      latenciesMs: p50 ? [ms(p50[1]!, p50[2]!)] : [],
      bytes: bytesRead ? Number(bytesRead[1]) * scale[bytesRead[2]!]! : 0,
    };
  };
}
