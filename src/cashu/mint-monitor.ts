import type { Logger } from 'pino';
import { serviceKey } from '../pipeline/services.js';
import { probeMint, type MintProbe } from './mint-probe.js';

/** Provided by a plugin that takes payments at the trusted mints (payment): the gateway then watches them. */
export const TrustedMintsKey = serviceKey<readonly string[]>('trustedMints');

// Watches every trusted mint: one probe at start-up and one per interval. A dead mint never stops
// start-up; it is logged when its state changes (not on every failed check) and reported by
// /readyz and the owlrun_mint_up gauge.

export interface MintStatus {
  url: string;
  /** Null until the first check finished. */
  up: boolean | null;
  checked_at: string | null;
  error: string | null;
}

export interface MintMonitorOptions {
  mints: readonly string[];
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  /** Called after every check of a mint (the metrics gauge). */
  onCheck?: (url: string, up: boolean) => void;
}

export class MintMonitor {
  private readonly last = new Map<string, { probe: MintProbe; at: number }>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly opts: MintMonitorOptions) {}

  /** Checks every mint once, at once; never throws. Concurrent callers share one round. */
  checkAll(): Promise<void> {
    this.running ??= Promise.all(this.opts.mints.map((url) => this.check(url))).then(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): void {
    if (this.stopped || this.opts.mints.length === 0) return;
    this.timer = setTimeout(() => {
      void this.checkAll().finally(() => this.start());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  status(): MintStatus[] {
    return this.opts.mints.map((url) => {
      const l = this.last.get(url);
      return { url, up: l ? l.probe.ok : null, checked_at: l ? new Date(l.at).toISOString() : null, error: l?.probe.error ?? null };
    });
  }

  private async check(url: string): Promise<void> {
    const probe = await probeMint(url, this.opts.timeoutMs);
    if (this.stopped) return;
    const before = this.last.get(url)?.probe.ok;
    this.last.set(url, { probe, at: Date.now() });
    this.opts.onCheck?.(url, probe.ok);
    if (probe.ok && before !== true) {
      this.opts.log.info({ mint: url, name: probe.name, units: probe.units }, before === false ? 'mint reachable again' : 'mint reachable');
    } else if (!probe.ok && before !== false) {
      this.opts.log.warn({ mint: url, error: probe.error }, 'mint UNREACHABLE: payments at this mint fail until it answers (GET /readyz says why)');
    }
  }
}
