import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { ConfigError } from '../config/spec.js';
import type { BackendPool } from '../proxy/pool.js';
import type { Db } from '../store/db.js';
import type { GatewayPlugin } from './plugin.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import type { Services } from './services.js';

/** What a plugin may use. Shared services are created once by the gateway and handed to all. */
export interface PluginDeps {
  config: GatewayConfig;
  db: Db;
  log: Logger;
  pool: BackendPool;
  /** The gateway's Prometheus metrics (always collected; GET /metrics serves them). */
  metrics: GatewayMetrics;
  /** Services shared between plugins (typed keys), filled by plugins' create() in load order. */
  services: Services;
  /** The clock plugins read (tests pass their own). */
  now: () => number;
  /** The fetch plugins use for outside HTTP calls (tests pass their own). */
  fetch: typeof fetch;
}

export type PluginFactory = (deps: PluginDeps) => Promise<GatewayPlugin>;

/** Every plugin the gateway ships; `plugins:` in the config picks which run. */
const REGISTRY: Record<string, () => Promise<PluginFactory>> = {};
/** Plugins switched on by their own config section rather than by `plugins:`. */
const ENABLED_BY: Record<string, (config: GatewayConfig) => boolean> = {};

export function registerPlugin(name: string, load: () => Promise<PluginFactory>, opts: { enabledBy?: (config: GatewayConfig) => boolean } = {}): void {
  REGISTRY[name] = load;
  if (opts.enabledBy) ENABLED_BY[name] = opts.enabledBy;
}

/** The plugins whose own config section switches them on (e.g. `<name>.enabled: true`). */
export function pluginsEnabledByConfig(config: GatewayConfig): string[] {
  return Object.entries(ENABLED_BY)
    .filter(([, on]) => on(config))
    .map(([name]) => name);
}

export function knownPlugins(): string[] {
  return Object.keys(REGISTRY);
}

export async function loadPlugins(names: readonly string[], deps: PluginDeps): Promise<GatewayPlugin[]> {
  const out: GatewayPlugin[] = [];
  for (const [i, name] of names.entries()) {
    const load = REGISTRY[name];
    if (!load) throw new ConfigError(`plugins[${i}]`, `unknown plugin "${name}" (known: ${knownPlugins().join(', ') || 'none'})`);
    out.push(await (await load())(deps));
  }
  return out;
}
