import type { ClaimPlan, ClaimResult, PreparedClaim } from '../cashu/types.js';
import type { JobRow, NewJob } from '../ledger/jobs.js';
import type { Db } from '../store/db.js';
import type { MoneyServices } from './services.js';

// A paid job's claim: TWO store transactions around its ONE mint swap. Crash safety (a process
// killed at any point loses no sat) and "a token pays for one job" rest on what each commits:
//
// Transaction 1 (openClaim), BEFORE the swap: the job's journal row 'claiming' AND the claim's
//   blinded outputs 'pending', together or not at all; the swap is sent only after it commits.
//   - The row is keyed by the receipt hash (derived from the token's secrets): of concurrent
//     requests paying with one token only one commits a row (SQLite: one writer; PostgreSQL:
//     SERIALIZABLE, the loser retries and finds the row). A token that already paid finds its job.
//   - Killed before the commit: nothing stored, nothing sent; the client's token is untouched.
//   - Killed after it, swap sent or not: the row tells recovery there is a claim, the pending
//     outputs let it ask the mint (NUT-09 restore). Signed ones become the job's held proofs and
//     the job is refunded in full; never-signed ones are 'failed' and the job closes owing nothing.
// Transaction 2 (completeClaim), AFTER the swap, BEFORE the job's request goes upstream: the
//   mint's signatures stored (outputs 'signed': the sats are held) AND the row 'claimed' with
//   the sats it holds, together or not at all — the journal never counts a claim whose proofs
//   are not stored, and never holds a job's proofs while calling it unclaimed. Only when every
//   signature is usable; otherwise the row stays 'claiming' and recovery refunds what is held.
//   Killed before the commit: as killed after transaction 1.

/** Transaction 1 found: a new claim ready to send, or the job this token already paid for. */
export type OpenedClaim = { created: true; prepared: PreparedClaim } | { created: false; existing: JobRow };

/** Transaction 1: the journal row and the pending outputs. Nothing is written when the token already paid. */
export async function openClaim(db: Db, money: MoneyServices, job: NewJob, receipt: string, plan: ClaimPlan, now: number): Promise<OpenedClaim> {
  let opened: OpenedClaim;
  try {
    money.wallet.makeOutputs(plan); // blindings the pool lacks are made here, not inside the transaction
    opened = await db.tx(async (sql): Promise<OpenedClaim> => {
      const row = await money.jobs.open(sql, job, receipt, now);
      if (!row.created) return row;
      return { created: true, prepared: await money.wallet.storePending(sql, plan) };
    });
  } catch (err) {
    money.wallet.dropPlan(plan);
    throw err;
  }
  if (!opened.created) money.wallet.dropPlan(plan);
  return opened;
}

/** The one swap, then transaction 2: the signatures held and the row 'claimed'. Errors as GatewayWallet.executeClaim. */
export function completeClaim(money: MoneyServices, prepared: PreparedClaim): Promise<ClaimResult> {
  return money.wallet.executeClaim(prepared, (sql) => money.jobs.markClaimed(prepared.jobId, prepared.amount, prepared.fee, sql));
}
