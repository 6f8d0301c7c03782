// Persistence of the development mint through the gateway store (SQLite or PostgreSQL).
// Tables are prefixed devmint_. Contract: the seed, the keysets, the spent set (by Y), every blind
// signature (by B_) and the quotes survive restarts; spending and signing commit in one db.tx.
import { randomBytes } from 'node:crypto';
import type { Db, SqlExecutor, SqlValue } from '../store/db.js';
import type { BlindSignatureJson } from './crypto.js';
import type { KeysetParams } from './keys.js';
import { migrate, type MigrationSet } from '../store/migrate.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devmint_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devmint_keysets (
  id TEXT PRIMARY KEY, unit TEXT NOT NULL, input_fee_ppk BIGINT NOT NULL, max_order BIGINT NOT NULL,
  active BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS devmint_spent (
  y TEXT PRIMARY KEY, keyset_id TEXT NOT NULL, amount BIGINT NOT NULL, spent_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS devmint_signatures (
  b_ TEXT PRIMARY KEY, keyset_id TEXT NOT NULL, amount BIGINT NOT NULL, c_ TEXT NOT NULL,
  dleq_e TEXT NOT NULL, dleq_s TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS devmint_mint_quotes (
  quote TEXT PRIMARY KEY, request TEXT NOT NULL, amount BIGINT NOT NULL, unit TEXT NOT NULL,
  state TEXT NOT NULL, expiry BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS devmint_melt_quotes (
  quote TEXT PRIMARY KEY, request TEXT NOT NULL, amount BIGINT NOT NULL, fee_reserve BIGINT NOT NULL,
  unit TEXT NOT NULL, state TEXT NOT NULL, expiry BIGINT NOT NULL, payment_preimage TEXT,
  change TEXT, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS devmint_melt_quotes_request ON devmint_melt_quotes (request);
`;

/** Schema versions of devmint_* (src/store/migrate.ts: never edit a released one, append). */
export const DEVMINT_MIGRATIONS: MigrationSet = {
  owner: 'devmint',
  migrations: [{ version: 1, name: 'first schema', up: SCHEMA }],
};

export interface KeysetRow extends KeysetParams {
  id: string;
  active: boolean;
}
export interface MintQuoteRow {
  quote: string;
  request: string;
  amount: number;
  unit: string;
  state: 'UNPAID' | 'PAID' | 'ISSUED';
  expiry: number;
}
export interface MeltQuoteRow {
  quote: string;
  request: string;
  amount: number;
  fee_reserve: number;
  unit: string;
  state: 'UNPAID' | 'PENDING' | 'PAID';
  expiry: number;
  payment_preimage: string | null;
  change: BlindSignatureJson[] | null;
}
/** What one transaction spends (inputs by Y) and signs (outputs by B_). */
export interface SpendAndSign {
  inputs: ReadonlyArray<{ y: string; keysetId: string; amount: number }>;
  outputs: ReadonlyArray<{ B_: string; sig: BlindSignatureJson }>;
}

const now = (): number => Math.floor(Date.now() / 1000);
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(',');
export const newQuoteId = (): string => randomBytes(16).toString('hex');

export class DevMintRepository {
  constructor(readonly db: Db) {}

  async migrate(): Promise<void> {
    await migrate(this.db, [DEVMINT_MIGRATIONS]);
  }

  /** The stored master seed, created once (first writer wins, also across replicas). */
  async seedHex(generate: () => string): Promise<string> {
    const sql = 'INSERT INTO devmint_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING';
    await this.db.run(sql, ['seed', generate()]);
    const row = await this.db.get<{ value: string }>('SELECT value FROM devmint_meta WHERE key = ?', ['seed']);
    if (!row) throw new Error('devmint: seed could not be stored');
    return row.value;
  }

  async keysets(): Promise<KeysetRow[]> {
    const rows = await this.db.all<{ id: string; unit: string; input_fee_ppk: number; max_order: number; active: number }>(
      'SELECT id, unit, input_fee_ppk, max_order, active FROM devmint_keysets ORDER BY created_at, id');
    return rows.map((r) => ({
      id: r.id, unit: r.unit, inputFeePpk: Number(r.input_fee_ppk), maxOrder: Number(r.max_order), active: Number(r.active) === 1,
    }));
  }

  /** Makes `id` the only active keyset of its unit (older ones stay, inactive, for spending). */
  async activateKeyset(k: KeysetRow): Promise<void> {
    await this.db.tx(async (sql) => {
      await sql.run('UPDATE devmint_keysets SET active = 0 WHERE unit = ? AND id <> ?', [k.unit, k.id]);
      await sql.run(
        'INSERT INTO devmint_keysets (id, unit, input_fee_ppk, max_order, active, created_at) VALUES (?, ?, ?, ?, 1, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET active = 1', [k.id, k.unit, k.inputFeePpk, k.maxOrder, now()]);
    });
  }

  async spentYs(sql: SqlExecutor, ys: readonly string[]): Promise<Set<string>> {
    if (ys.length === 0) return new Set();
    const rows = await sql.all<{ y: string }>(`SELECT y FROM devmint_spent WHERE y IN (${marks(ys.length)})`, ys);
    return new Set(rows.map((r) => r.y));
  }

  async signedBs(sql: SqlExecutor, bs: readonly string[]): Promise<Set<string>> {
    if (bs.length === 0) return new Set();
    const rows = await sql.all<{ b_: string }>(`SELECT b_ FROM devmint_signatures WHERE b_ IN (${marks(bs.length)})`, bs);
    return new Set(rows.map((r) => r.b_));
  }

  /** Inside a tx: records the inputs as spent and the signatures as issued. Caller checked both sets. */
  async spendAndSign(sql: SqlExecutor, op: SpendAndSign): Promise<void> {
    const t = now();
    for (const i of op.inputs) {
      await sql.run('INSERT INTO devmint_spent (y, keyset_id, amount, spent_at) VALUES (?, ?, ?, ?)', [i.y, i.keysetId, i.amount, t]);
    }
    for (const o of op.outputs) {
      const s = o.sig;
      await sql.run(
        'INSERT INTO devmint_signatures (b_, keyset_id, amount, c_, dleq_e, dleq_s, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [o.B_, s.id, s.amount, s.C_, s.dleq.e, s.dleq.s, t]);
    }
  }

  /** Stored signatures by B_ (NUT-09 restore). */
  async signaturesFor(bs: readonly string[]): Promise<Map<string, BlindSignatureJson>> {
    const out = new Map<string, BlindSignatureJson>();
    for (let i = 0; i < bs.length; i += 500) {
      const chunk = bs.slice(i, i + 500);
      const rows = await this.db.all<{ b_: string; keyset_id: string; amount: number; c_: string; dleq_e: string; dleq_s: string }>(
        `SELECT b_, keyset_id, amount, c_, dleq_e, dleq_s FROM devmint_signatures WHERE b_ IN (${marks(chunk.length)})`, chunk);
      for (const r of rows) {
        out.set(r.b_, { id: r.keyset_id, amount: Number(r.amount), C_: r.c_, dleq: { e: r.dleq_e, s: r.dleq_s } });
      }
    }
    return out;
  }

  async spentAmong(ys: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ys.length; i += 500) {
      for (const y of await this.spentYs(this.db, ys.slice(i, i + 500))) out.add(y);
    }
    return out;
  }

  async insertMintQuote(q: MintQuoteRow): Promise<void> {
    await this.db.run(
      'INSERT INTO devmint_mint_quotes (quote, request, amount, unit, state, expiry, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [q.quote, q.request, q.amount, q.unit, q.state, q.expiry, now()]);
  }

  async mintQuote(sql: SqlExecutor, quote: string): Promise<MintQuoteRow | undefined> {
    const r = await sql.get<Record<string, SqlValue>>(
      'SELECT quote, request, amount, unit, state, expiry FROM devmint_mint_quotes WHERE quote = ?', [quote]);
    if (!r) return undefined;
    return {
      quote: String(r.quote), request: String(r.request), amount: Number(r.amount), unit: String(r.unit),
      state: String(r.state) as MintQuoteRow['state'], expiry: Number(r.expiry),
    };
  }

  /** PAID → ISSUED; false when the quote was not PAID (any more). */
  async markMintQuoteIssued(sql: SqlExecutor, quote: string): Promise<boolean> {
    return (await sql.run("UPDATE devmint_mint_quotes SET state = 'ISSUED' WHERE quote = ? AND state = 'PAID'", [quote])) === 1;
  }

  async insertMeltQuote(q: MeltQuoteRow): Promise<void> {
    await this.db.run(
      'INSERT INTO devmint_melt_quotes (quote, request, amount, fee_reserve, unit, state, expiry, payment_preimage, change, created_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [q.quote, q.request, q.amount, q.fee_reserve, q.unit, q.state, q.expiry, q.payment_preimage, null, now()]);
  }

  async meltQuote(sql: SqlExecutor, quote: string): Promise<MeltQuoteRow | undefined> {
    const r = await sql.get<Record<string, SqlValue>>(
      'SELECT quote, request, amount, fee_reserve, unit, state, expiry, payment_preimage, change FROM devmint_melt_quotes WHERE quote = ?',
      [quote]);
    if (!r) return undefined;
    return {
      quote: String(r.quote), request: String(r.request), amount: Number(r.amount), fee_reserve: Number(r.fee_reserve),
      unit: String(r.unit), state: String(r.state) as MeltQuoteRow['state'], expiry: Number(r.expiry),
      payment_preimage: r.payment_preimage === null ? null : String(r.payment_preimage),
      change: r.change === null ? null : (JSON.parse(String(r.change)) as BlindSignatureJson[]),
    };
  }

  /** True when another quote already paid this invoice. */
  async invoicePaid(sql: SqlExecutor, request: string): Promise<boolean> {
    const r = await sql.get("SELECT quote FROM devmint_melt_quotes WHERE request = ? AND state = 'PAID'", [request]);
    return r !== undefined;
  }

  /** UNPAID → PAID with preimage and change; false when the quote was not UNPAID (any more). */
  async markMeltQuotePaid(sql: SqlExecutor, quote: string, preimage: string | null, change: BlindSignatureJson[]): Promise<boolean> {
    const n = await sql.run(
      "UPDATE devmint_melt_quotes SET state = 'PAID', payment_preimage = ?, change = ? WHERE quote = ? AND state = 'UNPAID'",
      [preimage, JSON.stringify(change), quote]);
    return n === 1;
  }
}
