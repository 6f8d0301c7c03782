import type { Spec } from '../../src/config/spec.js';

// The plugin's own config keys (validated whether or not it runs; `owlrun --help` lists them).
export const ratelimitConfig = {
  ratelimit: {
    kind: 'object',
    description: 'unpaid requests (no X-Cashu) per client address, as a token bucket; paid requests are never limited',
    fields: {
      unpaidBurst: { kind: 'integer', description: 'unpaid requests one address may send at once (0: no limit)', default: 120, min: 0 },
      unpaidPerMinute: { kind: 'integer', description: 'unpaid requests one address gets back per minute', default: 120, min: 1 },
    },
  },
} as const satisfies Record<string, Spec>;
