// The composition root: the one file under src/ that names the shipped plugins. The CLI, its
// commands and the tests get plugins, the full config schema and gateways through it.
import { SHIPPED_PLUGINS, type ShippedConfig } from '../plugins/index.js';
import type { PricingPlugins } from './billing/rate-warning.js';
import type { GatewayConfig } from './config/types.js';
import { TrustedMintsKey } from './cashu/mint-monitor.js';
import { allMigrations } from './migrations.js';
import { RateViewKey } from './ops/readiness.js';
import type { MigrationSet } from './store/migrate.js';
import { fullSpec, loadConfig as loadWith, parseConfig as parseWith } from './config/load.js';
import type { Spec } from './config/spec.js';
import { Gateway, type GatewayOptions } from './gateway.js';
import { resolvePlugins, type PluginCatalogue } from './pipeline/manifest.js';

export const catalogue: PluginCatalogue = SHIPPED_PLUGINS;

/** Every config key: the core's and every shipped plugin's (for --help and validation). */
export const configSpec: Spec = fullSpec(catalogue);

export type { ShippedConfig };

/** Parses and checks a config against the core's keys and the shipped plugins (their sections and dependencies). */
export function parseConfig(yamlText: string, env: NodeJS.ProcessEnv = process.env): ShippedConfig {
  return parseWith(yamlText, catalogue, env) as ShippedConfig; // validated against configSpec: every section is there
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): ShippedConfig {
  return loadWith(file, catalogue, env) as ShippedConfig;
}

/** A gateway running the shipped plugins that `config.plugins` enables. */
export function startGateway(config: ShippedConfig, opts: Omit<GatewayOptions, 'catalogue'> = {}): Promise<Gateway> {
  return Gateway.start(config, { ...opts, catalogue });
}

/** Every schema version the store needs: the core's and every shipped plugin's (owlrun migrate, doctor). */
export const migrations: readonly MigrationSet[] = allMigrations(catalogue);

/** What the plugins `config.plugins` enables do about payment and pricing (doctor's fixed-rate warning). */
export function pricingPlugins(config: ShippedConfig | GatewayConfig): PricingPlugins {
  const enabled = resolvePlugins(catalogue, config);
  return { paid: enabled.some((m) => m.provides?.includes(TrustedMintsKey)), rateMoves: enabled.some((m) => m.provides?.includes(RateViewKey)) };
}

/** A price source polled once, as the oracle plugin polls it (owlrun doctor). */
export { fetchSource } from '../plugins/oracle/sources.js';
