#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { configSpec, loadConfig, startGateway } from './compose.js';
import { ConfigError, describe } from './config/spec.js';
import { CliError, moveDevMint, oneLine } from './cli/common.js';
import { createLogger } from './log.js';
import { tuneV8ForServing } from './v8-tuning.js';

const HELP = `owlrun — a pay-per-prompt Cashu paywall in front of Ollama, vLLM, llama.cpp and OpenAI-compatible servers

Usage: owlrun [--config FILE] [--port N] [--host ADDR] [--dev-mint-port N] [--demo]
       owlrun doctor [--config FILE]            (checks config, store, mints, oracle sources, backends; starts nothing)
       owlrun migrate [--check] [--config FILE] (applies pending store migrations; --check: exit 1 when some are pending)
       owlrun wallet [--file F] [--mint URL] balance | topup SATS | receive TOKEN | send SATS | restore | words   (the agent wallet)
       owlrun ask [--file F] [--gateway URL] [--model M] [--max-sats N] "prompt"   (a paid, streamed answer from a gateway)
       owlrun dev-token AMOUNT [--config FILE] [--dev-mint-port N] [--mint URL] [--v3]   (a token of fake sats from a development mint)

Flags:
  -c, --config FILE   the YAML config (default: config/gateway.yaml of the package)
  -p, --port N        listen on this port (overrides server.port)
      --host ADDR     listen on this address (overrides server.host)
      --dev-mint-port N  the development mint listens on this port (overrides devMint.port)
      --verbose       errors with their stack trace
      --demo          also start a bundled backend simulator (model "owlrun-simulator") and a simulated
                      Owlrun node agent on the marketplace (model "mock:latest")
  -h, --help          this text

Config keys (default in brackets):
`;

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'dev-token') return (await import('./cli/dev-token.js')).devToken(rest);
  if (command === 'wallet') return (await import('./cli/wallet.js')).walletCommand(rest);
  if (command === 'ask') return (await import('./cli/ask.js')).askCommand(rest);
  if (command === 'doctor') return void (process.exitCode = await (await import('./cli/doctor.js')).doctorCommand(rest));
  if (command === 'migrate') return void (process.exitCode = await (await import('./cli/migrate.js')).migrateCommand(rest));
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      demo: { type: 'boolean', default: false },
      'dev-mint-port': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP + describe(configSpec).join('\n') + '\n');
    return;
  }
  tuneV8ForServing();
  const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const file = values.config ?? resolve(packageRoot, 'config', 'gateway.yaml');
  const config = loadConfig(file);
  if (values.port !== undefined) config.server.port = Number(values.port);
  if (values.host !== undefined) config.server.host = values.host;
  if (values['dev-mint-port'] !== undefined) moveDevMint(config, Number(values['dev-mint-port']));
  const log = createLogger(config.log.level, config.log.format);
  if (values.demo) {
    const { startDemoBackend } = await import('./demo.js');
    config.backends = [await startDemoBackend(log)];
    config.marketplace = { ...config.marketplace, enabled: true, openRegistration: true };
  }
  const gateway = await startGateway(config, { log });
  if (values.demo) await (await import('./demo.js')).startDemoAgent(gateway.url, log);
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

// Every command fails with one readable line naming what failed; --verbose adds the stack.
main().catch((err: unknown) => {
  const verbose = process.argv.includes('--verbose');
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const usage = (err as { code?: unknown }).code;
  const code = err instanceof CliError ? err.code : typeof usage === 'string' && usage.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  process.stderr.write(`owlrun: ${oneLine(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(code);
});
