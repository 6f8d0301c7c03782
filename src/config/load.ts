import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { resolvePlugins, type PluginCatalogue } from '../pipeline/manifest.js';
import { configSpec, DEFAULT_MAX_CONCURRENT } from './schema.js';
import { ConfigError, validate, type Spec } from './spec.js';
import type { GatewayConfig } from './types.js';

/** `${NAME}` → the environment variable (an unset one becomes ""; keys left empty count as not set). */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}

/** The one schema: the core's keys, every plugin's own section, and the default `plugins:` list. */
export function fullSpec(catalogue: PluginCatalogue): Spec {
  const fields: Record<string, Spec> = { ...configSpec.fields, plugins: { ...configSpec.fields.plugins, default: catalogue.defaults } };
  for (const m of catalogue.manifests) {
    for (const [key, spec] of Object.entries(m.config ?? {})) {
      if (key in fields) throw new Error(`plugin ${m.name}: config key "${key}" is already owned by the core or another plugin`);
      fields[key] = spec;
    }
  }
  return { ...configSpec, fields };
}

/**
 * Parses, validates and cross-checks a config against the core's schema and the catalogue's
 * plugins (their sections, their dependencies, their own checks); throws ConfigError naming the key path.
 */
export function parseConfig(yamlText: string, catalogue: PluginCatalogue, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown;
  try {
    raw = parse(substituteEnv(yamlText, env)) ?? {};
  } catch (err) {
    throw new ConfigError('', `not valid YAML: ${(err as Error).message}`);
  }
  const cfg = crossCheck(validate(fullSpec(catalogue), raw) as GatewayConfig);
  for (const m of resolvePlugins(catalogue, cfg)) m.check?.(cfg as never);
  return cfg;
}

export function loadConfig(file: string, catalogue: PluginCatalogue, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, catalogue, env);
}

function crossCheck(cfg: GatewayConfig): GatewayConfig {
  // Keys substituted from an unset variable are "" — treat them as absent.
  cfg.auth.apiKeys = cfg.auth.apiKeys.filter(hasKey);
  if (!cfg.admin.key) delete cfg.admin.key;
  if (cfg.metrics.key === '') delete cfg.metrics.key;
  for (const b of cfg.backends) if (b.apiKey === '') delete b.apiKey;

  const ids = new Set<string>();
  cfg.backends.forEach((b, i) => {
    if (ids.has(b.id)) throw new ConfigError(`backends[${i}].id`, `duplicate backend id "${b.id}"`);
    ids.add(b.id);
    b.url = b.url.replace(/\/+$/, '');
    b.maxConcurrent ??= DEFAULT_MAX_CONCURRENT[b.kind];
  });
  if (cfg.auth.required && cfg.auth.apiKeys.length === 0) {
    throw new ConfigError('auth.apiKeys', 'auth.required is true but no API key is set (is the environment variable exported?)');
  }
  if (cfg.server.headersTimeoutMs > cfg.server.requestTimeoutMs) {
    throw new ConfigError('server.headersTimeoutMs', `must not exceed server.requestTimeoutMs (${cfg.server.requestTimeoutMs}): the headers are part of the request`);
  }
  cfg.payment.mints = cfg.payment.mints.map((m) => m.replace(/\/+$/, ''));
  return cfg;
}

/** A key entry whose key came from an unset variable ("") is no key at all. */
export const hasKey = (e: { key?: string; sha256?: string }): boolean => Boolean(e.key || e.sha256);
