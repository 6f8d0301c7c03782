// The measurements, each run against the direct backend and through the gateway.
import { cpuSecondsBetween, procStats, waitSecondsBetween, type ProcStats } from './protocol.js';
import { serverOf, type BenchEnv, type ExtraSide, type Side } from './env.js';
import { machineBusySeconds } from './machine.js';
import { closedLoop, ttftSeries, type LoopHooks, type LoopResult, type Target } from './load.js';

/** CPU seconds each process spent inside the measured windows of one side. */
export interface CpuSpent {
  client: number;
  sim: number;
  /** The proxy under test in that run: the gateway, or the bare http-proxy in the bare runs. */
  gateway: number;
}

export interface SideResult extends LoopResult {
  cpu: CpuSpent;
  /** Seconds each event loop was runnable but waited for a CPU (contention) in the windows. */
  wait: CpuSpent;
  /** CPU seconds the rest of the machine (not client, simulator, gateway) used in the windows. */
  foreign: number;
  /** Wall seconds between the resource snapshots around the windows (the CPU figures' span). */
  wallS: number;
}

export interface RoundResult extends Partial<Record<ExtraSide, SideResult>> {
  direct: SideResult;
  gateway: SideResult;
  bare?: SideResult;
}

export interface PairResult {
  /** Sums over the rounds in which no request failed on either side (all rounds if none was clean). */
  direct: SideResult;
  gateway: SideResult;
  /** The bare http-proxy passthrough, when it ran. */
  bare?: SideResult;
  /** The extra gateways that ran (lib/env.ts ExtraSide). */
  extra: Partial<Record<ExtraSide, SideResult>>;
  /** Sums over every round. */
  all: RoundResult;
  rounds: RoundResult[];
  /** How many rounds the sums above (direct, gateway) cover. */
  used: number;
}

const EXTRA_SIDES: readonly ExtraSide[] = ['before', 'nolog'];
const clean = (r: RoundResult): boolean =>
  r.direct.failed === 0 && r.gateway.failed === 0 && (r.bare?.failed ?? 0) === 0 && EXTRA_SIDES.every((x) => (r[x]?.failed ?? 0) === 0);

function sum(label: string, sides: readonly SideResult[]): SideResult {
  const out = emptySide(label);
  for (const s of sides) add(out, s, s.cpu, s.wait, s.foreign, s.wallS);
  return out;
}

function emptySide(label: string): SideResult {
  return { label, completed: 0, failed: 0, windowS: 0, perSecond: 0, latenciesMs: [], bytes: 0, cpu: { client: 0, sim: 0, gateway: 0 }, wait: { client: 0, sim: 0, gateway: 0 }, foreign: 0, wallS: 0 };
}

function add(into: SideResult, r: LoopResult, cpu: CpuSpent, wait: CpuSpent, foreign: number, wallS: number): void {
  into.foreign += foreign;
  into.wallS += wallS;
  into.completed += r.completed;
  into.failed += r.failed;
  into.firstError ??= r.firstError;
  into.windowS += r.windowS;
  into.bytes += r.bytes;
  into.latenciesMs.push(...r.latenciesMs);
  into.perSecond = (into.completed - into.failed) / into.windowS;
  into.cpu.client += cpu.client;
  into.cpu.sim += cpu.sim;
  into.cpu.gateway += cpu.gateway;
  into.wait.client += wait.client;
  into.wait.sim += wait.sim;
  into.wait.gateway += wait.gateway;
}

/** Resource readings of the three processes and the machine at one instant. */
interface Snapshot {
  client: ProcStats;
  sim: ProcStats;
  gateway: ProcStats;
  machineBusyS: number;
  atMs: number;
}

async function snapshot(env: BenchEnv, side: Side = 'gateway'): Promise<Snapshot> {
  const [sim, gateway] = await Promise.all([env.sim.stats(), serverOf(env, side === 'direct' ? 'gateway' : side).stats()]);
  return { client: procStats(), sim, gateway, machineBusyS: machineBusySeconds(), atMs: performance.now() };
}

