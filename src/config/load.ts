import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configSpec, DEFAULT_MAX_CONCURRENT } from './schema.js';
import { ConfigError, validate } from './spec.js';
import type { GatewayConfig } from './types.js';

/** `${NAME}` → the environment variable (an unset one becomes ""; keys left empty count as not set). */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}

/** Parses, validates and cross-checks a config; throws ConfigError naming the key path. */
export function parseConfig(yamlText: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown;
  try {
    raw = parse(substituteEnv(yamlText, env)) ?? {};
  } catch (err) {
    throw new ConfigError('', `not valid YAML: ${(err as Error).message}`);
  }
  const cfg = validate(configSpec, raw) as GatewayConfig;
  return crossCheck(cfg);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, env);
}

function crossCheck(cfg: GatewayConfig): GatewayConfig {
  // Keys substituted from an unset variable are "" — treat them as absent.
  const keep = <T extends { key?: string; sha256?: string }>(e: T) => Boolean(e.key || e.sha256);
  cfg.auth.apiKeys = cfg.auth.apiKeys.filter(keep);
  cfg.providers = cfg.providers.filter(keep);
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
  if (cfg.plugins.includes('payment')) {
    for (const needed of ['metering', 'change']) {
      if (!cfg.plugins.includes(needed)) throw new ConfigError('plugins', `the payment plugin needs "${needed}" too: a claimed payment must be billed and settled`);
    }
    if (cfg.payment.mints.length === 0) throw new ConfigError('payment.mints', 'the payment plugin needs at least one trusted mint');
  }
  return cfg;
}
