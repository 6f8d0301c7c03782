import { existsSync } from 'node:fs';
import type { GatewayConfig } from '../config/types.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// What every `owlrun` command shares: the default config file, and errors as one readable line.

/** A failure the user can fix: printed as one line (no stack), exit code `code`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

/** config/gateway.yaml of the package (src/cli → the package root, from src/ or dist/src/). */
export function defaultConfigFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(here, '..', '..');
  return resolve(root.endsWith('dist') ? resolve(root, '..') : root, 'config', 'gateway.yaml');
}

/** A store URL fit to print: the password of a postgres:// URL is replaced by ***. */
export function printableStoreUrl(url: string): string {
  try {
    if (!/^postgres(ql)?:\/\//.test(url)) return url;
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:\/\/[^@/]*@/, '://***@');
  }
}

/** One line from any error: its message, the first line only (library messages may run on). */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = (msg.split('\n')[0] ?? '').trim() || (err instanceof Error ? err.name : 'error');
  let cause: unknown = (err as { cause?: unknown } | undefined)?.cause;
  for (let depth = 0; cause && typeof cause === 'object' && depth < 4; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && !line.includes(code)) return `${line} (${code})`;
    cause = (cause as { cause?: unknown }).cause;
  }
  return line;
}

/** True for a sqlite:PATH store whose file does not exist yet (opening it would create it). */
export function storeFileMissing(url: string): boolean {
  if (!url.startsWith('sqlite:') || url === 'sqlite::memory:') return false;
  return !existsSync(url.slice('sqlite:'.length));
}

/**
 * --dev-mint-port: the development mint listens on `port`, and trusted mint URLs that named it
 * (loopback or its host, at its old port) follow it.
 */
export function moveDevMint(config: GatewayConfig, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--dev-mint-port: not a port: ${port}`, 2);
  const old = String(config.devMint.port);
  const hosts = new Set(['127.0.0.1', 'localhost', '[::1]', config.devMint.host]);
  config.devMint.port = port;
  config.payment.mints = config.payment.mints.map((m) => {
    const u = new URL(m);
    if (!hosts.has(u.hostname) || u.port !== old) return m;
    u.port = String(port);
    return u.toString().replace(/\/+$/, '');
  });
}
