// GatewayWallet against the development mint, with the real cashu-ts Wallet as the client.
import { scratchDatabase, TEST_POSTGRES_URL } from '../../helpers/postgres.js';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Amount, getEncodedToken, Wallet, type Proof } from '@cashu/cashu-ts';
import { createDevMint } from '../../../src/devmint/index.js';
import { GatewayError } from '../../../src/errors.js';
import { openDb } from '../../../src/store/open.js';
import type { Db } from '../../../src/store/db.js';
import { ClaimInDoubtError } from '../../../src/cashu/mint-errors.js';
import { encodeToken } from '../../../src/cashu/token-format.js';
import { GatewayWallet } from '../../../src/cashu/wallet.js';
import type { MintOp, WalletProof } from '../../../src/cashu/types.js';

type DevMint = Awaited<ReturnType<typeof createDevMint>>;

interface Env {
  devmint: DevMint;
  url: string;
  db: Db;
  dropDb(): Promise<void>;
  mintDb: Db;
  gw: GatewayWallet;
  client: Wallet;
  mintOps: Array<[MintOp, string]>;
}

const plain = (ps: readonly Proof[]): WalletProof[] =>
  ps.map((p) => ({ id: p.id, amount: p.amount.toNumber(), secret: p.secret, C: p.C }));

/** The gateway store: SQLite, or a scratch PostgreSQL database when OWLRUN_TEST_POSTGRES_URL is set. */
async function openGatewayDb(): Promise<{ db: Db; dropDb(): Promise<void> }> {
  const pgUrl = TEST_POSTGRES_URL;
  if (!pgUrl) {
    const db = await openDb('sqlite::memory:');
    return { db, dropDb: () => db.close() };
  }
  const scratch = await scratchDatabase('owlrun_cashu');
  const db = await openDb(scratch.url);
  return { db, dropDb: async () => {
    await db.close();
    await scratch.drop();
  } };
}

async function setup(inputFeePpk = 0): Promise<Env> {
  const mintDb = await openDb('sqlite::memory:');
  const devmint = await createDevMint({ db: mintDb, inputFeePpk, log: () => undefined });
  const url = await devmint.listen(0);
  const { db, dropDb } = await openGatewayDb();
  const mintOps: Array<[MintOp, string]> = [];
  const gw = new GatewayWallet({ db, mints: [url + '/'], onMintRequest: (op, outcome) => mintOps.push([op, outcome]) });
  await gw.init();
  const client = new Wallet(url, { unit: 'sat' });
  await client.loadMint();
  return { devmint, url, db, dropDb, mintDb, gw, client, mintOps };
}

async function teardown(env: Env | undefined): Promise<void> {
  if (!env) return;
  await env.gw.close();
  env.devmint.down = false;
  await env.devmint.close();
  await env.dropDb();
  await env.mintDb.close();
}

/** Fresh proofs worth `amount` from the dev mint (fake Lightning pays every quote). */
async function mintProofs(env: Env, amount: number): Promise<Proof[]> {
  const quote = await env.client.createMintQuoteBolt11(amount);
  return env.client.mintProofsBolt11(amount, quote);
}

async function token(env: Env, amount: number, format: 'A' | 'B' = 'B'): Promise<string> {
  const proofs = await mintProofs(env, amount);
  return format === 'B' ? getEncodedToken({ mint: env.url, unit: 'sat', proofs }) : encodeToken('A', env.url, plain(proofs));
}

const swaps = (env: Env): number => env.devmint.counters.get('POST /v1/swap') ?? 0;