/** CPU and CPU-wait per process between two snapshots, and what the rest of the machine used. */
function spentBetween(a: Snapshot, b: Snapshot): { cpu: CpuSpent; wait: CpuSpent; foreign: number; wallS: number } {
  const cpu: CpuSpent = {
    client: cpuSecondsBetween(a.client, b.client),
    sim: cpuSecondsBetween(a.sim, b.sim),
    gateway: cpuSecondsBetween(a.gateway, b.gateway),
  };
  const wait: CpuSpent = {
    client: waitSecondsBetween(a.client, b.client),
    sim: waitSecondsBetween(a.sim, b.sim),
    gateway: waitSecondsBetween(a.gateway, b.gateway),
  };
  const foreign = Math.max(0, b.machineBusyS - a.machineBusyS - cpu.client - cpu.sim - cpu.gateway);
  return { cpu, wait, foreign, wallS: (b.atMs - a.atMs) / 1000 };
}

export interface ThroughputOptions {
  connections: number;
  warmupMs: number;
  /** Warm-up of the later runs (the processes' JIT is warm by then; connections are not). */
  rewarmMs: number;
  durationMs: number;
  rounds: number;
  log(line: string): void;
  /** The sides to compare (default direct and gateway); the order rotates every round. */
  sides?: Side[];
  /** The load generator (default closedLoop, in this process). */
  loop?: (target: Target, connections: number, warmupMs: number, durationMs: number, hooks: LoopHooks) => Promise<LoopResult>;
}

/**
 * Closed-loop throughput, direct and through the gateway, `rounds` times in alternating order
 * (D G, G D, …) so drift on a shared machine does not favour one side: many short rounds
 * average out other processes coming and going better than one long run per side. The three
 * processes' CPU time is read at the window edges.
 */
export async function throughputPair(env: BenchEnv, make: (side: Side) => Target, o: ThroughputOptions): Promise<PairResult> {
  const rounds: RoundResult[] = [];
  const all = o.sides ?? ['direct', 'gateway'];
  const loop = o.loop ?? closedLoop;
  for (let round = 0; round < o.rounds; round++) {
    const shift = round % all.length;
    const rotated = [...all.slice(shift), ...all.slice(0, shift)];
    const sides = round % 2 === 0 ? rotated : rotated.reverse();
    const result: Partial<RoundResult> = {};
    for (const side of sides) {
      let before: Snapshot | undefined;
      let after: Snapshot | undefined;
      const r = await loop(make(side), o.connections, round === 0 ? o.warmupMs : o.rewarmMs, o.durationMs, {
        beforeWindow: async () => void (before = await snapshot(env, side)),
        afterWindow: async () => void (after = await snapshot(env, side)),
      });
      const spent = spentBetween(before!, after!);
      result[side] = sum(side, [{ ...r, ...spent }]);
      o.log(`  round ${round + 1} ${side.padEnd(7)} ${r.perSecond.toFixed(1)}/s  (${r.completed} in ${r.windowS.toFixed(1)} s, ${r.failed} failed)`);
    }
    rounds.push(result as RoundResult);
  }
  const good = rounds.filter(clean);
  const used = good.length > 0 ? good : rounds;
  const bare = all.includes('bare');
  const extra: Partial<Record<ExtraSide, SideResult>> = {};
  for (const x of EXTRA_SIDES) if (all.includes(x)) extra[x] = sum(x, used.map((r) => r[x]!));
  return {
    direct: sum('direct', used.map((r) => r.direct)),
    gateway: sum('gateway', used.map((r) => r.gateway)),
    bare: bare ? sum('bare', used.map((r) => r.bare!)) : undefined,
    extra,
    all: { direct: sum('direct', rounds.map((r) => r.direct)), gateway: sum('gateway', rounds.map((r) => r.gateway)), bare: bare ? sum('bare', rounds.map((r) => r.bare!)) : undefined },
    rounds,
    used: used.length,
  };
}

export interface TtftResult {
  direct: number[];
  gateway: number[];
  failed: { direct: number; gateway: number };
  firstError?: string;
  wallS: number;
  /** CPU seconds used by processes other than client, simulator and gateway during the series. */
  foreign: number;
  /** Seconds the gateway's event loop was runnable but had no CPU. */
  gatewayWait: number;
}

export async function ttftPair(env: BenchEnv, make: (side: 'direct' | 'gateway') => Target, n: number): Promise<TtftResult> {
  const a = await snapshot(env);
  const r = await ttftSeries([make('direct'), make('gateway')], n, Math.min(20, n));
  const spent = spentBetween(a, await snapshot(env));
  return {
    direct: r.ttftMs[0]!,
    gateway: r.ttftMs[1]!,
    failed: { direct: r.failed[0]!, gateway: r.failed[1]! },
    firstError: r.firstError,
    wallS: spent.wallS,
    foreign: spent.foreign,
    gatewayWait: spent.wait.gateway,
  };
}
