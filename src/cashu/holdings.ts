// The gateway's proofs and the blinded outputs of its swaps, in the store (tables `wallet_*`).
//
// MUST hold:
// - a proof row's state only moves held → reserved → sent (or held → sent), and only inside a
//   db transaction (every mutating method takes the transaction's executor);
// - an output row is written 'pending' BEFORE its swap is sent, and becomes 'done' in the same
//   transaction that inserts the proof unblinded from its signature (so a proof is stored at
//   most once, whoever — claim or restore — gets there first);
// - 'failed' = the mint never signed it; 'invalid' = the mint signed but the signature failed
//   its DLEQ check (kept for audit, never spent).
// SQL is portable between SQLite and PostgreSQL: `?` placeholders, TEXT/BIGINT only.

import type { Db, SqlExecutor } from '../store/db.js';
import type { DleqJson, WalletProof } from './types.js';

export type ProofState = 'held' | 'reserved' | 'sent';
export type OutputState = 'pending' | 'done' | 'failed' | 'invalid';

export interface ProofRow {
  [k: string]: string | number | null;
  secret: string;
  job_id: string;
  mint: string;
  keyset_id: string;
  amount: number;
  c: string;
  dleq: string | null;
  state: ProofState;
  created_at: number;
  updated_at: number;
}

export interface OutputRow {
  [k: string]: string | number | null;
  b_: string;
  job_id: string;
  mint: string;
  keyset_id: string;
  amount: number;
  secret: string;
  /** blinding factor, 64 hex chars */
  r: string;
  state: OutputState;
  created_at: number;
  updated_at: number;
}

export type NewOutput = Pick<OutputRow, 'b_' | 'job_id' | 'mint' | 'keyset_id' | 'amount' | 'secret' | 'r'>;

export const WALLET_SCHEMA = `
CREATE TABLE IF NOT EXISTS wallet_proofs (
  secret TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  mint TEXT NOT NULL,
  keyset_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  c TEXT NOT NULL,
  dleq TEXT,
  state TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS wallet_proofs_job_state ON wallet_proofs (job_id, state);
CREATE INDEX IF NOT EXISTS wallet_proofs_state ON wallet_proofs (state);
CREATE TABLE IF NOT EXISTS wallet_outputs (
  b_ TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  mint TEXT NOT NULL,
  keyset_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  secret TEXT NOT NULL,
  r TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS wallet_outputs_state ON wallet_outputs (state, created_at);
`;

const PROOF_COLS = 'secret, job_id, mint, keyset_id, amount, c, dleq, state, created_at, updated_at';
const OUTPUT_COLS = 'b_, job_id, mint, keyset_id, amount, secret, r, state, created_at, updated_at';

/** Numbers from SUM/BIGINT, whatever the driver hands back. */
function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v ?? 0);
  if (!Number.isSafeInteger(n)) throw new Error('wallet: non-integer amount in the store');
  return n;
}

export function rowToProof(row: ProofRow): WalletProof {
  const dleq = row.dleq ? (JSON.parse(row.dleq) as DleqJson) : undefined;
  return { id: row.keyset_id, amount: num(row.amount), secret: row.secret, C: row.c, ...(dleq && { dleq }) };
}

export class Holdings {
  constructor(private readonly db: Db) {}

  /** Idempotent: safe on every start and from several replicas. */
  async init(): Promise<void> {
    await this.db.exec(WALLET_SCHEMA);
  }

  // ---- outputs ------------------------------------------------------------------------------

  async insertOutputs(sql: SqlExecutor, outputs: readonly NewOutput[], now = Date.now()): Promise<void> {
    for (const o of outputs) {
      await sql.run(
        `INSERT INTO wallet_outputs (${OUTPUT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
        [o.b_, o.job_id, o.mint, o.keyset_id, o.amount, o.secret, o.r, now, now],
      );
    }
  }

  /**
   * Moves one output from one of `from` to `to`; true if this call moved it (false: someone
   * else already did, or it is in another state).
   */
  async moveOutput(sql: SqlExecutor, b_: string, from: readonly OutputState[], to: OutputState, now = Date.now()): Promise<boolean> {
    const marks = from.map(() => '?').join(', ');
    const n = await sql.run(`UPDATE wallet_outputs SET state = ?, updated_at = ? WHERE b_ = ? AND state IN (${marks})`, [to, now, b_, ...from]);
    return n === 1;
  }

  /** Pending outputs created at or before `createdBefore` (ms), oldest first. */
  pendingOutputs(createdBefore = Date.now()): Promise<OutputRow[]> {
    return this.db.all<OutputRow>(
      `SELECT ${OUTPUT_COLS} FROM wallet_outputs WHERE state = 'pending' AND created_at <= ? ORDER BY created_at, b_`,
      [createdBefore],
    );
  }

  async countOutputs(state: OutputState): Promise<number> {
    const row = await this.db.get(`SELECT COUNT(*) AS n FROM wallet_outputs WHERE state = ?`, [state]);
    return num(row?.n);
  }

  // ---- proofs -------------------------------------------------------------------------------

  async insertProof(sql: SqlExecutor, jobId: string, mint: string, p: WalletProof, state: ProofState = 'held', now = Date.now()): Promise<void> {
    await sql.run(
      `INSERT INTO wallet_proofs (${PROOF_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.secret, jobId, mint, p.id, p.amount, p.C, p.dleq ? JSON.stringify(p.dleq) : null, state, now, now],
    );
  }

  /** Proofs of a job in one state, largest first (ties by secret, for determinism). */
  proofsOfJob(sql: SqlExecutor, jobId: string, state: ProofState = 'held'): Promise<ProofRow[]> {
    return sql.all<ProofRow>(
      `SELECT ${PROOF_COLS} FROM wallet_proofs WHERE job_id = ? AND state = ? ORDER BY amount DESC, secret`,
      [jobId, state],
    );
  }

  /** Moves every listed proof from `from` to `to`; throws (rolling the caller's tx back) unless all moved. */
  async moveProofs(sql: SqlExecutor, secrets: readonly string[], from: ProofState, to: ProofState, now = Date.now()): Promise<void> {
    for (const s of secrets) {
      const n = await sql.run(`UPDATE wallet_proofs SET state = ?, updated_at = ? WHERE secret = ? AND state = ?`, [to, now, s, from]);
      if (n !== 1) throw new Error(`wallet: a proof is not ${from} (moved concurrently?)`);
    }
  }

  /** Σ amount of proofs in `state` (default held), optionally of one job. */
  async sum(state: ProofState = 'held', jobId?: string, sql: SqlExecutor = this.db): Promise<number> {
    const row = jobId === undefined
      ? await sql.get(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_proofs WHERE state = ?`, [state])
      : await sql.get(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_proofs WHERE state = ? AND job_id = ?`, [state, jobId]);
    return num(row?.s);
  }
}