/** Σ of proofs held in the store, read directly (without the signed outputs heldBalance adds). */
async function proofRowsHeld(db: Db, jobId: string): Promise<number> {
  const row = await db.get<{ s: number | null }>(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held' AND job_id = ?`, [jobId]);
  return Number(row?.s ?? 0);
}

/**
 * A man in the middle of the mint: forwards everything, and lets `tamper` rewrite the JSON answer
 * of POST /v1/swap. Returns its URL and a close function.
 */
async function tamperingMint(target: string, tamper: (body: { signatures: Array<{ amount: number; C_: string; dleq?: unknown }> }) => void) {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const up = await fetch(target + req.url, { method: req.method, headers: { 'content-type': 'application/json' }, ...(body && { body }) });
        let text = await up.text();
        if (req.method === 'POST' && req.url === '/v1/swap' && up.status === 200) {
          const json = JSON.parse(text) as Parameters<typeof tamper>[0];
          tamper(json);
          text = JSON.stringify(json);
        }
        res.writeHead(up.status, { 'content-type': 'application/json' }).end(text);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected GatewayError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('did not throw');
}

describe('cashu/wallet with the dev mint', function () {
  this.timeout(60_000);
  let env: Env | undefined;
  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  it('inspect accepts a V4 and a V3 token without claiming', async () => {
    env = await setup();
    for (const format of ['A', 'B'] as const) {
      const t = await token(env, 21, format);
      const ins = await env.gw.inspect(` ${t} `);
      assert.equal(ins.format, format);
      assert.equal(ins.mint, env.url);
      assert.equal(ins.amount, 21);
      assert.equal(ins.inputFee, 0);
      assert.equal(ins.raw, t);
    }
    assert.equal(swaps(env), 0);
  });

  it('inspect errors carry their code and never swap', async () => {
    env = await setup();
    const e = env;
    const proofs = plain(await mintProofs(e, 8));
    const cases: Array<[string, string]> = [
      ['garbage', 'cashu_token_invalid'],
      ['cashuBgarbage', 'cashu_token_invalid'],
      [encodeToken('B', 'http://evil.example:3338', proofs), 'cashu_mint_untrusted'],
      [encodeToken('B', e.url, proofs, 'usd'), 'cashu_unit_unsupported'],
      [encodeToken('A', e.url, [{ ...proofs[0]!, amount: 2 ** 41 }]), 'cashu_amount_invalid'],
      [encodeToken('A', e.url, [proofs[0]!, proofs[0]!]), 'cashu_token_duplicate_proofs'],
      [encodeToken('B', e.url, [{ ...proofs[0]!, id: '00ffffffffffffff' }]), 'cashu_keyset_unknown'],
      [encodeToken('B', e.url, [{ ...proofs[0]!, id: '01' + 'ee'.repeat(32) }]), 'cashu_keyset_unknown'],
      [encodeToken('A', e.url, [{ ...proofs[0]!, amount: 3 }]), 'cashu_amount_invalid'], // no key for 3
    ];
    for (const [value, expected] of cases) assert.equal(await code(e.gw.inspect(value)), expected, expected);
    assert.equal(swaps(e), 0);
  });

  it('inspect with the mint down while keysets load → cashu_mint_unreachable', async () => {
    env = await setup();
    const t = await token(env, 5);
    env.devmint.down = true;
    assert.equal(await code(env.gw.inspect(t)), 'cashu_mint_unreachable');
    assert.deepEqual(env.mintOps.map(([, outcome]) => outcome), ['error', 'error'], 'keysets and keys both failed, both reported');
  });

  it('a claim makes exactly one swap and holds amount − fee for the job', async () => {
    env = await setup();
    const ins = await env.gw.inspect(await token(env, 100));
    await env.gw.inspect(await token(env, 1)); // keysets cached: no second load
    const before = swaps(env);
    const res = await env.gw.claim('job-1', ins);
    assert.deepEqual(res, { amount: 100, fee: 0 });
    assert.equal(swaps(env) - before, 1);
    assert.equal(await env.gw.heldByJob('job-1'), 100);
    assert.equal(await env.gw.heldBalance(), 100);
    assert.equal(await env.gw.pendingOutputCount(), 0);
    assert.equal(env.mintOps.filter(([op]) => op === 'keysets').length, 1);
    assert.deepEqual(env.mintOps.filter(([op]) => op === 'swap'), [['swap', 'ok']]);
  });

  it('a spent token → cashu_token_spent, nothing more held', async () => {
    env = await setup();
    const t = await token(env, 10);
    await env.gw.claim('job-a', await env.gw.inspect(t));
    assert.equal(await code(env.gw.claim('job-b', await env.gw.inspect(t))), 'cashu_token_spent');
    assert.equal(await env.gw.heldBalance(), 10);
    assert.equal(await env.gw.heldByJob('job-b'), 0);
    assert.equal(await env.gw.pendingOutputCount(), 0, 'refused claim outputs are marked failed');
  });

  it('mint down during the claim → cashu_mint_unreachable; the client token is still spendable', async () => {
    env = await setup();
    const t = await token(env, 16);
    const ins = await env.gw.inspect(t);
    env.devmint.down = true;
    const err = await env.gw.claim('job-down', ins).catch((e: unknown) => e);
    assert.ok(err instanceof ClaimInDoubtError);
    assert.equal(err.code, 'cashu_mint_unreachable');
    assert.equal(await env.gw.pendingOutputCount(), 5, 'in doubt: outputs stay pending for restore');
    env.devmint.down = false;
    const received = await env.client.receive(t);
    assert.equal(received.reduce((s, p) => s + p.amount.toNumber(), 0), 16);
    assert.equal(await env.gw.recoverPending(), 0, 'the swap never happened');
    assert.equal(await env.gw.pendingOutputCount(), 0);
    assert.equal(await env.gw.heldBalance(), 0);
  });

  it('takeProofs pays every change amount exactly, in the client format, receivable by cashu-ts', async () => {
    env = await setup();
    const paid = 12;
    for (let change = 0; change <= paid; change++) {
      const format = change % 2 === 0 ? 'B' : 'A';
      const ins = await env.gw.inspect(await token(env, paid, format));
      const job = `job-change-${change}`;
      await env.gw.claim(job, ins);
      const proofs: WalletProof[] = await env.db.tx((sql) => env!.gw.takeProofs(sql, job, change));
      assert.equal(proofs.reduce((s, p) => s + p.amount, 0), change);
      assert.equal(await env.gw.heldByJob(job), paid - change);
      const changeToken = env.gw.encodeFor(ins.format, ins.mint, proofs);
      if (change === 0) {
        assert.equal(changeToken, '');
        continue;
      }
      assert.ok(changeToken.startsWith(format === 'B' ? 'cashuB' : 'cashuA'));
      const received = await env.client.receive(changeToken);
      assert.equal(received.reduce((s, p) => s + p.amount.toNumber(), 0), change);
    }
  });

  it('takeProofs rolls back with the caller transaction and refuses the impossible', async () => {
    env = await setup();
    await env.gw.claim('job-x', await env.gw.inspect(await token(env, 7)));
    await assert.rejects(env.db.tx(async (sql) => {
      await env!.gw.takeProofs(sql, 'job-x', 5);
      throw new Error('settle failed');
    }), /settle failed/);
    assert.equal(await env.gw.heldByJob('job-x'), 7);
    await assert.rejects(env.db.tx((sql) => env!.gw.takeProofs(sql, 'job-x', 8)));
    assert.equal(await env.gw.heldByJob('job-x'), 7);
  });

  it('input fees (100 ppk): claim holds amount − ceil(n·100/1000), change still exact', async () => {
    env = await setup(100);
    const proofs = await mintProofs(env, 200); // 200 = 128+64+8: 3 proofs
    const ins = await env.gw.inspect(getEncodedToken({ mint: env.url, unit: 'sat', proofs }));
    assert.equal(ins.inputFee, Math.ceil((proofs.length * 100) / 1000));
    const res = await env.gw.claim('job-fee', ins);
    assert.deepEqual(res, { amount: 200 - ins.inputFee, fee: ins.inputFee });
    assert.equal(await env.gw.heldByJob('job-fee'), res.amount);
    const change = 37;
    const out = await env.db.tx((sql) => env!.gw.takeProofs(sql, 'job-fee', change));
    const received = await env.client.receive(env.gw.encodeFor('B', ins.mint, out));
    const receiveFee = Math.ceil((out.length * 100) / 1000);
    assert.equal(received.reduce((s, p) => s + p.amount.toNumber(), 0), change - receiveFee);
  });

  it('a token that cannot cover its input fee → cashu_amount_too_low, no swap', async () => {
    env = await setup(1000);
    const ins = await env.gw.inspect(await token(env, 1));
    assert.equal(ins.inputFee, 1);
    assert.equal(await code(env.gw.claim('job-tiny', ins)), 'cashu_amount_too_low');
    assert.equal(swaps(env), 0);
  });

  it('recoverPending restores exactly the claimed sats after a crash between swap and store', async () => {
    env = await setup();
    const ins = await env.gw.inspect(await token(env, 77));
    const prepared = await env.gw.prepareClaim('job-crash', ins);
    const res = await fetch(`${env.url}/v1/swap`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(prepared.request),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer(); // the answer is lost: the process "crashes" here
    const recovered: Array<[string, number]> = [];
    const after = new GatewayWallet({ db: env.db, mints: [env.url], onRecovered: (job, sats) => recovered.push([job, sats]) });
    await after.init();
    assert.equal(await after.pendingOutputCount(), prepared.outputs.length);
    assert.equal(await after.recoverPending(), 77);
    assert.deepEqual(recovered, [['job-crash', 77]]);
    assert.equal(await after.heldByJob('job-crash'), 77);
    assert.equal(await after.recoverPending(), 0, 'idempotent');
    assert.equal(env.devmint.counters.get('POST /v1/restore'), 1);
    const out = await env.db.tx((sql) => after.takeProofs(sql, 'job-crash', 30));
    const received = await env.client.receive(after.encodeFor('A', ins.mint, out));
    assert.equal(received.reduce((s, p) => s + p.amount.toNumber(), 0), 30);
  });

  it('recoverPending marks never-sent outputs failed; the token stays spendable', async () => {
    env = await setup();
    const t = await token(env, 9);
    await env.gw.prepareClaim('job-never', await env.gw.inspect(t));
    const after = new GatewayWallet({ db: env.db, mints: [env.url] });
    assert.equal(await after.recoverPending(), 0);
    assert.equal(await after.pendingOutputCount(), 0);
    assert.equal(await after.heldBalance(), 0);
    const received = await env.client.receive(t);
    assert.equal(received.reduce((s, p) => s + p.amount.toNumber(), 0), 9);
  });

  it('8 parallel claims of one token: exactly one succeeds', async () => {
    env = await setup();
    const ins = await env.gw.inspect(await token(env, 64));
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => env!.gw.claim(`job-par-${i}`, ins)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1);
    for (const r of results) {
      if (r.status === 'rejected') {
        assert.ok(r.reason instanceof GatewayError);
        assert.ok(['cashu_token_spent', 'cashu_token_pending'].includes(r.reason.code), r.reason.code);
      }
    }
    assert.equal(await env.gw.heldBalance(), 64);
    assert.equal(await env.gw.pendingOutputCount(), 0);
  });

  it('keyset rotation: an unknown id reloads keysets once; a stale output keyset fails one claim only', async () => {
    env = await setup();
    const oldProofs = await mintProofs(env, 40); // old keyset, minted before the rotation
    const ins0 = await env.gw.inspect(await token(env, 3)); // caches the old keysets
    const gw2 = new GatewayWallet({ db: env.db, mints: [env.url], keysetRefreshMs: 0 });
    await gw2.inspect(ins0.raw); // gw2 caches the old keysets too
    // Rotate: same store, new fee → new active keyset; the old one stays known and spendable.
    await env.devmint.close();
    const port = Number(new URL(env.url).port);
    env.devmint = await createDevMint({ db: env.mintDb, inputFeePpk: 100, log: () => undefined });
    assert.equal(await env.devmint.listen(port), env.url);
    await new Promise((r) => setTimeout(r, 50)); // let pooled keep-alive sockets notice the restart

    // A token of the OLD keyset: known id, no reload; the cached output keyset is inactive now.
    const old = await env.gw.inspect(getEncodedToken({ mint: env.url, unit: 'sat', proofs: oldProofs }));
    assert.equal(await code(env.gw.claim('job-stale', old)), 'cashu_keyset_unknown');
    const again = await env.gw.inspect(old.raw); // the refused claim invalidated the cache: reload
    assert.deepEqual(await env.gw.claim('job-stale-2', again), { amount: 40, fee: 0 });

    // A token of the NEW keyset: unknown to gw2 → exactly one reload → accepted, new keyset's fee.
    const client = new Wallet(env.url, { unit: 'sat' });
    await client.loadMint();
    const fresh = await client.mintProofsBolt11(50, await client.createMintQuoteBolt11(50));
    const loads = env.devmint.counters.get('GET /v1/keysets') ?? 0;
    const ins = await gw2.inspect(getEncodedToken({ mint: env.url, unit: 'sat', proofs: fresh }));
    assert.equal((env.devmint.counters.get('GET /v1/keysets') ?? 0) - loads, 1);
    assert.equal(ins.inputFee, Math.ceil((fresh.length * 100) / 1000));
    assert.deepEqual(await gw2.claim('job-new', ins), { amount: 50 - ins.inputFee, fee: ins.inputFee });
  });

  it('a claim returns before unblinding: the signed outputs are held; takeProofs right after pays exactly', async () => {
    env = await setup();
    const gw = new GatewayWallet({ db: env.db, mints: [env.url], backgroundUnblinding: false });
    await gw.init();
    try {
      const ins = await gw.inspect(await token(env, 100));
      assert.deepEqual(await gw.claim('job-deferred', ins), { amount: 100, fee: 0 });
      assert.equal(await gw.signedOutputCount(), 9, '100 sats = 9 outputs, stored as signatures');
      assert.equal(await gw.pendingOutputCount(), 0);
      assert.equal(await proofRowsHeld(env.db, 'job-deferred'), 0, 'nothing unblinded on the request path');
      assert.equal(await gw.heldByJob('job-deferred'), 100, 'signed outputs count as held');
      assert.equal(await gw.heldBalance(), 100);

      const proofs = await env.db.tx((sql) => gw.takeProofs(sql, 'job-deferred', 37));
      assert.equal(proofs.reduce((n, p) => n + p.amount, 0), 37);
      assert.ok(proofs.every((p) => p.dleq?.r), 'change carries its DLEQ proof with r');
      assert.equal(await gw.signedOutputCount(), 0, 'takeProofs unblinded every output of the job');
      assert.equal(await proofRowsHeld(env.db, 'job-deferred'), 63);
      assert.equal(await gw.heldByJob('job-deferred'), 63);
      const received = await env.client.receive(gw.encodeFor('B', ins.mint, proofs));
      assert.equal(received.reduce((n, p) => n + p.amount.toNumber(), 0), 37);
      const rest = await env.db.tx((sql) => gw.takeProofs(sql, 'job-deferred', 63));
      const received2 = await env.client.receive(gw.encodeFor('A', ins.mint, rest));
      assert.equal(received2.reduce((n, p) => n + p.amount.toNumber(), 0), 63);
      assert.equal(await gw.heldBalance(), 0);
    } finally {
      await gw.close();
    }
  });

  it('prepareTake unblinds before the settle transaction and writes nothing; takeProofs then only stores the results', async () => {
    env = await setup();
    // The background would store the results itself: it starts only after the test. It also
    // takes turns with the blinding pool's refill, so the pool is filled first.
    const gw = new GatewayWallet({ db: env.db, mints: [env.url], backgroundDelayMs: 600_000 });
    await gw.init();
    await gw.whenIdle();
    try {
      const ins = await gw.inspect(await token(env, 100));
      await gw.claim('job-prep', ins);
      await gw.prepareTake('job-prep');
      assert.equal(await gw.signedOutputCount(), 9, 'nothing written: the outputs are still signed');
      assert.equal(await proofRowsHeld(env.db, 'job-prep'), 0);
      assert.equal(await gw.heldByJob('job-prep'), 100, 'held all along');
      // The stored signatures are not read again: takeProofs stores what prepareTake computed.
      await env.db.run(`UPDATE wallet_signatures SET c_ = ? WHERE b_ IN (SELECT b_ FROM wallet_outputs WHERE job_id = ?)`, ['02' + '11'.repeat(32), 'job-prep']);
      const out = await env.db.tx((sql) => gw.takeProofs(sql, 'job-prep', 61));
      assert.equal(await gw.signedOutputCount(), 0);
      assert.equal(await proofRowsHeld(env.db, 'job-prep'), 39);
      const received = await env.client.receive(gw.encodeFor('B', ins.mint, out));
      assert.equal(received.reduce((n, p) => n + p.amount.toNumber(), 0), 61);
    } finally {
      await gw.close();
    }
  });

  it('the background unblinds right after the claim; held stays exact throughout', async () => {
    env = await setup();
    const ins = await env.gw.inspect(await token(env, 1000));
    await env.gw.claim('job-bg', ins);
    assert.equal(await env.gw.heldByJob('job-bg'), 1000);
    await env.gw.whenIdle();
    assert.equal(await env.gw.signedOutputCount(), 0);
    assert.equal(await proofRowsHeld(env.db, 'job-bg'), 1000);
    assert.equal(await env.gw.heldByJob('job-bg'), 1000);
    const out = await env.db.tx((sql) => env!.gw.takeProofs(sql, 'job-bg', 999));
    const received = await env.client.receive(env.gw.encodeFor('B', ins.mint, out));
    assert.equal(received.reduce((n, p) => n + p.amount.toNumber(), 0), 999);
  });

  it('a process that dies after storing the signatures: the next one unblinds them at recoverPending, exactly once', async () => {
    env = await setup();
    const dying = new GatewayWallet({ db: env.db, mints: [env.url], backgroundUnblinding: false });
    const ins = await dying.inspect(await token(env, 100));
    await dying.claim('job-died', ins);
    await dying.close(); // "dies": the signatures are in the store, nothing unblinded
    assert.equal(await proofRowsHeld(env.db, 'job-died'), 0);

    const recovered: Array<[string, number]> = [];
    const next = new GatewayWallet({ db: env.db, mints: [env.url], onRecovered: (job, sats) => recovered.push([job, sats]) });
    await next.init();
    try {
      assert.equal(await next.heldByJob('job-died'), 100, 'held before anything is unblinded');
      assert.equal(await next.recoverPending(), 0, 'nothing to restore: the claim had completed');
      assert.deepEqual(recovered, [], 'held all along: not reported as recovered');
      assert.equal(await next.signedOutputCount(), 0);
      assert.equal(await proofRowsHeld(env.db, 'job-died'), 100);
      assert.equal(await next.heldByJob('job-died'), 100, 'not double counted');
      assert.equal(await next.recoverPending(), 0);
      assert.equal(await next.heldBalance(), 100, 'idempotent');
      assert.equal(env.devmint.counters.get('POST /v1/restore') ?? 0, 0, 'signed outputs are never restored');
      const out = await env.db.tx((sql) => next.takeProofs(sql, 'job-died', 100));
      const received = await env.client.receive(next.encodeFor('B', ins.mint, out));
      assert.equal(received.reduce((n, p) => n + p.amount.toNumber(), 0), 100);
    } finally {
      await next.close();
    }
  });

  it('a tampered signature (wrong C_) fails its DLEQ check, is reported, and is never paid out as change', async () => {
    env = await setup();
    // 100 sats → [1,1,2,4,4,8,16,32,32]: swap the C_ of the last 32 with the other 32's (a valid point).
    const mitm = await tamperingMint(env.url, (body) => {
      const sigs = body.signatures;
      sigs[sigs.length - 1]!.C_ = sigs[sigs.length - 2]!.C_;
    });
    for (const mode of ['background', 'prepared', 'in the settle transaction'] as const) {
      const background = mode !== 'in the settle transaction';
      const invalid: Array<[string, number]> = [];
      const gw: GatewayWallet = new GatewayWallet({ db: env.db, mints: [mitm.url], backgroundUnblinding: background, onInvalidSignatures: (j, s) => invalid.push([j, s]),
        ...(mode === 'prepared' && { backgroundDelayMs: 600_000 }) });
      await gw.init();
      const job = `job-tampered-${mode}`;
      try {
        const proofs = await mintProofs(env, 100);
        const ins = await gw.inspect(getEncodedToken({ mint: mitm.url, unit: 'sat', proofs }));
        assert.deepEqual(await gw.claim(job, ins), { amount: 100, fee: 0 }, 'detected after the claim, not on the request path');
        if (mode === 'background') await gw.whenIdle();
        if (mode === 'prepared') {
          await gw.prepareTake(job);
          assert.deepEqual(invalid, [], 'reported when stored, not when computed');
        }
        const change: WalletProof[] = await env.db.tx((sql) => gw.takeProofs(sql, job, 68));
        assert.deepEqual(invalid, [[job, 32]]);
        assert.equal(await gw.heldByJob(job), 0, 'the 32 sats of the bad signature are missing, not held');
        assert.equal(await env.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM wallet_outputs WHERE job_id = ? AND state = 'invalid'`, [job]).then((r) => Number(r?.n)), 1);
        assert.equal(change.reduce((n, p) => n + p.amount, 0), 68);
        // every proof handed out is good: the mint accepts all of them
        const received = await env.client.receive(getEncodedToken({ mint: env.url, unit: 'sat', proofs: change.map((p) => ({ ...p, amount: Amount.from(p.amount) })) }));
        assert.equal(received.reduce((n, p) => n + p.amount.toNumber(), 0), 68);
        await assert.rejects(env.db.tx((sql) => gw.takeProofs(sql, job, 1)), 'nothing left to pay out');
      } finally {
        await gw.close();
      }
    }
    await mitm.close();
  });
});
