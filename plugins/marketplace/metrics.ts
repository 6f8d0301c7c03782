import { Counter, Gauge } from 'prom-client';
import type { GatewayMetrics } from '../../src/metrics/registry.js';
import type { RelayEvent } from './relay-job.js';

/** The marketplace's metrics, on the gateway's registry (GET /metrics). Labels from closed lists only. */
export class MarketplaceMetrics {
  readonly jobs: Counter<'event'>;
  readonly registrations: Counter<'result'>;
  readonly forwarded: Counter<'result'>;
  readonly servedForReplicas: Counter;

  constructor(metrics: GatewayMetrics, connected: () => number, replicaNodes: () => number) {
    const registers = [metrics.registry];
    new Gauge({ name: 'owlrun_marketplace_nodes', help: 'Owlrun node agents connected to this gateway now', registers, collect() { this.set(connected()); } });
    new Gauge({ name: 'owlrun_marketplace_replica_nodes', help: 'Owlrun node agents connected to other replicas of this store, in this replica\'s pool now', registers, collect() { this.set(replicaNodes()); } });
    this.forwarded = new Counter({ name: 'owlrun_marketplace_forwarded_jobs_total', help: 'Jobs sent to an agent held by another replica, by result: streamed, refused (before any byte), unreachable', labelNames: ['result'] as const, registers });
    this.servedForReplicas = new Counter({ name: 'owlrun_marketplace_jobs_for_replicas_total', help: 'Jobs other replicas\' buyers ran on agents connected here', registers });
    for (const result of ['streamed', 'refused', 'unreachable']) this.forwarded.inc({ result }, 0);
    this.jobs = new Counter({ name: 'owlrun_marketplace_jobs_total', help: 'Jobs offered to Owlrun agents, by event: offered, accepted, rejected, timed_out', labelNames: ['event'] as const, registers });
    this.registrations = new Counter({ name: 'owlrun_marketplace_registrations_total', help: 'Owlrun agent registrations by result: accepted, refused', labelNames: ['result'] as const, registers });
    for (const event of ['offered', 'accepted', 'rejected', 'timed_out'] satisfies RelayEvent[]) this.jobs.inc({ event }, 0);
    for (const result of ['accepted', 'refused']) this.registrations.inc({ result }, 0);
  }
}
