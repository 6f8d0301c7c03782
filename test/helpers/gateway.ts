import { stringify } from 'yaml';
import { parseConfig, startGateway, type ShippedConfig } from '../../src/compose.js';
import type { Gateway, GatewayOptions } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

/** A config from a partial object, on a free loopback port, with an in-memory store and quiet logs. */
export function testConfig(partial: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): ShippedConfig {
  const base: Record<string, unknown> = {
    server: { host: '127.0.0.1', port: 0 },
    store: { url: 'sqlite::memory:' },
    log: { level: process.env.OWLRUN_TEST_LOG ?? 'silent' },
    plugins: [],
    health: { intervalSeconds: 3600 },
    ...partial,
  };
  return parseConfig(stringify(base), env);
}

export async function startTestGateway(partial: Record<string, unknown> = {}, opts: Omit<GatewayOptions, 'catalogue'> = {}): Promise<Gateway> {
  const config = testConfig(partial);
  return startGateway(config, { log: createLogger(config.log.level), ...opts });
}
