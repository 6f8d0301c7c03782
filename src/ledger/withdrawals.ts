import type { Db, SqlExecutor } from '../store/db.js';
import { migrate, type MigrationSet } from '../store/migrate.js';

// The journal of withdrawals: an account ('gateway' or 'provider:<id>', see jobs.ts) takes its
// balance out as ecash or over Lightning. A withdrawal that needs the mint (a swap, a melt) is
// opened 'swapping'/'melting' in the transaction that reserves its proofs, and closed 'done' (the
// balance debited) or 'failed' (the balance whole) in the transaction that records what the mint
// did. An exact withdrawal (proofs handed over as they are) is opened 'done' in one transaction.
//
// MUST hold:
// - available(account) = balance − Σ hold of the account's withdrawals in flight: two withdrawals
//   never spend the same sats, whether or not the first has reached the mint yet;
// - a balance is only debited in the transaction that marks the withdrawn proofs sent;
// - tokens of withdrawals are bearer money: kept for the owner to fetch again, never logged.

export const WITHDRAWALS_SCHEMA = `
CREATE TABLE IF NOT EXISTS withdrawals (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  mint TEXT NOT NULL,
  amount_sats BIGINT NOT NULL,
  hold_sats BIGINT NOT NULL,
  debited_sats BIGINT NOT NULL DEFAULT 0,
  fee_sats BIGINT NOT NULL DEFAULT 0,
  quote TEXT,
  invoice TEXT,
  preimage TEXT,
  token TEXT,
  format TEXT,
  error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS withdrawals_account ON withdrawals (account, created_at);
CREATE INDEX IF NOT EXISTS withdrawals_state ON withdrawals (state);
`;

/** Schema versions of withdrawals (src/store/migrate.ts: never edit a released one, append). */
export const WITHDRAWALS_MIGRATIONS: MigrationSet = {
  owner: 'withdrawals',
  migrations: [{ version: 1, name: 'first schema', up: WITHDRAWALS_SCHEMA }],
};

export type WithdrawalKind = 'ecash' | 'lightning';
/** 'swapping' / 'melting': at the mint (in flight); 'done': paid and debited; 'failed': nothing debited but fees of a spend that happened. */
export type WithdrawalState = 'swapping' | 'melting' | 'done' | 'failed';
export const IN_FLIGHT: readonly WithdrawalState[] = ['swapping', 'melting'];

export interface WithdrawalRow {
  [k: string]: string | number | null;
  id: string;
  account: string;
  kind: WithdrawalKind;
  state: WithdrawalState;
  mint: string;
  /** ecash: the token's value; lightning: the invoice's amount */
  amount_sats: number;
  /** what available() holds back while in flight: amount + the most the fees can be */
  hold_sats: number;
  /** what the balance lost: amount + fees (done), fees of a spend that happened (failed), else 0 */
  debited_sats: number;
  fee_sats: number;
  quote: string | null;
  invoice: string | null;
  preimage: string | null;
  token: string | null;
  format: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export type NewWithdrawal = Pick<WithdrawalRow, 'id' | 'account' | 'kind' | 'state' | 'mint' | 'amount_sats' | 'hold_sats'> &
  Partial<Pick<WithdrawalRow, 'debited_sats' | 'fee_sats' | 'quote' | 'invoice' | 'token' | 'format'>>;

export class InsufficientBalanceError extends Error {
  constructor(readonly account: string, readonly available: number, readonly wanted: number) {
    super(`${account} has ${available} sats available, ${wanted} wanted`);
    this.name = 'InsufficientBalanceError';
  }
}

const num = (v: unknown): number => Number(v ?? 0);
const IN_FLIGHT_SQL = `('swapping', 'melting')`;

/**
 * Takes `sats` off an account's balance. Guarded (the default): throws InsufficientBalanceError
 * rather than going below zero. Unguarded: for recording what a spend that happened cost, which
 * must be recorded whatever it is (the hold made it fit; only a misbehaving mint makes it not).
 */
export async function debit(sql: SqlExecutor, account: string, sats: number, guarded = true): Promise<void> {
  if (!Number.isSafeInteger(sats) || sats < 0) throw new RangeError(`debit: bad amount ${sats}`);
  if (sats === 0) return;
  const n = guarded
    ? await sql.run(`UPDATE balances SET balance_sats = balance_sats - ? WHERE account = ? AND balance_sats >= ?`, [sats, account, sats])
    : await sql.run(`UPDATE balances SET balance_sats = balance_sats - ? WHERE account = ?`, [sats, account]);
  if (n === 1) return;
  if (guarded) {
    const row = await sql.get<{ b: number }>(`SELECT balance_sats AS b FROM balances WHERE account = ?`, [account]);
    throw new InsufficientBalanceError(account, num(row?.b), sats);
  }
  await sql.run(`INSERT INTO balances (account, balance_sats, earned_sats, jobs) VALUES (?, ?, 0, 0)`, [account, -sats]);
}

export class WithdrawalsRepo {
  constructor(private readonly db: Db) {}

  async init(): Promise<void> {
    await migrate(this.db, [WITHDRAWALS_MIGRATIONS]);
  }

