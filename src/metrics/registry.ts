import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RequestMetrics } from './request-metrics.js';

// Every metric the gateway exports (prefix owlrun_), one registry per gateway instance.
// Label values MUST be bounded: routes and outcomes from closed lists, models from config or
// discovery, reason codes from src/errors.ts — never a token, receipt, key or client address.

/** Seconds: LLM latencies span a few ms (cached, tiny) to a minute (long answers). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
const MINT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Distinct node ids a counter labels by name; later ones (providers may register many) share OTHER_NODE. */
export const MAX_NODE_LABELS = 200;
export const OTHER_NODE = 'other';

export class GatewayMetrics {
  readonly registry = new Registry();

  /** owlrun_requests_total, owlrun_request_duration_seconds, owlrun_time_to_first_token_seconds. */
  readonly requests = new RequestMetrics(this.registry, LATENCY_BUCKETS);
  readonly tokens = new Counter({ name: 'owlrun_tokens_total', help: 'Tokens billed by model, kind (prompt|completion) and source (backend|estimated)', labelNames: ['model', 'kind', 'source'] as const, registers: [this.registry] });
  readonly sats = new Counter({ name: 'owlrun_sats_total', help: 'Sats by kind: paid (tokens received), fee (mint input fees), charged, change, refunded, provider, gateway', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly jobs = new Counter({ name: 'owlrun_jobs_total', help: 'Paid and free jobs by outcome: ok, cut, refunded, refused, backend_failed, client_gone, recovered', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly activeStreams = new Gauge({ name: 'owlrun_active_streams', help: 'Responses being streamed to clients now', registers: [this.registry] });
  readonly backendUp = new Gauge({ name: 'owlrun_backend_up', help: '1 when the node passes its health checks', labelNames: ['node', 'kind'] as const, registers: [this.registry] });
  readonly backendInFlight = new Gauge({ name: 'owlrun_backend_in_flight', help: 'Requests in flight on the node', labelNames: ['node'] as const, registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'owlrun_queue_depth', help: 'Requests waiting for a free node (nothing claimed yet)', registers: [this.registry] });
  readonly queueWait = new Histogram({ name: 'owlrun_queue_wait_seconds', help: 'Time requests waited for a free node, by how the wait ended: admitted, timeout, client_gone, unavailable', labelNames: ['outcome'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly queueRefusals = new Counter({ name: 'owlrun_queue_refusals_total', help: 'Requests refused at once because every node was busy and the queue was full (or queueing is off)', registers: [this.registry] });
  readonly backendFailovers = new Counter({ name: 'owlrun_backend_failovers_total', help: 'Times a node refused or failed before answering and the job moved on', labelNames: ['node'] as const, registers: [this.registry] });
  readonly mintRequests = new Counter({ name: 'owlrun_mint_requests_total', help: 'Requests to mints by operation and outcome', labelNames: ['operation', 'outcome'] as const, registers: [this.registry] });
  readonly mintUp = new Gauge({ name: 'owlrun_mint_up', help: '1 when the trusted mint answered its last check (info and keysets), 0 when not', labelNames: ['mint'] as const, registers: [this.registry] });
  readonly mintDuration = new Histogram({ name: 'owlrun_mint_request_duration_seconds', help: 'Mint request duration by operation', labelNames: ['operation'] as const, buckets: MINT_BUCKETS, registers: [this.registry] });
  readonly paymentErrors = new Counter({ name: 'owlrun_payment_errors_total', help: 'Refused payments by reason code', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly oracleRate = new Gauge({ name: 'owlrun_oracle_btc_usd', help: 'BTC/USD rate in force for pricing', registers: [this.registry] });
  readonly oracleRateAge = new Gauge({ name: 'owlrun_oracle_rate_age_seconds', help: 'Age of the rate in force', registers: [this.registry] });
  readonly oracleSourceErrors = new Counter({ name: 'owlrun_oracle_source_errors_total', help: 'Price source failures and rejected prices', labelNames: ['source'] as const, registers: [this.registry] });
  readonly invalidSignatureSats = new Counter({ name: 'owlrun_wallet_invalid_signature_sats_total', help: 'Sats of claim outputs whose mint signature failed its DLEQ proof (missing money: alert on any)', registers: [this.registry] });
  readonly walletHeld = new Gauge({ name: 'owlrun_wallet_held_sats', help: 'Sats the gateway holds in proofs', registers: [this.registry] });
  readonly usageDisputes = new Counter({ name: 'owlrun_usage_disputes_total', help: "Jobs where an untrusted node reported more tokens than the gateway counted (plus tolerance) and was billed the gateway's count, by node and kind (prompt|completion)", labelNames: ['node', 'kind'] as const, registers: [this.registry] });
  readonly balances = new Gauge({ name: 'owlrun_balance_sats', help: 'Ledger balances: the gateway, each provider, and sats held for running jobs', labelNames: ['account'] as const, registers: [this.registry] });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'owlrun_' });
    // Exported from the start (zeros), so the dashboard's queue panels have series before any wait.
    for (const outcome of ['admitted', 'timeout', 'client_gone', 'unavailable']) this.queueWait.zero({ outcome });
  }

  /** Gauges read at scrape time (backend state, wallet, oracle) register their collector here. */
  onCollect(fn: () => void | Promise<void>): void {
    this.collectors.push(fn);
  }

  private readonly collectors: (() => void | Promise<void>)[] = [];
  private readonly nodeLabels = new Set<string>();

  /** A node id as a counter label: bounded to MAX_NODE_LABELS values, then OTHER_NODE. */
  nodeLabel(id: string): string {
    if (this.nodeLabels.has(id)) return id;
    if (this.nodeLabels.size >= MAX_NODE_LABELS) return OTHER_NODE;
    this.nodeLabels.add(id);
    return id;
  }

  async text(): Promise<string> {
    for (const fn of this.collectors) await fn();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
