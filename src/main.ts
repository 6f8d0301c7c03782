#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { loadConfig } from './config/load.js';
import { configSpec } from './config/schema.js';
import { ConfigError, describe } from './config/spec.js';
import { Gateway } from './gateway.js';
import { createLogger } from './log.js';

const HELP = `owlrun — a pay-per-prompt Cashu paywall in front of Ollama, vLLM, llama.cpp and OpenAI-compatible servers

Usage: owlrun [--config FILE] [--port N] [--host ADDR] [--demo]
       owlrun dev-token AMOUNT [--mint URL] [--v3]   (a token of fake sats from a development mint)

Flags:
  -c, --config FILE   the YAML config (default: config/gateway.yaml of the package)
  -p, --port N        listen on this port (overrides server.port)
      --host ADDR     listen on this address (overrides server.host)
      --demo          also start a bundled backend simulator (model "owlrun-simulator") and use it
  -h, --help          this text

Config keys (default in brackets):
`;

async function main(): Promise<void> {
  if (process.argv[2] === 'dev-token') {
    const { devToken } = await import('./cli/dev-token.js');
    return devToken(process.argv.slice(3));
  }
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      demo: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP + describe(configSpec).join('\n') + '\n');
    return;
  }
  const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const file = values.config ?? resolve(packageRoot, 'config', 'gateway.yaml');
  const config = loadConfig(file);
  if (values.port !== undefined) config.server.port = Number(values.port);
  if (values.host !== undefined) config.server.host = values.host;
  const log = createLogger(config.log.level, config.log.format);
  if (values.demo) {
    const { startDemoBackend } = await import('./demo.js');
    config.backends = [await startDemoBackend(log)];
  }
  const gateway = await Gateway.start(config, { log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    gateway.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`owlrun: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
