import type { Logger } from 'pino';
import type { Db, SqlExecutor } from '../store/db.js';
import { PASS, type StreamAction, type StreamEvent } from '../stream/event.js';
import type { Job, JobOutcome, Settlement } from './job.js';
import { PHASES, PLUGIN_MEMBERS } from './phases.js';
import { CONTINUE, type GatewayPlugin, type Verdict } from './plugin.js';

const refuse = (): never => {
  throw new Error('this settlement has no store transaction (every settle plugin declared settlesWithoutStore)');
};
const NO_STORE: SqlExecutor = { run: refuse, get: refuse, all: refuse };

const KNOWN_MEMBERS = new Set<string>([...PHASES, ...PLUGIN_MEMBERS]);

/** Rejects a plugin that exposes a member outside the closed phase list (a typo'd phase would never run). */
export function checkPlugin(plugin: GatewayPlugin): void {
  const members = new Set<string>([...Object.keys(plugin), ...protoMembers(plugin)]);
  for (const m of members) {
    if (typeof (plugin as unknown as Record<string, unknown>)[m] === 'function' && !KNOWN_MEMBERS.has(m)) {
      throw new Error(`plugin ${plugin.name}: "${m}" is not a phase (phases: ${PHASES.join(', ')})`);
    }
  }
}

function protoMembers(obj: object): string[] {
  const out: string[] = [];
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    out.push(...Object.getOwnPropertyNames(p).filter((n) => n !== 'constructor' && !n.startsWith('_') && !n.startsWith('#')));
  }
  return out;
}

export interface SettleInput {
  outcome: JobOutcome;
  headersSent: boolean;
  delivered: boolean;
}

/** Runs the enabled plugins' phases in priority order (high → low, then by name). */
export class PluginRunner {
  readonly plugins: readonly GatewayPlugin[];
  private readonly onRequestChain: GatewayPlugin[];
  private readonly transformChain: GatewayPlugin[];
  private readonly eventChain: GatewayPlugin[];
  private readonly settleChain: GatewayPlugin[];
  private readonly beforeSettleChain: GatewayPlugin[];
  /** Every settle plugin declared settlesWithoutStore: true (no per-job question to ask). */
  private readonly neverStore: boolean;

  constructor(
    plugins: GatewayPlugin[],
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    plugins.forEach(checkPlugin);
    this.plugins = [...plugins].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
    this.onRequestChain = this.plugins.filter((p) => p.onRequest);
    this.transformChain = this.plugins.filter((p) => p.transformRequest);
    this.eventChain = this.plugins.filter((p) => p.onStreamEvent);
    this.settleChain = this.plugins.filter((p) => p.onSettle);
    this.beforeSettleChain = this.plugins.filter((p) => p.beforeSettle);
    this.neverStore = this.settleChain.every((p) => p.settlesWithoutStore === true);
  }

  get hasEventHandlers(): boolean {
    return this.eventChain.length > 0;
  }

  /** Some plugin has an onRequest phase (else onRequest always continues). */
  get hasRequestHandlers(): boolean {
    return this.onRequestChain.length > 0;
  }

  async onRequest(job: Job): Promise<Verdict> {
    for (const p of this.onRequestChain) {
      const verdict = await p.onRequest!(job);
      if (verdict.kind === 'reply') return verdict;
    }
    return CONTINUE;
  }

  transformRequest(job: Job): void {
    for (const p of this.transformChain) p.transformRequest!(job);
  }

  /** Combines the plugins' actions: cut beats drop beats replace (the last one) beats pass. */
  onStreamEvent(event: StreamEvent, job: Job): StreamAction {
    let result = PASS;
    for (const p of this.eventChain) {
      const action = p.onStreamEvent!(event, job);
      if (action.kind === 'pass') continue;
      if (action.kind === 'cut' || (action.kind === 'drop' && result.kind !== 'cut') || (action.kind === 'replace' && (result.kind === 'pass' || result.kind === 'replace'))) {
        result = action;
      }
    }
    return result;
  }

