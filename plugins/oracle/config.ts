import type { Infer, Spec } from '../../src/config/spec.js';

// The oracle plugin's own config keys. (`oracle.*` is the core's: the money services quote at
// oracle.fixedRate whether or not this plugin runs.)
export const broadcastsSpec = {
  kind: 'array',
  description: 'system announcements',
  items: {
    kind: 'object',
    description: 'one announcement',
    fields: {
      id: { kind: 'string', description: 'unique id' },
      message: { kind: 'string', description: 'text' },
      level: { kind: 'string', description: 'severity', enum: ['info', 'warning', 'critical'], default: 'info' },
      starts_at: { kind: 'string', description: 'ISO time it starts', optional: true },
      ends_at: { kind: 'string', description: 'ISO time it ends', optional: true },
    },
  },
} as const satisfies Spec;

export const oracleConfig = { broadcasts: broadcastsSpec } as const satisfies Record<string, Spec>;

export type BroadcastConfig = Infer<typeof broadcastsSpec>[number];
