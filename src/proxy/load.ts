import type { BackendNode } from './node.js';
import { nodeGet } from './node-http.js';

// What a node says about its own load, read with the health checks (never on a request's path):
//   vLLM       GET /metrics   vllm:num_requests_running, vllm:num_requests_waiting,
//                             vllm:kv_cache_usage_perc (older builds: vllm:gpu_cache_usage_perc);
//                             label sets (engine, model_name) are summed
//   llama.cpp  GET /metrics   llamacpp:requests_processing, llamacpp:requests_deferred (only with
//                             --metrics, else 501) — otherwise GET /slots: one entry per slot,
//                             `is_processing` (capacity = the number of slots, nothing on waiting)
//   Ollama     GET /api/ps    the models resident in memory (no queue figures exist)
//   others     nothing; marketplace nodes publish through BackendNode.publishLoad (heartbeats)
// A node's figures are a stranger's claims: they only rank nodes, never raise the gateway's cap.

export interface PublishedLoad {
  /** Requests the server runs now, for all its clients (the gateway's included). */
  running?: number;
  /** Requests queued inside the server, waiting for a batch place or a slot. */
  waiting?: number;
  /** KV-cache use, 0..1 (vLLM). */
  kvCacheUsage?: number;
  /** Requests the server runs at once (llama.cpp slots). */
  capacity?: number;
  /** Models resident in memory (Ollama): any other model loads first. */
  loadedModels?: string[];
}

/** Sums each named metric over its label sets in a Prometheus text exposition. */
export function sumMetrics(text: string, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const wanted = new Set(names);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!wanted.has(name)) continue;
    const afterLabels = line[nameEnd] === '{' ? line.indexOf('}', nameEnd) + 1 : nameEnd;
    if (afterLabels <= 0) continue;
    const value = Number(line.slice(afterLabels).trim().split(/\s+/)[0]);
    if (!Number.isFinite(value) || value < 0) continue;
    out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}

const count = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v));

/** Load from a vLLM /metrics answer; undefined when it carries none of the gauges. */
export function vllmLoad(text: string): PublishedLoad | undefined {
  const m = sumMetrics(text, ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc']);
  if (m.size === 0) return undefined;
  const kv = m.get('vllm:kv_cache_usage_perc') ?? m.get('vllm:gpu_cache_usage_perc');
  return { running: count(m.get('vllm:num_requests_running')), waiting: count(m.get('vllm:num_requests_waiting')), kvCacheUsage: kv === undefined ? undefined : Math.min(1, kv) };
}

/** Load from a llama.cpp /metrics answer (server started with --metrics). */
export function llamacppMetricsLoad(text: string): PublishedLoad | undefined {
  const m = sumMetrics(text, ['llamacpp:requests_processing', 'llamacpp:requests_deferred']);
  if (m.size === 0) return undefined;
  return { running: count(m.get('llamacpp:requests_processing')), waiting: count(m.get('llamacpp:requests_deferred')) };
}

/** Load from a llama.cpp /slots answer: busy slots of all slots. */
export function llamacppSlotsLoad(body: unknown): PublishedLoad | undefined {
  if (!Array.isArray(body) || body.length === 0) return undefined;
  const busy = body.filter((s) => typeof s === 'object' && s !== null && (s as { is_processing?: unknown }).is_processing === true).length;
  return { running: busy, capacity: body.length };
}

/** Models resident per Ollama /api/ps. */
export function ollamaLoad(body: unknown): PublishedLoad | undefined {
  const models = (body as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return undefined;
  const names = models.map((m) => (m as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === 'string');
  return { loadedModels: names };
}

/** llama.cpp servers without --metrics whose /slots answered: asked /slots only from then on. */
const slotsOnly = new WeakSet<BackendNode>();

async function get(node: BackendNode, path: string, timeoutMs: number): Promise<Response> {
  const headers: Record<string, string> = {};
  if (node.apiKey) headers.authorization = `Bearer ${node.apiKey}`;
  return nodeGet(node, path, { headers, timeoutMs });
}

async function text(res: Response): Promise<string | undefined> {
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  return res.text();
}

async function json(res: Response): Promise<unknown> {
  const t = await text(res);
  return t === undefined ? undefined : (JSON.parse(t) as unknown);
}

/** Reads the node's own load figures; undefined when it publishes none or the read fails. */
export async function probeLoad(node: BackendNode, timeoutMs: number): Promise<PublishedLoad | undefined> {
  try {
    switch (node.kind) {
      case 'vllm': {
        const t = await text(await get(node, '/metrics', timeoutMs));
        return t === undefined ? undefined : vllmLoad(t);
      }
      case 'llamacpp': {
        if (!slotsOnly.has(node)) {
          const t = await text(await get(node, '/metrics', timeoutMs));
          const load = t === undefined ? undefined : llamacppMetricsLoad(t);
          if (load) return load;
        }
        const load = llamacppSlotsLoad(await json(await get(node, '/slots', timeoutMs)));
        if (load) slotsOnly.add(node);
        return load;
      }
      case 'ollama':
        return ollamaLoad(await json(await get(node, '/api/ps', timeoutMs)));
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
