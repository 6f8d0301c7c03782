import { Counter, Gauge } from 'prom-client';
import type { GatewayMetrics } from '../../src/metrics/registry.js';
import type { RelayEvent } from './relay-job.js';

/** The marketplace's metrics, on the gateway's registry (GET /metrics). Labels from closed lists only. */
export class MarketplaceMetrics {
  readonly jobs: Counter<'event'>;
  readonly registrations: Counter<'result'>;

  constructor(metrics: GatewayMetrics, connected: () => number) {
    const registers = [metrics.registry];
    new Gauge({ name: 'owlrun_marketplace_nodes', help: 'Owlrun node agents connected to this gateway now', registers, collect() { this.set(connected()); } });
    this.jobs = new Counter({ name: 'owlrun_marketplace_jobs_total', help: 'Jobs offered to Owlrun agents, by event: offered, accepted, rejected, timed_out', labelNames: ['event'] as const, registers });
    this.registrations = new Counter({ name: 'owlrun_marketplace_registrations_total', help: 'Owlrun agent registrations by result: accepted, refused', labelNames: ['result'] as const, registers });
    for (const event of ['offered', 'accepted', 'rejected', 'timed_out'] satisfies RelayEvent[]) this.jobs.inc({ event }, 0);
    for (const result of ['accepted', 'refused']) this.registrations.inc({ result }, 0);
  }
}
