import { parseArgs } from 'node:util';
import { fixedRateWarning } from '../billing/rate-warning.js';
import { probeMint } from '../cashu/mint-probe.js';
import { fetchSource, loadConfig, migrations, pricingPlugins } from '../compose.js';
import type { GatewayConfig } from '../config/types.js';
import { probeNode } from '../proxy/health.js';
import { BackendNode } from '../proxy/node.js';
import { pendingMigrations } from '../store/migrate.js';
import { openDb } from '../store/open.js';
import { defaultConfigFile, oneLine, printableStoreUrl, storeFileMissing } from './common.js';

// `owlrun doctor [--config FILE]`: checks what a gateway with this config needs, starting
// nothing (no listener, no development mint): the config, the store and its migrations, each
// trusted mint by URL, each oracle source (one poll), each backend by id. One line per check
// naming its target; each failure says how to fix it. Exit 0 only if every check passes.

export interface Check {
  status: 'ok' | 'warn' | 'fail';
  target: string;
  detail: string;
  fix?: string;
}

export function formatCheck(c: Check): string {
  const tag = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }[c.status];
  return `${tag} ${c.target}: ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ''}`;
}

async function checkStore(config: GatewayConfig, configArg: string): Promise<Check> {
  const target = `store ${printableStoreUrl(config.store.url)}`;
  if (storeFileMissing(config.store.url)) return { status: 'ok', target, detail: 'does not exist yet; the gateway creates and migrates it at first start' };
  let db;
  try {
    db = await openDb(config.store.url);
  } catch (err) {
    return { status: 'fail', target, detail: `cannot open: ${oneLine(err)}`, fix: 'check store.url, that the database server runs and this user may connect' };
  }
  try {
    await db.get('SELECT 1 AS ok');
    const pending = await pendingMigrations(db, migrations);
    if (pending.length === 0) return { status: 'ok', target, detail: 'answers; schema current' };
    return {
      status: 'fail',
      target,
      detail: `answers; ${pending.length} schema migration(s) pending (${pending.map((m) => `${m.owner} #${m.version}`).join(', ')})`,
      fix: `back up the store, then run owlrun migrate${configArg} (the gateway also migrates at start)`,
    };
  } catch (err) {
    return { status: 'fail', target, detail: oneLine(err), fix: 'a store written by a newer release needs that release; otherwise check the database' };
  } finally {
    await db.close();
  }
}

async function checkMint(config: GatewayConfig, url: string): Promise<Check> {
  const p = await probeMint(url, config.health.timeoutMs);
  const target = `mint ${url}`;
  if (p.ok) return { status: 'ok', target, detail: `${p.name ?? 'unnamed'}${p.version ? ` (${p.version})` : ''}; ${p.activeKeysets} active keyset(s), units ${p.units.join(', ')}` };
  const own = config.devMint.enabled && new URL(url).port === String(config.devMint.port);
  return {
    status: 'fail',
    target,
    detail: p.error ?? 'no answer',
    fix: own
      ? 'this is the development mint the gateway starts itself: start the gateway (doctor starts nothing), then run doctor again'
      : 'check payment.mints: the URL, that the mint is up and reachable from this host, and that it has an active keyset in sats',
  };
}

/** Browsers (the chat page's wallet) call the mint directly: it must answer CORS. A warning only: API clients do not need it. */
async function checkMintCors(config: GatewayConfig, url: string): Promise<Check> {
  const target = `mint ${url} (CORS for browsers)`;
  const origin = 'https://owlrun-doctor.invalid';
  try {
    const res = await fetch(`${url}/v1/info`, { headers: { origin }, signal: AbortSignal.timeout(config.health.timeoutMs), redirect: 'error' });
    await res.body?.cancel();
    const allowed = res.headers.get('access-control-allow-origin');
    if (allowed === '*' || allowed === origin) return { status: 'ok', target, detail: `Access-Control-Allow-Origin: ${allowed}` };
    return { status: 'warn', target, detail: 'no Access-Control-Allow-Origin for other sites: the chat page cannot top up or withdraw at this mint (API clients are not affected)', fix: 'choose a mint that answers CORS, or put one in front of it' };
  } catch (err) {
    return { status: 'warn', target, detail: `not checked: ${oneLine(err)}` };
  }
}

