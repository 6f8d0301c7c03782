// A burst: n requests sent at once on n fresh connections, each read to its end.
import http from 'node:http';
import { send, type Outcome, type Target } from './load.js';

export interface BurstResult {
  label: string;
  n: number;
  /** Outcomes in completion order. */
  outcomes: Outcome[];
  /** ms from the first request sent to the last response ended. */
  wallMs: number;
}

export async function burst(target: Target, n: number, opts: { ttft?: boolean } = {}): Promise<BurstResult> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: n });
  const t0 = performance.now();
  const outcomes: Outcome[] = [];
  await Promise.all(Array.from({ length: n }, () => send(agent, target, opts).then((o) => void outcomes.push(o))));
  const wallMs = performance.now() - t0;
  agent.destroy();
  return { label: target.label, n, outcomes, wallMs };
}

/** "93 of 96 served; 3 × HTTP 503: …" */
export function burstSummary(b: BurstResult): string {
  const served = b.outcomes.filter((o) => o.ok).length;
  const errors = new Map<string, number>();
  for (const o of b.outcomes) if (!o.ok) errors.set(o.error ?? '?', (errors.get(o.error ?? '?') ?? 0) + 1);
  const bad = [...errors].map(([e, k]) => `${k} × ${e.slice(0, 120)}`).join('; ');
  return `${served} of ${b.n} served${bad ? `; ${bad}` : ''}`;
}
