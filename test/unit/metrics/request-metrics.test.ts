// RequestMetrics exposes exactly what prom-client's Counter and Histograms would for the same requests.
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestMetrics } from '../../../src/metrics/request-metrics.js';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

function promClientReference(): { registry: Registry; record: RequestMetrics['record'] } {
  const registry = new Registry();
  const requests = new Counter({ name: 'owlrun_requests_total', help: 'Inference requests by route, model and HTTP status', labelNames: ['route', 'model', 'status'], registers: [registry] });
  const duration = new Histogram({ name: 'owlrun_request_duration_seconds', help: 'Time from request to the end of the response', labelNames: ['route', 'model'], buckets: BOUNDS, registers: [registry] });
  const ttft = new Histogram({ name: 'owlrun_time_to_first_token_seconds', help: 'Time from request to the first response byte sent to the client', labelNames: ['route', 'model'], buckets: BOUNDS, registers: [registry] });
  return {
    registry,
    record: (route, model, status, durationS, ttftS) => {
      requests.inc({ route, model, status: String(status) });
      duration.observe({ route, model }, durationS);
      if (ttftS !== undefined) ttft.observe({ route, model }, ttftS);
    },
  };
}

/** Each metric's lines (HELP and TYPE first), its series in any order: Prometheus does not read the order. */
function families(text: string): string[][] {
  return text.split('\n\n').map((f) => {
    const [help, type, ...series] = f.trim().split('\n');
    return [help!, type!, ...series.sort()];
  });
}

describe('metrics/request-metrics', () => {
  it('writes the same exposition lines as prom-client for the same requests (counts, buckets at and between bounds, +Inf, sums)', async () => {
    const ref = promClientReference();
    const registry = new Registry();
    const fast = new RequestMetrics(registry, BOUNDS);
    const requests: Parameters<RequestMetrics['record']>[] = [
      ['openai_chat', 'llama3', 200, 0.0042, 0.001],
      ['openai_chat', 'llama3', 200, 0.01, 0.01],
      ['openai_chat', 'unknown', 404, 0.002, undefined],
      ['ollama_chat', 'llama3', 503, 75, undefined],
      ['openai_chat', 'llama3', 499, 0.3, 0.07],
      ['openai_chat', 'model "quoted"\\', 200, 60, 59.999],
    ];
    for (const r of requests) {
      ref.record(...r);
      fast.record(...r);
    }
    assert.deepEqual(families(await registry.metrics()), families(await ref.registry.metrics()));
  });

  it('lists every metric (help and type) before any request', async () => {
    const registry = new Registry();
    new RequestMetrics(registry, BOUNDS);
    const text = await registry.metrics();
    for (const [name, type] of [['owlrun_requests_total', 'counter'], ['owlrun_request_duration_seconds', 'histogram'], ['owlrun_time_to_first_token_seconds', 'histogram']]) {
      assert.match(text, new RegExp(`# TYPE ${name} ${type}`));
    }
    assert.doesNotMatch(text, /_bucket/);
  });

  it('is cleared by the registry reset', async () => {
    const registry = new Registry();
    const fast = new RequestMetrics(registry, BOUNDS);
    fast.record('openai_chat', 'm', 200, 0.1, 0.05);
    registry.resetMetrics();
    assert.doesNotMatch(await registry.metrics(), /owlrun_requests_total\{/);
  });
});
