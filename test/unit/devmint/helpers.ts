// Shared setup for the development-mint tests: a mint on an ephemeral port with a real cashu-ts
// Wallet, raw HTTP helpers for protocol-level checks, and the NUT fixtures.
import { readFileSync } from 'node:fs';
import { OutputData, Wallet, type HasKeysetKeys, type Proof } from '@cashu/cashu-ts';
import type { Db } from '../../../src/store/db.js';
import { openDb } from '../../../src/store/open.js';
import { createDevMint, type DevMint, type DevMintOptions } from '../../../src/devmint/index.js';

export interface Running {
  mint: DevMint;
  db: Db;
  url: string;
  wallet: Wallet;
  logs: string[];
  close(): Promise<void>;
}

/** A listening development mint on a fresh in-memory (or given) store and a loaded Wallet. */
export async function startMint(opts: Partial<DevMintOptions> & { dbUrl?: string } = {}): Promise<Running> {
  const db = opts.db ?? (await openDb(opts.dbUrl ?? 'sqlite::memory:'));
  const logs: string[] = [];
  const mint = await createDevMint({ ...opts, db, log: (m) => logs.push(m) });
  const url = await mint.listen(0);
  const wallet = new Wallet(url);
  await wallet.loadMint();
  return {
    mint, db, url, wallet, logs,
    async close() {
      await mint.close();
      await db.close();
    },
  };
}

/** Mints `amount` fresh sats into proofs of `wallet` (quote is paid at once by the fake backend). */
export async function fund(wallet: Wallet, amount: number): Promise<Proof[]> {
  const quote = await wallet.createMintQuoteBolt11(amount);
  return wallet.mintProofsBolt11(amount, quote);
}

export function total(proofs: ReadonlyArray<{ amount: { toNumber(): number } | number }>): number {
  return proofs.reduce((s, p) => s + (typeof p.amount === 'number' ? p.amount : p.amount.toNumber()), 0);
}

/** Proofs as the NUT JSON wire format (numbers, not Amount objects). */
export function wire(proofs: readonly Proof[]): Array<{ id: string; amount: number; secret: string; C: string }> {
  return proofs.map((p) => ({ id: p.id, amount: p.amount.toNumber(), secret: p.secret, C: p.C }));
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
}

export async function post(url: string, path: string, body: unknown, raw?: string): Promise<HttpResult> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function get(url: string, path: string): Promise<HttpResult> {
  const res = await fetch(url + path);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Expects a NUT-00 error: HTTP 400 {"detail": string, "code": code}. */
export function isNutError(r: HttpResult, code: number): boolean {
  return r.status === 400 && typeof r.body?.detail === 'string' && r.body?.code === code;
}

export function fixture<T = any>(name: string): T { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(readFileSync(new URL(`../../fixtures/nuts/${name}`, import.meta.url), 'utf8')) as T;
}

/** Fresh blinded outputs worth `amount` on `keyset` (random secrets), plus their wire form. */
export function blind(amount: number, keyset: HasKeysetKeys, split?: number[]): { data: OutputData[]; wire: WireOutput[] } {
  const data = OutputData.createRandomData(amount, keyset, split);
  return {
    data,
    wire: data.map((d) => ({ id: d.blindedMessage.id, amount: d.blindedMessage.amount.toNumber(), B_: d.blindedMessage.B_ })),
  };
}
export interface WireOutput {
  id: string;
  amount: number;
  B_: string;
}
