import type { Registry } from 'prom-client';

// The three metrics every inference request records — owlrun_requests_total{route,model,status},
// owlrun_request_duration_seconds{route,model} and owlrun_time_to_first_token_seconds{route,model}
// — kept in plain numbers on the request's path (one Map lookup, a few additions) and turned into
// prom-client's metric objects only when scraped. prom-client's own inc/observe validate and hash
// the label object on every call: measured, three of them were ~4% of a plain proxied request's
// instructions. The exposition text is the one prom-client writes for a Counter and a Histogram.

type Labels = { route: string; model: string };

/** One histogram's cumulative state: counts[i] observations ≤ bounds[i]; the last slot counts the rest (+Inf). */
class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += v;
    this.count += 1;
  }
}

/** The metrics of one (route, model). */
class Series {
  readonly byStatus = new Map<number, number>();
  readonly duration: Buckets;
  readonly ttft: Buckets;

  constructor(
    readonly labels: Labels,
    bounds: readonly number[],
  ) {
    this.duration = new Buckets(bounds);
    this.ttft = new Buckets(bounds);
  }
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/** What prom-client's Registry reads of a metric (its get() output) and calls on it. */
interface ExportedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: ExportedValue[]; aggregator: 'sum' }>;
  reset(): void;
}

export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  constructor(
    registry: Registry,
    private readonly bounds: readonly number[],
  ) {
    registry.registerMetric(this.metric('owlrun_requests_total', 'Inference requests by route, model and HTTP status', 'counter', (s, out) => {
      for (const [status, n] of s.byStatus) out.push({ labels: { ...s.labels, status: String(status) }, value: n });
    }) as never);
    registry.registerMetric(this.metric('owlrun_request_duration_seconds', 'Time from request to the end of the response', 'histogram', (s, out) => this.exportBuckets('owlrun_request_duration_seconds', s.labels, s.duration, out)) as never);
    registry.registerMetric(this.metric('owlrun_time_to_first_token_seconds', 'Time from request to the first response byte sent to the client', 'histogram', (s, out) => {
      if (s.ttft.count > 0) this.exportBuckets('owlrun_time_to_first_token_seconds', s.labels, s.ttft, out);
    }) as never);
  }

  /** One finished request. `ttftS`: undefined when no byte reached the client. */
  record(route: string, model: string, status: number, durationS: number, ttftS: number | undefined): void {
    const key = `${route}\n${model}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = new Series({ route, model }, this.bounds)));
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    s.duration.observe(durationS);
    if (ttftS !== undefined) s.ttft.observe(ttftS);
  }

  private metric(name: string, help: string, type: 'counter' | 'histogram', values: (s: Series, out: ExportedValue[]) => void): ExportedMetric {
    return {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => {
        const out: ExportedValue[] = [];
        for (const s of this.series.values()) values(s, out);
        return { name, help, type, values: out, aggregator: 'sum' };
      },
      reset: () => this.series.clear(),
    };
  }

  /** prom-client's histogram lines: cumulative `_bucket{le}`, then `_sum` and `_count`. */
  private exportBuckets(name: string, labels: Labels, b: Buckets, out: ExportedValue[]): void {
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += b.counts[i]!;
      out.push({ labels: { le: this.bounds[i]! }, sharedLabels: labels, value: acc, metricName: `${name}_bucket` });
    }
    out.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: b.count, metricName: `${name}_bucket` });
    out.push({ labels: {}, sharedLabels: labels, value: b.sum, metricName: `${name}_sum` });
    out.push({ labels: {}, sharedLabels: labels, value: b.count, metricName: `${name}_count` });
  }
}
