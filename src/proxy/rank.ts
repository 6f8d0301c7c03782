import type { BackendNode } from './node.js';

// How the pool orders the nodes with room for a job (best first). The gateway's own in-flight
// count is always known; a node's published load refines it while fresh:
//   tier 0  nothing against it
//   tier 1  the model is not resident (Ollama /api/ps): it would load first
//   tier 2  the server reports requests waiting in its own queue: it gets jobs only while every
//           node of a lower tier is at its maxConcurrent
// then by busyness: (own in flight + the others' load the node reported beyond the gateway's
// own jobs at the time) ÷ its capacity, or its KV-cache use if higher. Equal ranks are rotated.

export interface Rank {
  tier: number;
  busy: number;
}

/** Ollama lists "name:tag"; a request for "name" runs "name:latest". */
function resident(loaded: readonly string[], model: string): boolean {
  return loaded.some((m) => m === model || m === `${model}:latest`);
}

export function rankOf(node: BackendNode, model: string, now: number, maxAgeMs: number): Rank {
  const load = node.load !== undefined && now - node.load.at <= maxAgeMs ? node.load : undefined;
  if (!load) return { tier: 0, busy: node.inFlight / node.maxConcurrent };
  let tier = 0;
  if ((load.waiting ?? 0) > 0) tier = 2;
  else if (load.loadedModels && !resident(load.loadedModels, model)) tier = 1;
  const reported = (load.running ?? 0) + (load.waiting ?? 0);
  const others = Math.max(0, reported - load.inFlightAtRead);
  const capacity = load.capacity ? Math.min(load.capacity, node.maxConcurrent) : node.maxConcurrent;
  return { tier, busy: Math.max((node.inFlight + others) / capacity, load.kvCacheUsage ?? 0) };
}
