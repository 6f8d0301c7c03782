// The processes of a benchmark run and where they run.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { SimKind } from '../../src/simulator/index.js';
import { ChildProc } from './child.js';
import type { Framing, Target } from './load.js';

/** taskset CPU lists per process; undefined = not pinned. */
export interface PinPlan {
  client?: string;
  sim?: string;
  gateway?: string;
  description: string;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * ≥3 CPUs: one each. 2 CPUs: client and simulator share CPU 0 (identical in direct and gateway
 * runs), the gateway has CPU 1 to itself, as in production where it runs alone.
 */
export function pinPlan(enabled: boolean): PinPlan {
  const cpus = os.availableParallelism();
  if (!enabled) return { description: `not pinned (${cpus} CPUs shared by client, simulator, gateway)` };
  if (cpus < 2 || !hasTaskset()) return { description: `not pinned (${cpus} CPU${cpus === 1 ? '' : 's'}${cpus >= 2 ? ', no taskset' : ''})` };
  if (cpus >= 3) return { client: '0', sim: '1', gateway: '2', description: 'client CPU 0, simulator CPU 1, gateway CPU 2' };
  return { client: '0', sim: '0', gateway: '1', description: 'client + simulator share CPU 0, gateway alone on CPU 1' };
}

/** Pins this process (every thread) to `cpus`. */
export function pinSelf(cpus: string | undefined): void {
  if (cpus !== undefined) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

export interface EnvOptions {
  kind: SimKind;
  simOptions: Record<string, unknown>;
  /** Partial gateway config merged over the test defaults (backends are added). */
  gatewayConfig: Record<string, unknown>;
  pins: PinPlan;
  /** Extra node arguments of the gateway and the bare proxy (e.g. --cpu-prof: profiles of both). */
  gatewayNodeArgs?: string[];
  /** Compiled project root for the children (lib/compile.ts); undefined = run them under tsx. */
  jsRoot?: string;
  /** More gateways in front of the same simulator, pinned with the gateway (see ExtraSide). */
  extras?: ExtraGateway[];
}

/**
 * Optional gateways measured in the same run as the others: `before`, the gateway of another
 * compiled tree (e.g. the commit before a change: `--before DIR`); `nolog`, this gateway with
 * `log.access: false` (`--access-log-off`).
 */
export type ExtraSide = 'before' | 'nolog';

export interface ExtraGateway {
  side: ExtraSide;
  /** Partial gateway config, as EnvOptions.gatewayConfig. */
  gatewayConfig: Record<string, unknown>;
  /** Compiled tree it runs from (default: EnvOptions.jsRoot). */
  jsRoot?: string;
}

/** Sets the nice value of a process (this one when pid is 0); false when not permitted. */
export function renice(pid: number, nice: number | undefined): boolean {
  if (nice === undefined) return true;
  try {
    os.setPriority(pid, nice);
    return true;
  } catch {
    return false;
  }
}

/** The servers a client can be pointed at: the backend itself, a bare http-proxy, the gateway. */
export type Side = 'direct' | 'bare' | 'gateway' | ExtraSide;

export interface BenchEnv {
  sim: ChildProc;
  gw: ChildProc;
  /** A bare http-proxy passthrough in front of the simulator (bench/bare-proxy-process.ts). */
  bare?: ChildProc;
  /** The extra gateways that run (EnvOptions.extras). */
  extra: Partial<Record<ExtraSide, ChildProc>>;
  model: string;
  kind: SimKind;
  close(): Promise<void>;
}

export async function startSim(o: Pick<EnvOptions, 'kind' | 'simOptions' | 'pins' | 'jsRoot'>): Promise<{ sim: ChildProc; model: string }> {
  const sim = await ChildProc.start('simulator', 'sim-process.ts', { kind: o.kind, ...o.simOptions }, { cpus: o.pins.sim, jsRoot: o.jsRoot });
  return { sim, model: String(sim.info.model) };
}

/** A gateway child in front of the simulator; `partial` is merged over the test defaults. */
export function startGateway(
  name: string,
  backend: { kind: SimKind; url: string; model: string },
  partial: Record<string, unknown>,
  o: { cpus?: string; nodeArgs?: string[]; jsRoot?: string; maxConcurrent?: number | 'default'; wrapper?: string[]; startTimeoutS?: number },
): Promise<ChildProc> {
  // By default maxConcurrent far above the client's concurrency: overhead, not queueing.
  const cap = o.maxConcurrent ?? 4096;
  const config = {
    ...partial,
    backends: [{ id: 'sim', kind: backend.kind, url: backend.url, models: [backend.model], ...(cap === 'default' ? {} : { maxConcurrent: cap }) }],
  };
  return ChildProc.start(name, 'gateway-process.ts', config, { cpus: o.cpus, nodeArgs: o.nodeArgs, jsRoot: o.jsRoot, wrapper: o.wrapper, startTimeoutS: o.startTimeoutS });
}

/** The simulator, the gateway and a bare http-proxy, both proxies pinned to the gateway's CPU. */
export async function startEnv(o: EnvOptions): Promise<BenchEnv> {
  const { sim, model } = await startSim(o);
  let gw: ChildProc | undefined;
  let bare: ChildProc | undefined;
  const extra: Partial<Record<ExtraSide, ChildProc>> = {};
  try {
    gw = await startGateway('gateway', { kind: o.kind, url: sim.url, model }, o.gatewayConfig, { cpus: o.pins.gateway, nodeArgs: o.gatewayNodeArgs, jsRoot: o.jsRoot });
    bare = await ChildProc.start('bare-proxy', 'bare-proxy-process.ts', { target: sim.url }, { cpus: o.pins.gateway, nodeArgs: o.gatewayNodeArgs, jsRoot: o.jsRoot });
    for (const x of o.extras ?? []) {
      extra[x.side] = await startGateway(`gateway-${x.side}`, { kind: o.kind, url: sim.url, model }, x.gatewayConfig, { cpus: o.pins.gateway, jsRoot: x.jsRoot ?? o.jsRoot });
    }
  } catch (err) {
    for (const p of Object.values(extra)) await p.stop();
    await bare?.stop();
    await gw?.stop();
    await sim.stop();
    throw err;
  }
  const g = gw;
  return {
    sim,
    gw: g,
    bare,
    extra,
    model,
    kind: o.kind,
    close: async () => {
      for (const p of Object.values(extra)) await p.stop();
      await bare?.stop();
      await g.stop();
      await sim.stop();
    },
  };
}

/** The process serving a side (the one whose CPU a run measures as the proxy's). */
export function serverOf(env: BenchEnv, side: Side): ChildProc {
  if (side === 'direct') return env.sim;
  if (side === 'bare') return env.bare ?? env.gw;
  if (side === 'before' || side === 'nolog') return env.extra[side] ?? env.gw;
  return env.gw;
}

/** A chat request in the kind's streaming dialect: Ollama native NDJSON, or OpenAI SSE. */
export function chatTarget(env: BenchEnv, side: Side, stream: boolean): Target {
  return chatTargetAt(side, serverOf(env, side).url, env.kind, env.model, stream);
}

/** The same chat request against any server (`extra`: per-request headers, terminal marker…). */
export function chatTargetAt(label: string, base: string, kind: SimKind, model: string, stream: boolean, extra: Pick<Target, 'headers' | 'terminal'> = {}): Target {
  const ollama = kind === 'ollama';
  const framing: Framing = !stream ? 'json' : ollama ? 'ndjson' : 'sse';
  return {
    label,
    base,
    path: ollama ? '/api/chat' : '/v1/chat/completions',
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Write a short poem about owls.' }], stream }),
    framing,
    ...extra,
  };
}