async function checkSource(config: GatewayConfig, i: number): Promise<Check> {
  const s = config.oracle.sources[i]!;
  const r = await fetchSource(s, config.oracle.timeoutMs);
  const target = `oracle source ${s.name} (${s.url})`;
  if (r.ok) return { status: 'ok', target, detail: `${r.value} USD/BTC` };
  return { status: 'fail', target, detail: `${r.reason}: ${r.message}`, fix: `check oracle.sources[${i}].url and .path (the dot path to the price in its JSON answer), and that this host may reach it` };
}

async function checkBackend(config: GatewayConfig, i: number): Promise<Check> {
  const b = config.backends[i]!;
  const node = new BackendNode({ ...b, source: 'config' });
  const r = await probeNode(node, config.health.timeoutMs);
  const target = `backend ${b.id} (${b.url})`;
  if (!r.ok) return { status: 'fail', target, detail: r.error, fix: `check backends[${i}].url and kind (${b.kind}), and that the server runs` };
  const served = r.models ?? [];
  if (b.models.length > 0) {
    node.setModels(served);
    const missing = b.models.filter((m) => !node.serves(m));
    if (missing.length > 0 && served.length > 0) return { status: 'fail', target, detail: `healthy, but does not serve ${missing.join(', ')} (it lists ${served.join(', ')})`, fix: `fix backends[${i}].models or load the model on the server` };
  }
  if (served.length === 0 && b.models.length === 0) return { status: 'fail', target, detail: 'healthy, but lists no model', fix: `load a model on the server, or list it in backends[${i}].models` };
  return { status: 'ok', target, detail: `healthy; models ${(b.models.length > 0 ? b.models : served).join(', ')}` };
}

/** Every check of a loaded config, in order (run at once). */
export async function checksOf(config: GatewayConfig, configArg = ''): Promise<Check[]> {
  const checks: Promise<Check | Check[]>[] = [checkStore(config, configArg)];
  for (const url of config.payment.mints) checks.push(checkMint(config, url).then(async (c) => (c.status === 'ok' ? [c, await checkMintCors(config, url)] : c)));
  config.oracle.sources.forEach((_, i) => checks.push(checkSource(config, i)));
  const fixed = fixedRateWarning(config, 'fixed_rate', pricingPlugins(config));
  if (config.oracle.sources.length === 0 && fixed) checks.push(Promise.resolve({ status: 'warn', target: 'oracle', detail: fixed }));
  config.backends.forEach((_, i) => checks.push(checkBackend(config, i)));
  if (config.backends.length === 0) checks.push(Promise.resolve<Check>({ status: 'warn', target: 'backends', detail: 'none configured: jobs run only on nodes that register (providers, marketplace)' }));
  return (await Promise.all(checks)).flat();
}

/** Runs doctor; prints one line per check on stdout; returns the exit code. */
export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, verbose: { type: 'boolean', default: false } }, strict: true });
  const file = values.config ?? defaultConfigFile();
  let config: GatewayConfig;
  try {
    config = loadConfig(file);
  } catch (err) {
    process.stdout.write(formatCheck({ status: 'fail', target: `config ${file}`, detail: oneLine(err), fix: 'correct that key (owlrun --help lists every key with its default)' }) + '\n');
    return 1;
  }
  process.stdout.write(formatCheck({ status: 'ok', target: `config ${file}`, detail: `valid; plugins ${config.plugins.join(', ') || '(none: a plain proxy)'}` }) + '\n');
  const checks = await checksOf(config, values.config ? ` --config ${values.config}` : '');
  for (const c of checks) process.stdout.write(formatCheck(c) + '\n');
  const failed = checks.filter((c) => c.status === 'fail').length;
  process.stdout.write(failed === 0 ? `all ${checks.length + 1} checks passed\n` : `${failed} of ${checks.length + 1} checks failed\n`);
  return failed === 0 ? 0 : 1;
}
