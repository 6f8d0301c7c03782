// `owlrun doctor`, `owlrun migrate [--check]` and `owlrun dev-token` as an operator runs them:
// separate processes, local fake servers (a dead mint, a bad price source, a live dev mint and
// backend simulator), exit codes and the lines they print.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { checksOf, formatCheck } from '../../src/cli/doctor.js';
import { loadConfig } from '../../src/compose.js';
import { createDevMint, type DevMint } from '../../src/devmint/index.js';
import { openDb } from '../../src/store/open.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const MAIN = ['--import', 'tsx', 'src/main.ts'];

function owlrun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('owlrun doctor, migrate, dev-token', function () {
  this.timeout(120_000); // each command is a fresh tsx process: slow on a loaded machine
  let dir: string;
  let mint: DevMint;
  let mintUrl: string;
  let sim: Simulator;
  let prices: http.Server;
  let pricesUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'owlrun-ops-'));
    mint = await createDevMint({ db: new SqliteDb(':memory:'), inputFeePpk: 0, log: () => undefined });
    mintUrl = await mint.listen(0);
    sim = await startSimulator({ kind: 'vllm', models: ['m1'], tokens: 3 });
    prices = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/good' ? '{"data":{"amount":"97000.5"}}' : '{"data":{"amount":"rate limited"}}');
    });
    await new Promise<void>((r) => prices.listen(0, '127.0.0.1', r));
    pricesUrl = `http://127.0.0.1:${(prices.address() as AddressInfo).port}`;
  });
  after(async () => {
    await mint.close();
    await sim.close();
    await new Promise((r) => prices.close(r));
  });

  function configFile(name: string, partial: Record<string, unknown>): string {
    const file = join(dir, `${name}.yaml`);
    const base = {
      store: { url: `sqlite:${join(dir, `${name}.db`)}` },
      plugins: ['payment', 'metering', 'change', 'oracle'],
      backends: [{ id: 'node-1', kind: 'vllm', url: sim.url }],
      payment: { mints: [mintUrl] },
      oracle: { sources: [{ name: 'good', url: `${pricesUrl}/good`, path: 'data.amount' }], timeoutMs: 2000 },
      health: { timeoutMs: 2000 },
      ...partial,
    };
    writeFileSync(file, stringify(base));
    return file;
  }

  it('doctor: every check passes → exit 0, one line per check naming its target', async () => {
    const file = configFile('good', {});
    const r = await owlrun(['doctor', '--config', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^ok   config ${file}: valid`));
    assert.ok(lines.some((l) => l.startsWith(`ok   store sqlite:${join(dir, 'good.db')}: does not exist yet`)), r.stdout);
    assert.ok(lines.some((l) => l.startsWith(`ok   mint ${mintUrl}: `) && l.includes('units sat')), r.stdout);
    assert.ok(lines.some((l) => l === `ok   oracle source good (${pricesUrl}/good): 97000.5 USD/BTC`), r.stdout);
    assert.ok(lines.some((l) => l === `ok   backend node-1 (${sim.url}): healthy; models m1`), r.stdout);
    assert.ok(lines.some((l) => l === `ok   mint ${mintUrl} (CORS for browsers): Access-Control-Allow-Origin: *`), r.stdout);
    assert.equal(lines.at(-1), 'all 6 checks passed');
    assert.equal(r.stderr, '');
  });

  it('doctor: a dead mint and a bad oracle source → exit 1, each failure with its fix; the dev mint is not started', async () => {
    const dead = await deadPort();
    const devPort = await deadPort();
    const file = configFile('bad', {
      payment: { mints: [`http://127.0.0.1:${dead}`, `http://127.0.0.1:${devPort}`] },
      devMint: { enabled: true, port: devPort },
      oracle: { sources: [{ name: 'good', url: `${pricesUrl}/good`, path: 'data.amount' }, { name: 'junk', url: `${pricesUrl}/junk`, path: 'data.amount' }] },
    });
    const r = await owlrun(['doctor', '--config', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    const mintLine = lines.find((l) => l.startsWith(`FAIL mint http://127.0.0.1:${dead}: `));
    assert.ok(mintLine && /ECONNREFUSED/.test(mintLine) && / — fix: check payment\.mints/.test(mintLine), r.stdout);
    const devLine = lines.find((l) => l.startsWith(`FAIL mint http://127.0.0.1:${devPort}: `));
    assert.ok(devLine?.includes('the development mint the gateway starts itself'), r.stdout);
    const junk = lines.find((l) => l.startsWith(`FAIL oracle source junk (${pricesUrl}/junk): non_numeric`));
    assert.ok(junk?.includes(' — fix: check oracle.sources[1].url and .path'), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('ok   oracle source good')), r.stdout);
    assert.equal(lines.at(-1), '3 of 7 checks failed');
    assert.ok(!r.stdout.includes('    at '), 'no stack trace');
  });

  it('doctor: a config that does not load is one FAIL line naming the key', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'server: { port: "eighty" }\n');
    const r = await owlrun(['doctor', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^FAIL config ${file}: .*server\\.port.* — fix: `));
  });

  it('migrate --check exits 1 on a first-release store, migrate applies, then --check exits 0', async () => {
    const file = configFile('old', {});
    const db = await openDb(`sqlite:${join(dir, 'old.db')}`);
    await db.exec(readFileSync(new URL('../fixtures/schema/first-release.sql', import.meta.url), 'utf8'));
    await db.close();
    let r = await owlrun(['migrate', '--check', '--config', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^pending: jobs #1 \(first schema\)$/m);
    assert.match(r.stdout, /migration\(s\) pending: run owlrun migrate --config /);
    const store = (await checksOf(loadConfig(file), ` --config ${file}`)).find((c) => c.target.startsWith('store '))!;
    assert.match(formatCheck(store), /^FAIL store sqlite:.*schema migration\(s\) pending .* — fix: back up the store, then run owlrun migrate --config /);
    r = await owlrun(['migrate', '--config', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^applied: jobs #1 \(first schema\)$/m);
    r = await owlrun(['migrate', '--check', '--config', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /schema current/);
  });

  it('any command fails with one line naming what failed, no stack trace (unknown flag: exit 2)', async () => {
    const file = configFile('nostore', { store: { url: 'postgres://owlrun:s3cret@127.0.0.1:1/owlrun' } });
    let r = await owlrun(['migrate', '--config', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^owlrun: store postgres:\/\/owlrun:\*\*\*@127\.0\.0\.1:1\/owlrun: cannot open: .*ECONNREFUSED/);
    assert.ok(!r.stderr.includes('s3cret'), 'the password is not printed');
    r = await owlrun(['doctor', '--no-such-flag']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^owlrun: .*--no-such-flag/);
  });

  it('dev-token finds the development mint from --config and --dev-mint-port; with none running, one line naming the mint it tried', async () => {
    const port = Number(new URL(mintUrl).port);
    const file = configFile('dev', { devMint: { enabled: true, port } });
    let r = await owlrun(['dev-token', '21', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cashuB\S+\n$/);
    r = await owlrun(['dev-token', '21', '--config', configFile('dev2', { devMint: { enabled: true, port: 1 } }), '--dev-mint-port', String(port)]);
    assert.equal(r.code, 0, r.stderr);
    const dead = await deadPort();
    r = await owlrun(['dev-token', '21', '--config', file, '--dev-mint-port', String(dead)]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^owlrun: dev-token: the development mint at http://127\\.0\\.0\\.1:${dead} did not mint`));
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  });
});
