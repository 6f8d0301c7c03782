// The gateway's proofs and the blinded outputs of its swaps, in the store (tables `wallet_*`).
//
// MUST hold:
// - a proof row's state only moves held → reserved → sent (or held → sent, or reserved → held when
//   a spend's mint refused it), and only inside a
//   db transaction (every mutating method takes the transaction's executor);
// - an output row is written 'pending' BEFORE its swap is sent. With the mint's answer it becomes
//   'signed' (the claim: the blind signature is stored in wallet_signatures in the same
//   transaction) or directly 'done' (restore). 'signed' → 'done' happens in the same transaction
//   that inserts the proof unblinded from its signature, so a proof is stored at most once,
//   whoever (background unblinding, takeProofs, restore, another replica) gets there first;
// - the sats of 'signed' outputs are held like the proofs' (heldSum): an output is counted as
//   'signed' or as a proof, never both, never neither (one transaction moves it);
// - 'failed' = the mint never signed it; 'invalid' = the mint signed but the signature failed
//   its checks (DLEQ): kept for audit, never spent, the sats are lost.
// - a proof is 'reserved' only by a spend of the gateway's own money (spend.ts: a withdrawal's
//   swap or melt in flight), listed in wallet_reservations under the spend's id; the spend's
//   outcome moves it to 'sent' (it happened) or back to 'held' (the mint refused).
// SQL is portable between SQLite and PostgreSQL: `?` placeholders, TEXT/BIGINT only.

import type { Db, SqlExecutor } from '../store/db.js';
import type { DleqJson, WalletProof } from './types.js';
import { migrate, type MigrationSet } from '../store/migrate.js';

export type ProofState = 'held' | 'reserved' | 'sent';
/**
 * 'blank': a NUT-08 blank output of a melt in flight (spend.ts): its amount is chosen by the mint,
 * so generic NUT-09 restore leaves it alone; the melt's quote says what became of it.
 */
export type OutputState = 'pending' | 'signed' | 'done' | 'failed' | 'invalid' | 'blank';

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

/** The mint's blind signature of an output, stored until it is unblinded. */
export interface SignatureRow {
  [k: string]: string | number | null;
  /** C_, compressed hex */
  c_: string;
  /** NUT-12 {e, s} as JSON, or null when the mint sent none */
  dleq: string | null;
  /** the mint's public key for the output's amount (what C_ is checked and unblinded with) */
  k: string;
}

