import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../compose.js';
import { mintToken } from '../devmint/index.js';
import { CliError, defaultConfigFile, oneLine } from './common.js';

const USAGE = 'usage: owlrun dev-token AMOUNT [--config FILE] [--dev-mint-port N] [--mint URL] [--v3]   (AMOUNT: whole sats)';

/** The development mint a gateway started with this config (and --dev-mint-port) runs. */
function devMintUrl(configFile: string | undefined, port: string | undefined): string {
  const file = configFile ?? defaultConfigFile();
  let host = '127.0.0.1';
  let p = 3338;
  if (configFile !== undefined || existsSync(file)) {
    const { devMint } = loadConfig(file);
    host = devMint.host === '0.0.0.0' || devMint.host === '::' ? '127.0.0.1' : devMint.host;
    p = devMint.port;
  }
  if (port !== undefined) {
    p = Number(port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new CliError(`--dev-mint-port: not a port: ${port}`, 2);
  }
  return `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
}

/**
 * `owlrun dev-token AMOUNT`: mints AMOUNT fake sats at a development mint — the one a gateway
 * with this config runs (devMint.host/port, or --dev-mint-port), or --mint URL — and prints the
 * token. Not real money.
 */
export async function devToken(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { mint: { type: 'string' }, config: { type: 'string', short: 'c' }, 'dev-mint-port': { type: 'string' }, v3: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const amount = positionals.length === 1 ? Number(positionals[0]) : NaN;
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new CliError(USAGE, 2);
  const mint = values.mint?.replace(/\/+$/, '') ?? devMintUrl(values.config, values['dev-mint-port']);
  let token: string;
  try {
    ({ token } = await mintToken(mint, amount, { version: values.v3 ? 3 : 4 }));
  } catch (err) {
    throw new CliError(`dev-token: the development mint at ${mint} did not mint (${oneLine(err)}): start the gateway with devMint.enabled (or --demo), or name the mint with --mint URL`);
  }
  process.stdout.write(token + '\n');
}
