import { hasKey } from '../../src/config/load.js';
import { keyEntry } from '../../src/config/schema.js';
import type { Spec } from '../../src/config/spec.js';

/** The providers plugin's own config keys. */
export const providersConfig = {
  providers: { kind: 'array', description: 'who earns the provider share', items: keyEntry },
  nodeTtlSeconds: { kind: 'duration', description: 'registered nodes that stop heartbeating leave the pool', default: 90 },
  nodes: {
    kind: 'object',
    description: 'nodes that providers register by URL',
    fields: {
      allowPrivateAddresses: { kind: 'boolean', description: 'true: a registered URL may resolve to loopback, link-local, private or unspecified addresses (tests, one private network)', default: false },
    },
  },
} as const satisfies Record<string, Spec>;

/** Keys substituted from an unset variable ("") are no keys. */
export function dropEmptyKeys(config: { providers: { key?: string; sha256?: string }[] }): void {
  config.providers = config.providers.filter(hasKey);
}
