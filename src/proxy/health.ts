import type { BackendNode } from './node.js';
import { nodeGet } from './node-http.js';

export type ProbeResult = { ok: true; models?: string[] } | { ok: false; error: string };

/**
 * One health check that also discovers models: Ollama `GET /api/tags`, the OpenAI-compatible
 * servers (vLLM, llama.cpp, others) `GET /v1/models`. Healthy = 2xx with the expected JSON.
 */
export async function probeNode(node: BackendNode, timeoutMs: number): Promise<ProbeResult> {
  const path = node.kind === 'ollama' ? '/api/tags' : '/v1/models';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (node.apiKey) headers.authorization = `Bearer ${node.apiKey}`;
  try {
    const res = await nodeGet(node, path, { headers, timeoutMs });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, error: `${path} answered ${res.status}` };
    }
    const body = (await res.json()) as { models?: { name?: unknown }[] | null; data?: { id?: unknown }[] | null };
    const list = node.kind === 'ollama' ? body.models?.map((m) => m.name) : body.data?.map((m) => m.id);
    const models = (list ?? []).filter((m): m is string => typeof m === 'string');
    return { ok: true, models };
  } catch (err) {
    return { ok: false, error: `${path}: ${(err as Error).message}` };
  }
}
