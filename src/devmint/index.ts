// The development mint embedded in the gateway: a Cashu mint (NUT-00..09, 12) with a fake Lightning
// backend, persisted in the gateway store. Its sats are NOT real money, and it says so loudly.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db.js';
import { NOT_REAL_MONEY, info, keysetInfo, keysetKeys } from './info.js';
import { UNIT, deriveKeyset, mintPubkey, seedFromHex, validateParams, type MintKeyset } from './keys.js';
import { Ledger } from './ledger.js';
import { DEFAULT_FEE_RESERVE, createMeltQuote, getMeltQuote, melt, type FeeReserve } from './melt.js';
import { createMintQuote, getMintQuote, mintTokens, type QuoteLimits } from './mint-quotes.js';
import { DevMintRepository } from './repository.js';
import { Router, type ServerState } from './server.js';
import { Code, MintError } from './errors.js';
import { checkState, restore } from './state.js';
import { swap } from './swap.js';

export { createFakeInvoice, decodeInvoice } from './lightning.js';
export { MintError } from './errors.js';
export { encodeToken, encodeTokenV3, mintToken } from './tokens.js';

export interface DevMintOptions {
  db: Db; // tables prefixed devmint_
  inputFeePpk?: number; // default 0
  seed?: string; // hex; when absent, one is generated once and persisted in the db (so restarts keep keys)
  log?: (msg: string) => void; // default console.warn; the not-real-money banner goes through it
  maxOrder?: number; // keyset amounts 2^0..2^(maxOrder-1), default 32 (at most 53)
  /** NUT-05 fee_reserve = max(minSats, ceil(amount × ppk / 1000)); default { minSats: 2, ppk: 10 } (2 sat or 1%) */
  meltFeeReserve?: FeeReserve;
  /** mint/melt quote expiry in seconds, default 3600 */
  quoteTtlSeconds?: number;
  /** NUT-06 name, default "Owlrun development mint (NOT REAL MONEY)" */
  name?: string;
}

export interface DevMint {
  readonly keysetId: string;
  /** node:http request handler; serves the NUT REST API under /v1/... */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** starts an own http server on host:port (port 0 = ephemeral); resolves to its base URL, e.g. http://127.0.0.1:3338 */
  listen(port: number, host?: string): Promise<string>;
  readonly url: string | undefined; // after listen
  /**
   * per "METHOD /path" request counters (e.g. "POST /v1/swap"), so tests can count mint round trips.
   * Paths with an id are counted by pattern: "GET /v1/keys/{id}", "GET /v1/mint/quote/bolt11/{id}".
   */
  readonly counters: Map<string, number>;
  /** test knob: when true every request is answered by destroying the socket (mint down; not counted) */
  down: boolean;
  close(): Promise<void>;
}

/** Loads (or creates) the seed and keysets from the store, then serves. Logs the not-real-money banner. */
export async function createDevMint(opts: DevMintOptions): Promise<DevMint> {
  const log = opts.log ?? ((m: string) => console.warn(m));
  const params = { unit: UNIT, inputFeePpk: opts.inputFeePpk ?? 0, maxOrder: opts.maxOrder ?? 32 };
  validateParams(params);
  const repo = new DevMintRepository(opts.db);
  await repo.migrate();
  const seed = seedFromHex(opts.seed ?? (await repo.seedHex(() => randomBytes(32).toString('hex'))));

  // The configured keyset is the active one; every keyset this store ever had stays spendable.
  const active = deriveKeyset(seed, params, true);
  await repo.activateKeyset({ ...params, id: active.id, active: true });
  const keysets = new Map<string, MintKeyset>([[active.id, active]]);
  for (const row of await repo.keysets()) {
    if (row.id === active.id) continue;
    const k = deriveKeyset(seed, row, false);
    if (k.id === row.id) keysets.set(k.id, k);
    else log(`[devmint] keyset ${row.id} does not derive from this seed; its proofs cannot be redeemed here`);
  }

  const limits: QuoteLimits = {
    minAmount: 1,
    maxAmount: Math.min(2 ** params.maxOrder - 1, Number.MAX_SAFE_INTEGER),
    ttlSeconds: opts.quoteTtlSeconds ?? 3600,
  };
  const fees = opts.meltFeeReserve ?? DEFAULT_FEE_RESERVE;
  if (!Number.isSafeInteger(fees.minSats) || fees.minSats < 0 || !Number.isSafeInteger(fees.ppk) || fees.ppk < 0) {
    throw new Error('devmint: meltFeeReserve needs non-negative integers minSats and ppk');
  }
  const ledger = new Ledger(repo, keysets);
  const infoParams = { name: opts.name ?? 'Owlrun development mint (NOT REAL MONEY)', pubkey: mintPubkey(seed), limits };
  const listed = (): MintKeyset[] => [...keysets.values()];

  const router = new Router()
    .get('/v1/info', () => info(infoParams))
    .get('/v1/keys', () => ({ keysets: listed().filter((k) => k.active).map(keysetKeys) }))
    .get('/v1/keys/{}', ({ param }) => {
      const k = keysets.get(param);
      if (!k) throw new MintError(Code.KEYSET_UNKNOWN, 'keyset is not known');
      return { keysets: [keysetKeys(k)] };
    })
    .get('/v1/keysets', () => ({ keysets: listed().map(keysetInfo) }))
    .post('/v1/swap', ({ body }) => swap(ledger, body))
    .post('/v1/mint/quote/bolt11', ({ body }) => createMintQuote(repo, limits, body))
    .get('/v1/mint/quote/bolt11/{}', ({ param }) => getMintQuote(repo, param))
    .post('/v1/mint/bolt11', ({ body }) => mintTokens(repo, ledger, body))
    .post('/v1/melt/quote/bolt11', ({ body }) => createMeltQuote(repo, limits, fees, body))
    .get('/v1/melt/quote/bolt11/{}', ({ param }) => getMeltQuote(repo, param))
    .post('/v1/melt/bolt11', ({ body }) => melt(repo, ledger, body))
    .post('/v1/checkstate', ({ body }) => checkState(repo, body))
    .post('/v1/restore', ({ body }) => restore(repo, body));

  let server: http.Server | undefined;
  let url: string | undefined;
  const state: ServerState = { down: false, counters: new Map(), log };
  const handle = router.handler(state);

  const rule = '!'.repeat(NOT_REAL_MONEY.length);
  for (const line of [rule, NOT_REAL_MONEY, rule]) log(`[devmint] ${line}`);
  log(`[devmint] keyset ${active.id} (unit sat, input_fee_ppk ${active.inputFeePpk}); ${keysets.size} keyset(s) known`);

  const mint: DevMint = {
    keysetId: active.id,
    handle,
    counters: state.counters,
    get url() {
      return url;
    },
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    async listen(port: number, host = '127.0.0.1'): Promise<string> {
      if (server) throw new Error('devmint: already listening');
      const s = http.createServer(handle);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      const addr = s.address() as AddressInfo;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
      log(`[devmint] listening on ${url} (NOT REAL MONEY)`);
      return url;
    },
    async close(): Promise<void> {
      const s = server;
      server = undefined;
      url = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
  return mint;
}
