import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { BackendPool } from '../proxy/pool.js';
import type { Db } from '../store/db.js';
import { resolvePlugins, type PluginCatalogue } from './manifest.js';
import type { GatewayPlugin } from './plugin.js';
import type { Services } from './services.js';

/** What a plugin may use. `C` is the config section its manifest owns. */
export interface PluginDeps<C = unknown> {
  config: GatewayConfig & C;
  db: Db;
  log: Logger;
  pool: BackendPool;
  /** The gateway's Prometheus metrics (always collected; GET /metrics serves them). */
  metrics: GatewayMetrics;
  /** Services shared between plugins (typed keys), filled as plugins are created. */
  services: Services;
  /** The clock plugins read (tests pass their own). */
  now: () => number;
  /** The fetch plugins use for outside HTTP calls (tests pass their own). */
  fetch: typeof fetch;
}

/** Creates the enabled plugins (config.plugins and what they imply), providers before needers. */
export async function loadPlugins(catalogue: PluginCatalogue, deps: PluginDeps): Promise<GatewayPlugin[]> {
  const out: GatewayPlugin[] = [];
  try {
    for (const m of resolvePlugins(catalogue, deps.config)) {
      // The config was validated against the schema with every plugin's section: it holds m's.
      const hooks = await m.create(deps as PluginDeps<never>);
      out.push(Object.assign(hooks, { name: m.name, priority: m.priority }));
      for (const key of m.provides ?? []) {
        if (!deps.services.has(key)) throw new Error(`plugin ${m.name} declares it provides "${key.name}" but did not`);
      }
    }
  } catch (err) {
    // Whatever started (timers, connections) stops: a failed start-up leaves nothing running.
    for (const p of out.reverse()) await p.close?.().catch(() => undefined);
    throw err;
  }
  return out;
}