  /** Balance minus what the account's withdrawals in flight hold back. */
  async available(sql: SqlExecutor, account: string): Promise<number> {
    const row = await sql.get<{ b: number | null; h: number | null }>(
      `SELECT (SELECT balance_sats FROM balances WHERE account = ?) AS b,
              (SELECT CAST(COALESCE(SUM(hold_sats), 0) AS BIGINT) FROM withdrawals WHERE account = ? AND state IN ${IN_FLIGHT_SQL}) AS h`,
      [account, account],
    );
    return num(row?.b) - num(row?.h);
  }

  async open(sql: SqlExecutor, w: NewWithdrawal, now = Date.now()): Promise<void> {
    await sql.run(
      `INSERT INTO withdrawals (id, account, kind, state, mint, amount_sats, hold_sats, debited_sats, fee_sats, quote, invoice, token, format, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [w.id, w.account, w.kind, w.state, w.mint, w.amount_sats, w.hold_sats, w.debited_sats ?? 0, w.fee_sats ?? 0, w.quote ?? null, w.invoice ?? null, w.token ?? null, w.format ?? null, now, now],
    );
  }

  /** Inside the spend's transaction: debits the account and closes the withdrawal 'done'. */
  async complete(sql: SqlExecutor, id: string, r: { debited: number; fee: number; token?: string | null; preimage?: string | null }, now = Date.now()): Promise<WithdrawalRow> {
    return this.close(sql, id, 'done', { ...r, error: null }, now);
  }

  /** Inside the spend's transaction: closes the withdrawal 'failed', debiting only what the mint kept (fees of a spend that happened). */
  async fail(sql: SqlExecutor, id: string, error: string, debited = 0, now = Date.now()): Promise<WithdrawalRow> {
    return this.close(sql, id, 'failed', { debited, fee: debited, error }, now);
  }

  private async close(sql: SqlExecutor, id: string, state: 'done' | 'failed', r: { debited: number; fee: number; token?: string | null; preimage?: string | null; error: string | null }, now: number): Promise<WithdrawalRow> {
    const w = await sql.get<WithdrawalRow>(`SELECT * FROM withdrawals WHERE id = ?`, [id]);
    if (!w || !IN_FLIGHT.includes(w.state)) throw new Error(`withdrawal ${id} is not in flight`);
    await debit(sql, w.account, r.debited, false);
    await sql.run(
      `UPDATE withdrawals SET state = ?, debited_sats = ?, fee_sats = ?, token = ?, preimage = ?, error = ?, updated_at = ? WHERE id = ? AND state IN ${IN_FLIGHT_SQL}`,
      [state, r.debited, r.fee, r.token ?? null, r.preimage ?? null, r.error, now, id],
    );
    return { ...w, state, debited_sats: r.debited, fee_sats: r.fee, token: r.token ?? null, preimage: r.preimage ?? null, error: r.error, updated_at: now };
  }

  get(id: string, sql: SqlExecutor = this.db): Promise<WithdrawalRow | undefined> {
    return sql.get<WithdrawalRow>(`SELECT * FROM withdrawals WHERE id = ?`, [id]);
  }

  /** The account's withdrawals, newest first. */
  list(account: string, limit = 50): Promise<WithdrawalRow[]> {
    return this.db.all<WithdrawalRow>(`SELECT * FROM withdrawals WHERE account = ? ORDER BY created_at DESC, id LIMIT ?`, [account, limit]);
  }

  /** Withdrawals at the mint opened at or before `before` (ms), oldest first. */
  inFlight(before = Date.now()): Promise<WithdrawalRow[]> {
    return this.db.all<WithdrawalRow>(`SELECT * FROM withdrawals WHERE state IN ${IN_FLIGHT_SQL} AND created_at <= ? ORDER BY created_at, id`, [before]);
  }

  /** Σ debited per account (done and failed), and what is held back in flight. */
  async totals(sql: SqlExecutor = this.db): Promise<{ account: string; withdrawn: number; held: number; count: number }[]> {
    const rows = await sql.all<{ account: string; w: number; h: number; n: number }>(
      `SELECT account, CAST(SUM(CASE WHEN state IN ${IN_FLIGHT_SQL} THEN 0 ELSE debited_sats END) AS BIGINT) AS w,
              CAST(SUM(CASE WHEN state IN ${IN_FLIGHT_SQL} THEN hold_sats ELSE 0 END) AS BIGINT) AS h,
              CAST(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS BIGINT) AS n
       FROM withdrawals GROUP BY account ORDER BY account`,
    );
    return rows.map((r) => ({ account: r.account, withdrawn: num(r.w), held: num(r.h), count: num(r.n) }));
  }

  /** Σ debited from the account by closed withdrawals (done and failed). */
  async withdrawn(sql: SqlExecutor, account: string): Promise<number> {
    const row = await sql.get(`SELECT CAST(SUM(debited_sats) AS BIGINT) AS s FROM withdrawals WHERE account = ? AND state IN ('done', 'failed')`, [account]);
    return num(row?.s);
  }

  /** Forgets withdrawn tokens closed before `before` (the owner had that long to fetch them again). */
  expireTokens(before: number): Promise<number> {
    return this.db.run(`UPDATE withdrawals SET token = NULL WHERE token IS NOT NULL AND state = 'done' AND updated_at < ?`, [before]);
  }
}
