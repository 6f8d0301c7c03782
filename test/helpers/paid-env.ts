import { Wallet, getDecodedToken, type Proof } from '@cashu/cashu-ts';
import { createDevMint, mintToken, type DevMint } from '../../src/devmint/index.js';
import type { Gateway } from '../../src/gateway.js';
import type { Db } from '../../src/store/db.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { startTestGateway } from './gateway.js';
import { startSimulator, type SimOptions, type Simulator } from './simulators/index.js';

/** Prices that make the arithmetic easy to check: a completion token costs 1 sat, a prompt token 0.1 sat. */
export const TEST_PRICING = {
  margins: { inference: 0.09, fx: 0.01 },
  models: { 'sim-vllm': { per_m_input_usd: 100, per_m_output_usd: 1000 }, 'sim-ollama': { per_m_input_usd: 100, per_m_output_usd: 1000 }, 'sim-llamacpp': { per_m_input_usd: 100, per_m_output_usd: 1000 } },
  default: { per_m_input_usd: 100, per_m_output_usd: 1000 },
};

export interface PaidEnvOptions {
  sim?: SimOptions;
  /** Extra or replaced gateway config keys. */
  config?: Record<string, unknown>;
  /** Extra keys of the simulator's backend entry (e.g. trustUsage). */
  node?: Record<string, unknown>;
  inputFeePpk?: number;
  /** Gateway store (default: in-memory). */
  db?: Db;
  /** The clock the gateway's plugins read (default: Date.now). */
  now?: () => number;
  /** Reuse a running mint instead of starting one. */
  mint?: DevMint;
}

export interface Books {
  /** Sats in the gateway's held proofs. */
  held: number;
  gateway: number;
  providers: number;
  /** Held for jobs not settled yet. */
  pending: number;
}

/** A dev mint (its own store), a backend simulator and a paying gateway in front of it. */
export class PaidEnv {
  private constructor(
    readonly mint: DevMint,
    readonly mintUrl: string,
    readonly sim: Simulator,
    public gw: Gateway,
    readonly client: Wallet,
    private readonly ownsMint: boolean,
  ) {}

  static async start(opts: PaidEnvOptions = {}): Promise<PaidEnv> {
    const mint = opts.mint ?? (await createDevMint({ db: new SqliteDb(':memory:'), inputFeePpk: opts.inputFeePpk ?? 0, log: () => undefined }));
    const mintUrl = mint.url ?? (await mint.listen(0));
    const sim = await startSimulator(opts.sim ?? { kind: 'vllm', tokens: 30 });
    const gw = await startTestGateway(PaidEnv.config(sim, mintUrl, opts.config, opts.node), { ...(opts.db ? { db: opts.db } : {}), ...(opts.now ? { now: opts.now } : {}) });
    const client = new Wallet(mintUrl);
    await client.loadMint();
    return new PaidEnv(mint, mintUrl, sim, gw, client, !opts.mint);
  }

  static config(sim: Simulator, mintUrl: string, extra: Record<string, unknown> = {}, node: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      plugins: ['auth', 'payment', 'metering', 'change'],
      backends: [{ id: 'node-1', kind: sim.kind, url: sim.url, provider: 'alice', ...node }],
      providers: [{ id: 'alice', key: 'alice-key' }],
      payment: { mints: [mintUrl], minSatsPerJob: 2 },
      pricing: TEST_PRICING,
      ...extra,
    };
  }

  get model(): string {
    return this.sim.options.models?.[0] ?? `sim-${this.sim.kind}`;
  }

  /** A fresh token of `sats` from the dev mint, V4 (cashuB) unless version 3. */
  async token(sats: number, version: 3 | 4 = 4): Promise<string> {
    return (await mintToken(this.mintUrl, sats, { version, wallet: this.client })).token;
  }

  swaps(): number {
    return this.mint.counters.get('POST /v1/swap') ?? 0;
  }

  /** Receives a change token into the client wallet (a swap at the mint); returns the sats received. */
  async redeem(token: string): Promise<number> {
    if (!token) return 0;
    const proofs: Proof[] = await this.client.receive(token);
    return proofs.reduce((n, p) => n + Number(p.amount), 0);
  }

  /** Whether every proof of the token is still unspent at the mint. */
  async spendable(token: string): Promise<boolean> {
    const decoded = getDecodedToken(token, [...(await this.client.keyChain.getKeysets()).map((k) => k.id)]);
    const states = await this.client.checkProofsStates(decoded.proofs);
    return states.every((s) => s.state === 'UNSPENT');
  }

  async books(): Promise<Books> {
    const db = this.gw.db;
    const one = async (sql: string) => Number((await db.get<{ s: number | null }>(sql))?.s ?? 0);
    return {
      // held proofs, plus claim outputs whose signatures are stored but not unblinded yet
      held: (await one(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held'`)) + (await one(`SELECT SUM(amount) AS s FROM wallet_outputs WHERE state = 'signed'`)),
      gateway: await one(`SELECT SUM(balance_sats) AS s FROM balances WHERE account = 'gateway'`),
      providers: await one(`SELECT SUM(balance_sats) AS s FROM balances WHERE account LIKE 'provider:%'`),
      pending: await one(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`),
    };
  }

  /** The invariant of the money rules: every held sat belongs to the gateway, a provider, or a running job. */
  async assertBooksBalance(): Promise<Books> {
    const b = await this.books();
    if (b.held !== b.gateway + b.providers + b.pending) {
      throw new Error(`books do not add up: held ${b.held} ≠ gateway ${b.gateway} + providers ${b.providers} + pending ${b.pending}`);
    }
    return b;
  }

  async close(): Promise<void> {
    await this.gw.shutdown(0);
    await this.sim.close();
    if (this.ownsMint) await this.mint.close();
  }
}
