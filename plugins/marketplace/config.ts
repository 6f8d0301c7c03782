import type { Spec } from '../../src/config/spec.js';

/** The marketplace plugin's own config keys. `marketplace.enabled: true` switches it on. */
export const marketplaceConfig = {
  marketplace: {
    kind: 'object',
    description: "Owlrun node agents: GPU owners' nodes that dial in over a WebSocket",
    fields: {
      enabled: { kind: 'boolean', description: 'true: Owlrun node agents may connect', default: false },
      openRegistration: { kind: 'boolean', description: 'true: a new owlr_prov_… key joins on first use; false: only keys in providers[]', default: false },
      maxConcurrent: { kind: 'integer', description: 'most jobs in flight on one node (the agent sets no limit)', default: 4, min: 1, max: 1000 },
      acceptTimeoutMs: { kind: 'integer', description: 'a node that neither accepts nor rejects a job this fast is passed over', default: 5000, min: 1 },
      firstChunkTimeoutMs: { kind: 'integer', description: 'after accepting, a node must send its first bytes this fast (model loading included), else the job moves on', default: 120000, min: 1 },
      chunkGapTimeoutMs: { kind: 'integer', description: 'a node silent this long in the middle of a job has failed it', default: 60000, min: 1 },
      jobTimeoutMs: { kind: 'integer', description: 'a job not finished (proxy_done) this long after it was accepted has failed', default: 600000, min: 1 },
      pingIntervalSeconds: { kind: 'duration', description: 'the gateway pings each node this often; a node silent for 3 intervals is disconnected', default: 20 },
      replicaUrl: {
        kind: 'string',
        description: 'replicas on one PostgreSQL store: the base URL other replicas reach this one at (default: this listener\'s address as an agent reached it, e.g. http://127.0.0.1:8080; set it when replicas run on several hosts)',
        optional: true,
        pattern: /^https?:\/\/[^\s]+$/,
      },
      replicaSyncMs: { kind: 'integer', description: 'replicas on one PostgreSQL store: how often a replica publishes its agents and reads the others\' (an entry not renewed for 5 intervals is ignored)', default: 2000, min: 10 },
    },
  },
} as const satisfies Record<string, Spec>;