/** A 'signed' output with its signature: everything unblinding needs, no keyset lookup. */
export type SignedOutputRow = Pick<OutputRow, 'b_' | 'job_id' | 'mint' | 'keyset_id' | 'amount' | 'secret' | 'r' | 'updated_at'> & SignatureRow;

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
CREATE INDEX IF NOT EXISTS wallet_outputs_job_state ON wallet_outputs (job_id, state);
CREATE TABLE IF NOT EXISTS wallet_signatures (
  b_ TEXT PRIMARY KEY,
  c_ TEXT NOT NULL,
  dleq TEXT,
  k TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS wallet_reservations (
  spend_id TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (spend_id, secret)
);
`;

/** Schema versions of wallet_proofs, wallet_outputs, wallet_signatures, wallet_reservations (src/store/migrate.ts: never edit a released one, append). */
export const WALLET_MIGRATIONS: MigrationSet = {
  owner: 'wallet',
  migrations: [{ version: 1, name: 'first schema', up: WALLET_SCHEMA }],
};

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
    await migrate(this.db, [WALLET_MIGRATIONS]);
  }

  // ---- outputs ------------------------------------------------------------------------------

  /** Outputs committed before their swap ('pending'), or a melt's NUT-08 blank outputs ('blank'): one statement. */
  async insertOutputs(sql: SqlExecutor, outputs: readonly NewOutput[], now = Date.now(), state: 'pending' | 'blank' = 'pending'): Promise<void> {
    if (outputs.length === 0) return;
    await sql.run(
      `INSERT INTO wallet_outputs (${OUTPUT_COLS}) VALUES ${outputs.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      outputs.flatMap((o) => [o.b_, o.job_id, o.mint, o.keyset_id, o.amount, o.secret, o.r, state, now, now]),
    );
  }

  /**
   * A swap's answer, in the caller's transaction: each listed output still 'pending' (or
   * 'failed' by a restore that ran too early) → 'signed', with its signature stored. Returns the
   * outputs this call moved; the others were settled meanwhile by a restore ('done'). Three
   * statements at most, whatever the number of outputs.
   * MUST only be given outputs of one swap whose answer is being stored: then an output of the
   * list found 'signed' after the UPDATE is one this call moved.
   */
  async signOutputs(sql: SqlExecutor, signed: readonly ({ b_: string } & SignatureRow)[], now = Date.now()): Promise<Set<string>> {
    if (signed.length === 0) return new Set();
    const keys = signed.map((o) => o.b_);
    const marks = keys.map(() => '?').join(', ');
    const n = await sql.run(`UPDATE wallet_outputs SET state = 'signed', updated_at = ? WHERE b_ IN (${marks}) AND state IN ('pending', 'failed')`, [now, ...keys]);
    let moved = signed;
    if (n !== signed.length) {
      const rows = await sql.all<{ b_: string }>(`SELECT b_ FROM wallet_outputs WHERE b_ IN (${marks}) AND state = 'signed'`, keys);
      const ours = new Set(rows.map((r) => r.b_));
      moved = signed.filter((o) => ours.has(o.b_));
    }
    if (moved.length > 0) {
      await sql.run(
        `INSERT INTO wallet_signatures (b_, c_, dleq, k, created_at) VALUES ${moved.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
        moved.flatMap((o) => [o.b_, o.c_, o.dleq, o.k, now]),
      );
    }
    return new Set(moved.map((o) => o.b_));
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

  /**
   * Of the listed outputs, those still 'signed' move to 'done' and get their proofs inserted
   * 'held', in the caller's transaction; the others (done meanwhile by someone else) are left
   * alone. Returns how many this call stored. Three statements at most, whatever the number.
   */
  async storeUnblinded(sql: SqlExecutor, jobOf: (b_: string) => { jobId: string; mint: string }, proofs: readonly { b_: string; proof: WalletProof }[], now = Date.now()): Promise<number> {
    if (proofs.length === 0) return 0;
    const marks = proofs.map(() => '?').join(', ');
    const keys = proofs.map((p) => p.b_);
    const signed = new Set((await sql.all<{ b_: string }>(`SELECT b_ FROM wallet_outputs WHERE b_ IN (${marks}) AND state = 'signed'`, keys)).map((r) => r.b_));
    const ours = proofs.filter((p) => signed.has(p.b_));
    if (ours.length === 0) return 0;
    const n = await sql.run(`UPDATE wallet_outputs SET state = 'done', updated_at = ? WHERE b_ IN (${ours.map(() => '?').join(', ')}) AND state = 'signed'`, [now, ...ours.map((p) => p.b_)]);
    if (n !== ours.length) throw new Error('wallet: signed outputs moved during their transaction');
    await sql.run(
      `INSERT INTO wallet_proofs (${PROOF_COLS}) VALUES ${ours.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      ours.flatMap(({ b_, proof: p }) => {
        const { jobId, mint } = jobOf(b_);
        return [p.secret, jobId, mint, p.id, p.amount, p.C, p.dleq ? JSON.stringify(p.dleq) : null, 'held', now, now];
      }),
    );
    return ours.length;
  }

  /** Pending outputs created at or before `createdBefore` (ms), oldest first. */
  pendingOutputs(createdBefore = Date.now()): Promise<OutputRow[]> {
    return this.db.all<OutputRow>(
      `SELECT ${OUTPUT_COLS} FROM wallet_outputs WHERE state = 'pending' AND created_at <= ? ORDER BY created_at, b_`,
      [createdBefore],
    );
  }

  /** Stores the mint's signature of an output (with the move to 'signed', in one tx). */
  async insertSignature(sql: SqlExecutor, b_: string, sig: SignatureRow, now = Date.now()): Promise<void> {
    await sql.run(`INSERT INTO wallet_signatures (b_, c_, dleq, k, created_at) VALUES (?, ?, ?, ?, ?)`, [b_, sig.c_, sig.dleq, sig.k, now]);
  }

  /**
   * 'signed' outputs with their signatures: of one job (largest first), or of all jobs signed at
   * or before `signedBefore` (ms, oldest first).
   */
  signedOutputs(sql: SqlExecutor, by: { jobId: string } | { signedBefore: number }): Promise<SignedOutputRow[]> {
    const cols = 'o.b_, o.job_id, o.mint, o.keyset_id, o.amount, o.secret, o.r, o.updated_at, s.c_, s.dleq, s.k';
    const from = `wallet_outputs o JOIN wallet_signatures s ON s.b_ = o.b_`;
    return 'jobId' in by
      ? sql.all<SignedOutputRow>(`SELECT ${cols} FROM ${from} WHERE o.job_id = ? AND o.state = 'signed' ORDER BY o.amount DESC, o.b_`, [by.jobId])
      : sql.all<SignedOutputRow>(`SELECT ${cols} FROM ${from} WHERE o.state = 'signed' AND o.updated_at <= ? ORDER BY o.updated_at, o.b_`, [by.signedBefore]);
  }

  /** Outputs in `state`, optionally of one job. */
  async countOutputs(state: OutputState, jobId?: string): Promise<number> {
    const row = jobId === undefined
      ? await this.db.get(`SELECT COUNT(*) AS n FROM wallet_outputs WHERE state = ?`, [state])
      : await this.db.get(`SELECT COUNT(*) AS n FROM wallet_outputs WHERE state = ? AND job_id = ?`, [state, jobId]);
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
    // One statement per 500 proofs; a secret listed twice counts once, so it fails the check.
    for (let i = 0; i < secrets.length; i += 500) {
      const part = secrets.slice(i, i + 500);
      const n = await sql.run(`UPDATE wallet_proofs SET state = ?, updated_at = ? WHERE secret IN (${part.map(() => '?').join(', ')}) AND state = ?`, [to, now, ...part, from]);
      if (n !== part.length) throw new Error(`wallet: a proof is not ${from} (moved concurrently?)`);
    }
  }

  /**
   * Σ sats the wallet holds, optionally of one job: proofs 'held' plus outputs 'signed' (claimed,
   * not unblinded yet). One statement, so a concurrent signed → proof move is seen before or after.
   */
  async heldSum(jobId?: string, sql: SqlExecutor = this.db): Promise<number> {
    const row = jobId === undefined
      ? await sql.get(`SELECT CAST((SELECT COALESCE(SUM(amount), 0) FROM wallet_proofs WHERE state = 'held')
          + (SELECT COALESCE(SUM(amount), 0) FROM wallet_outputs WHERE state = 'signed') AS BIGINT) AS s`)
      : await sql.get(`SELECT CAST((SELECT COALESCE(SUM(amount), 0) FROM wallet_proofs WHERE state = 'held' AND job_id = ?)
          + (SELECT COALESCE(SUM(amount), 0) FROM wallet_outputs WHERE state = 'signed' AND job_id = ?) AS BIGINT) AS s`, [jobId, jobId]);
    return num(row?.s);
  }

  /** The wallet's part of the books: Σ proofs held and reserved (withdrawals in flight), Σ outputs signed. */
  async books(sql: SqlExecutor = this.db): Promise<{ held: number; reserved: number; signed: number }> {
    const row = await sql.get(
      `SELECT CAST((SELECT COALESCE(SUM(amount), 0) FROM wallet_proofs WHERE state = 'held') AS BIGINT) AS held,
              CAST((SELECT COALESCE(SUM(amount), 0) FROM wallet_proofs WHERE state = 'reserved') AS BIGINT) AS reserved,
              CAST((SELECT COALESCE(SUM(amount), 0) FROM wallet_outputs WHERE state = 'signed') AS BIGINT) AS signed`,
    );
    return { held: num(row?.held), reserved: num(row?.reserved), signed: num(row?.signed) };
  }

  /** Mints of which the wallet holds proofs. */
  async heldMints(): Promise<string[]> {
    return (await this.db.all<{ mint: string }>(`SELECT DISTINCT mint FROM wallet_proofs WHERE state = 'held'`)).map((r) => r.mint);
  }

  /** Σ amount of proofs in `state` (default held), optionally of one job. Excludes 'signed' outputs: see heldSum. */
  async sum(state: ProofState = 'held', jobId?: string, sql: SqlExecutor = this.db): Promise<number> {
    const row = jobId === undefined
      ? await sql.get(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_proofs WHERE state = ?`, [state])
      : await sql.get(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_proofs WHERE state = ? AND job_id = ?`, [state, jobId]);
    return num(row?.s);
  }
}