  /**
   * Runs every plugin's beforeSettle (outside any transaction), then every onSettle inside ONE
   * store transaction; returns the trailer bytes (at once, without a promise, when no plugin
   * needs the store or returns a promise).
   * A failing settle rolls the transaction back and is rethrown: the job stays in the journal
   * and is settled again at the next start-up.
   */
  settle(job: Job, input: SettleInput): Buffer[] | Promise<Buffer[]> {
    if (this.settleChain.length === 0) return [];
    if (this.neverStore || this.settleChain.every((p) => storeless(p, job))) return this.settleWithoutStore(job, input);
    return this.settleInStore(job, input);
  }

  private async settleInStore(job: Job, input: SettleInput): Promise<Buffer[]> {
    for (const p of this.beforeSettleChain) {
      try {
        const work = p.beforeSettle!(job);
        if (work) await work;
      } catch (err) {
        this.log.error({ err, job: job.id, plugin: p.name }, 'beforeSettle failed (onSettle does the work)');
      }
    }
    // Both lists are made inside the transaction: PostgreSQL may run it again on a conflict.
    const { trailer, after } = await this.db.tx(async (sql) => {
      const out: Buffer[] = [];
      const hooks: (() => void)[] = [];
      // Fields listed, not spread: a spread followed by more properties gives every object a
      // hidden class of its own, which V8 then carries through young-generation GCs (see run.ts).
      const settlement: Settlement = { outcome: input.outcome, headersSent: input.headersSent, delivered: input.delivered, sql, trailer: out, afterCommit: (fn) => hooks.push(fn) };
      for (const p of this.settleChain) await p.onSettle!(job, settlement);
      return { trailer: out, after: hooks };
    });
    return this.runHooks(job, after, trailer);
  }

  /** The after-commit hooks, each on its own: a failing one is logged, the others still run. */
  private runHooks(job: Job, hooks: (() => void)[] | undefined, trailer: Buffer[]): Buffer[] {
    if (hooks) {
      for (const fn of hooks) {
        try {
          fn();
        } catch (err) {
          this.log.error({ err, job: job.id }, 'after-commit hook failed');
        }
      }
    }
    return trailer;
  }

  /**
   * A settlement without a store transaction (e.g. metrics only): hooks run once every onSettle
   * returned. Synchronous (no promise made) while no plugin returns a promise.
   */
  private settleWithoutStore(job: Job, input: SettleInput): Buffer[] | Promise<Buffer[]> {
    const trailer: Buffer[] = [];
    let hooks: (() => void)[] | undefined;
    const settlement: Settlement = {
      outcome: input.outcome,
      headersSent: input.headersSent,
      delivered: input.delivered,
      sql: NO_STORE,
      trailer,
      afterCommit: (fn) => void (hooks ??= []).push(fn),
    };
    const chain = this.settleChain;
    for (let i = 0; i < chain.length; i++) {
      const pending = chain[i]!.onSettle!(job, settlement);
      if (pending) return this.settleRestWithoutStore(job, settlement, pending, i + 1).then(() => this.runHooks(job, hooks, trailer));
    }
    return this.runHooks(job, hooks, trailer);
  }

  /** settleWithoutStore from the first plugin that returned a promise on. */
  private async settleRestWithoutStore(job: Job, settlement: Settlement, pending: Promise<void>, next: number): Promise<void> {
    await pending;
    for (let i = next; i < this.settleChain.length; i++) await this.settleChain[i]!.onSettle!(job, settlement);
  }

  async close(): Promise<void> {
    for (const p of this.plugins) await p.close?.();
  }
}

function storeless(p: GatewayPlugin, job: Job): boolean {
  return typeof p.settlesWithoutStore === 'function' ? p.settlesWithoutStore(job) : p.settlesWithoutStore === true;
}
