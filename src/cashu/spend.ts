// Spending the gateway's own proofs (withdrawals of earned sats): handed over as they are when an
// exact subset exists, else ONE NUT-03 swap into [payout + remainder]; or paid over Lightning by a
// NUT-05 melt whose overpayment (fee reserve) comes back as NUT-08 change.
//
// MUST hold (see holdings.ts):
// - only 'held' proofs no running job needs are spent: the caller names, as an SQL subquery, the
//   jobs whose proofs are locked (their change is paid from them), and payout proofs of a spend
//   still being resolved (job id `<spend>:out`) are never selected;
// - the selection, the reservation (held → reserved) and the swap's outputs ('pending') or the
//   melt's blank outputs ('blank') commit in ONE transaction, BEFORE the mint is asked, so that a
//   lost answer can be recovered (NUT-09 restore for a swap, the quote's state for a melt);
// - a spend that happened commits in ONE transaction: inputs reserved → sent, what came back
//   'held' (remainder, change), the payout 'sent', and the caller's ledger part (the debit);
// - a spend the mint refused commits in ONE transaction: inputs reserved → held, outputs
//   'failed', and the caller's part; a lost answer leaves everything as it is until resolve();
// - the input fees (NUT-02) of a swap or melt are part of what the spend costs: the caller's
//   ledger part receives spentSats − keptSats, everything that left the holdings for it;
// - nothing here logs a proof, secret, token, invoice or preimage.

import type { Db, SqlExecutor } from '../store/db.js';
import { InvalidSignatureError, unblindSignature, type Blinding } from './bdhke.js';
import { rowToProof, type Holdings, type NewOutput, type OutputRow, type OutputState, type ProofRow } from './holdings.js';
import type { KeysetKeys, MintKeysets } from './keysets.js';
import { MintRequestError, type MintClient } from './mint-client.js';
import { createOutputs, wellFormedSignature, type BlindedMessageJson } from './outputs.js';
import { recoverPendingOutputs } from './recovery.js';
import { binaryParts, selectExactItems } from './split.js';
import type { SwapInputJson, WalletLogger, WalletProof } from './types.js';

export interface SpendMint {
  readonly client: MintClient;
  readonly keysets: MintKeysets;
}

export interface SpendDeps {
  db: Db;
  holdings: Holdings;
  log: WalletLogger;
  /** The mint at this (normalized) URL, trusted or not (held proofs may be of a mint no longer trusted). */
  mint(url: string): SpendMint;
  /** n fresh blindings, each used once. */
  blindings(n: number): Blinding[];
  /** B_ of outputs whose request is running in this process: generic recovery leaves them alone. */
  inflight: Set<string>;
  onInvalid(jobId: string, sats: number): void;
}

/**
 * A spend that could not be started or was refused.
 * - 'refused': the mint said no (an invalid invoice, a refused swap or melt): nothing happened;
 * - 'unreachable': the mint could not be asked (nothing was spent);
 * - 'unusable': the gateway cannot build the spend (no keyset, unknown keyset of a held proof).
 */
export class SpendError extends Error {
  constructor(
    readonly reason: 'refused' | 'unreachable' | 'unusable',
    message: string,
  ) {
    super(message);
    this.name = 'SpendError';
  }
}

export interface MeltQuote {
  readonly quote: string;
  /** What the invoice pays, in sats. */
  readonly amount: number;
  /** The most the Lightning fee may be; unused reserve comes back as change. */
  readonly feeReserve: number;
  readonly expiry: number | null;
}

/** A spend whose inputs are reserved and whose outputs are committed: execute it next. */
export interface PreparedSpend {
  readonly kind: 'swap' | 'melt';
  readonly spendId: string;
  readonly mint: string;
  readonly inputs: readonly ProofRow[];
  /** swap: payout outputs first, then the remainder's; melt: the blank outputs. */
  readonly outputs: readonly { readonly message: BlindedMessageJson; readonly row: NewOutput }[];
  /** swap: how many of `outputs` are the payout. */
  readonly payoutCount: number;
  readonly keys: Record<string, string>;
  /** melt only */
  readonly quote?: string;
}

/** What the caller's ledger part learns about a spend that happened. */
export interface SpendHappened {
  /** Σ inputs spent at the mint. */
  readonly spentSats: number;
  /** Σ proofs that came back into the holdings (the swap's remainder, the melt's change). */
  readonly keptSats: number;
  /** The payout proofs (now 'sent'); empty for a melt, or for a swap whose payout came back incomplete. */
  readonly payout: readonly WalletProof[];
  /** swap: every payout output was signed and verified. */
  readonly complete: boolean;
  /** melt: the payment preimage, when the mint sent one (never log it). */
  readonly preimage: string | null;
}

export interface SpendHooks<T> {
  /** In the transaction that records a spend that happened: the ledger's part (e.g. the debit). */
  happened(sql: SqlExecutor, h: SpendHappened): Promise<T>;
  /** In the transaction that undoes a spend the mint refused. */
  refused(sql: SqlExecutor, reason: string): Promise<void>;
}

export type SpendOutcome<T> = { kind: 'done'; value: T } | { kind: 'refused'; reason: string } | { kind: 'in_doubt' };

/** Job id of a swap's payout outputs and proofs: never selected while it is being resolved. */
export const payoutJobId = (spendId: string): string => `${spendId}:out`;

/** NUT error codes that blame the inputs themselves (spent, invalid proofs). */
const SPENT_OR_INVALID = new Set([10001, 10003, 11001]);

const PROOF_COLS = 'secret, job_id, mint, keyset_id, amount, c, dleq, state, created_at, updated_at';
const OUTPUT_COLS = 'b_, job_id, mint, keyset_id, amount, secret, r, state, created_at, updated_at';

const amountOf = (r: { amount: number | string }): number => Number(r.amount);
const sumOf = (rows: readonly { amount: number | string }[]): number => rows.reduce((s, r) => s + amountOf(r), 0);
const bitLength = (n: number): number => (n <= 0 ? 0 : Math.floor(Math.log2(n)) + 1);

/** Proofs summing to exactly `amount` (largest first: exact whenever a subset of powers of two exists), or null. */
export function selectExactProofs<T extends { amount: number | string }>(rows: readonly T[], amount: number): T[] | null {
  return selectExactItems(rows, amount, amountOf);
}

/**
 * Proofs summing to exactly `base` plus their own input fee (so the mint accepts them as paying
 * `base`), or null. With fee-free keysets this is selectExactProofs(rows, base).
 */
export function selectExactWithFee<T extends { amount: number | string }>(rows: readonly T[], base: number, feeOf: (chosen: readonly T[]) => number): T[] | null {
  let fee = 0;
  for (let i = 0; i < 8; i++) {
    const chosen = selectExactProofs(rows, base + fee);
    if (!chosen) return null;
    const f = feeOf(chosen);
    if (f === fee) return chosen;
    fee = f;
  }
  return null;
}

/**
 * Items covering `target` plus their own input fee: the smallest single item that does, else the
 * largest first until they do. Null when all of them together do not.
 */
export function selectCovering<T>(items: readonly T[], target: number, amount: (t: T) => number, feeOf: (chosen: readonly T[]) => number): T[] | null {
  const sorted = [...items].sort((a, b) => amount(b) - amount(a));
  let single: T | undefined;
  for (const it of sorted) if (amount(it) >= target + feeOf([it])) single = it; // descending: the last that fits is the smallest
  if (single !== undefined) return [single];
  const chosen: T[] = [];
  let sum = 0;
  for (const it of sorted) {
    chosen.push(it);
    sum += amount(it);
    if (sum >= target + feeOf(chosen)) return chosen;
  }
  return null;
}

interface OutputResult {
  readonly row: NewOutput;
  /** The amount the mint signed (melt change: chosen by the mint); null: no signature (unused blank). */
  readonly signed: number | null;
  /** null: no signature, or one that failed its checks (DLEQ) */
  readonly proof: WalletProof | null;
}

export class Spender {
  constructor(private readonly d: SpendDeps) {}

  /**
   * Before the transaction that selects: loads the mint's keysets (input fees) and returns the
   * keyset new outputs are signed with. Throws GatewayError (cashu_mint_unreachable) or SpendError.
   */
  async prepareMint(mint: string): Promise<KeysetKeys> {
    const ks = this.d.mint(mint).keysets;
    await ks.ensure();
    const keyset = await ks.outputKeyset([1]);
    if (!keyset) throw new SpendError('unusable', 'the mint has no active sat keyset');
    return keyset;
  }

  /** NUT-02 input fee of spending `rows` at `mint`: ceil(Σ input_fee_ppk / 1000). Keysets must be loaded (prepareMint). */
  inputFee(mint: string, rows: readonly { keyset_id: string }[]): number {
    const ks = this.d.mint(mint).keysets;
    let ppk = 0;
    for (const r of rows) {
      const k = ks.get(r.keyset_id);
      if (!k) throw new SpendError('unusable', `the mint does not list keyset ${r.keyset_id} of a held proof`);
      ppk += k.inputFeePpk;
    }
    return Math.floor((ppk + 999) / 1000);
  }

  /**
   * Inside the caller's transaction: held proofs of `mint` the gateway may spend, largest first.
   * `lockedJobs` is an SQL subquery of the job ids whose proofs are not free (running jobs).
   */
  spendable(sql: SqlExecutor, mint: string, lockedJobs: string): Promise<ProofRow[]> {
    return sql.all<ProofRow>(
      `SELECT ${PROOF_COLS} FROM wallet_proofs WHERE state = 'held' AND mint = ? AND job_id NOT LIKE ? AND job_id NOT IN (${lockedJobs})
       ORDER BY amount DESC, secret`,
      [mint, '%:out'],
    );
  }

  /** Inside the caller's transaction: Σ spendable sats per mint (see spendable()). */
  async spendableByMint(sql: SqlExecutor, lockedJobs: string): Promise<Map<string, number>> {
    const rows = await sql.all<{ mint: string; s: number }>(
      `SELECT mint, CAST(SUM(amount) AS BIGINT) AS s FROM wallet_proofs WHERE state = 'held' AND job_id NOT LIKE ? AND job_id NOT IN (${lockedJobs}) GROUP BY mint`,
      ['%:out'],
    );
    return new Map(rows.map((r) => [r.mint, Number(r.s)]));
  }

  /** Inside the caller's transaction: these held proofs → sent (handed over as they are). */
  async take(sql: SqlExecutor, rows: readonly ProofRow[], now = Date.now()): Promise<WalletProof[]> {
    await this.d.holdings.moveProofs(sql, rows.map((r) => r.secret), 'held', 'sent', now);
    return rows.map(rowToProof);
  }

  /**
   * Inside the caller's transaction: reserves `inputs` and commits the swap's outputs 'pending':
   * `payout` sats (in powers of two) and the remainder Σinputs − input fee − payout.
   */
  async planSwap(sql: SqlExecutor, spendId: string, mint: string, keyset: KeysetKeys, inputs: readonly ProofRow[], payout: number, now = Date.now()): Promise<PreparedSpend> {
    const keep = sumOf(inputs) - this.inputFee(mint, inputs) - payout;
    if (!Number.isSafeInteger(payout) || payout <= 0 || keep < 0) throw new RangeError(`spend: inputs do not cover a payout of ${payout}`);
    const payoutParts = binaryParts(payout);
    const keepParts = binaryParts(keep);
    for (const a of [...payoutParts, ...keepParts]) {
      if (keyset.keys[String(a)] === undefined) throw new SpendError('unusable', `the mint's keyset has no key for ${a} sat`);
    }
    const b = this.d.blindings(payoutParts.length + keepParts.length);
    const outputs = [
      ...createOutputs(payoutParts, keyset.id, payoutJobId(spendId), mint, b.slice(0, payoutParts.length)),
      ...createOutputs(keepParts, keyset.id, spendId, mint, b.slice(payoutParts.length)),
    ];
    await this.reserve(sql, spendId, inputs, now);
    await this.d.holdings.insertOutputs(sql, outputs.map((o) => o.row), now);
    return { kind: 'swap', spendId, mint, inputs, outputs, payoutCount: payoutParts.length, keys: keyset.keys };
  }

  /**
   * Inside the caller's transaction: reserves `inputs` for paying `quote` and commits enough
   * NUT-08 blank outputs ('blank') for all of the overpayment to come back as change.
   */
  async planMelt(sql: SqlExecutor, spendId: string, mint: string, keyset: KeysetKeys, inputs: readonly ProofRow[], quote: MeltQuote, now = Date.now()): Promise<PreparedSpend> {
    const over = sumOf(inputs) - this.inputFee(mint, inputs) - quote.amount;
    if (over < quote.feeReserve) throw new RangeError('spend: inputs do not cover the invoice and its fee reserve');
    const n = bitLength(over);
    // A blank's amount is the mint's choice (stored as 0 until signed). Sent sorted by B_, so that
    // resolve() knows which change signature belongs to which blank.
    const outputs = createOutputs(Array<number>(n).fill(1), keyset.id, spendId, mint, this.d.blindings(n))
      .map((o) => ({ message: o.message, row: { ...o.row, amount: 0 } }))
      .sort((a, b) => (a.row.b_ < b.row.b_ ? -1 : a.row.b_ > b.row.b_ ? 1 : 0));
    await this.reserve(sql, spendId, inputs, now);
    await this.d.holdings.insertOutputs(sql, outputs.map((o) => o.row), now, 'blank');
    return { kind: 'melt', spendId, mint, inputs, outputs, payoutCount: 0, keys: keyset.keys, quote: quote.quote };
  }

  /** POST /v1/melt/quote/bolt11. Throws SpendError ('refused': the mint will not pay this invoice; 'unreachable'). */
  async meltQuote(mint: string, invoice: string): Promise<MeltQuote> {
    let res: Record<string, unknown>;
    try {
      res = await this.d.mint(mint).client.post<Record<string, unknown>>('melt_quote', '/v1/melt/quote/bolt11', { request: invoice, unit: 'sat' });
    } catch (err) {
      if (err instanceof MintRequestError && err.kind !== 'network' && !err.mayHaveArrived) throw new SpendError('refused', mintDetail(err));
      throw new SpendError('unreachable', 'the mint cannot be reached');
    }
    const amount = Number(res.amount);
    const feeReserve = Number(res.fee_reserve ?? 0);
    if (typeof res.quote !== 'string' || !Number.isSafeInteger(amount) || amount <= 0 || !Number.isSafeInteger(feeReserve) || feeReserve < 0) {
      throw new SpendError('unreachable', 'the mint answered the melt quote malformed');
    }
    if (res.unit !== undefined && res.unit !== 'sat') throw new SpendError('refused', 'the mint quoted in another unit');
    return { quote: res.quote, amount, feeReserve, expiry: typeof res.expiry === 'number' ? res.expiry : null };
  }

  /** The one POST /v1/swap of a planned swap, then its outcome committed (see the file header). */
  async executeSwap<T>(p: PreparedSpend, hooks: SpendHooks<T>): Promise<SpendOutcome<T>> {
    return this.inflight(p, async () => {
      let res: { signatures?: unknown };
      try {
        res = await this.d.mint(p.mint).client.post<{ signatures?: unknown }>('swap', '/v1/swap', { inputs: p.inputs.map(inputOf), outputs: p.outputs.map((o) => o.message) });
      } catch (err) {
        if (err instanceof MintRequestError && !err.mayHaveArrived) return this.refuse(p, hooks, mintDetail(err), err.mintCode);
        this.d.log.warn?.({ spend: p.spendId, err: errMsg(err) }, 'spend: swap answer lost, outputs left pending for restore');
        return { kind: 'in_doubt' };
      }
      const sigs = Array.isArray(res.signatures) ? (res.signatures as unknown[]) : null;
      if (!sigs || sigs.length !== p.outputs.length) {
        this.d.log.error?.({ spend: p.spendId }, 'spend: swap answer malformed, outputs left pending for restore');
        return { kind: 'in_doubt' };
      }
      let results: OutputResult[];
      try {
        results = p.outputs.map((o, i) => unblind(o.row, sigs[i], o.row.amount, p.keys));
      } catch (err) {
        this.d.log.error?.({ spend: p.spendId, err: errMsg(err) }, 'spend: could not unblind the swap, outputs left pending for restore');
        return { kind: 'in_doubt' };
      }
      return this.commit(p, results, null, hooks);
    });
  }

  /** The one POST /v1/melt/bolt11 of a planned melt, then its outcome committed (see the file header). */
  async executeMelt<T>(p: PreparedSpend, hooks: SpendHooks<T>): Promise<SpendOutcome<T>> {
    return this.inflight(p, async () => {
      let res: Record<string, unknown>;
      try {
        res = await this.d.mint(p.mint).client.post<Record<string, unknown>>('melt', '/v1/melt/bolt11', {
          quote: p.quote, inputs: p.inputs.map(inputOf), outputs: p.outputs.map((o) => o.message),
        });
      } catch (err) {
        if (err instanceof MintRequestError && !err.mayHaveArrived) return this.refuse(p, hooks, mintDetail(err), err.mintCode);
        this.d.log.warn?.({ spend: p.spendId, err: errMsg(err) }, 'spend: melt answer lost, left for the quote to tell');
        return { kind: 'in_doubt' };
      }
      return this.meltAnswered(p, res, hooks);
    });
  }

  /**
   * What became of a spend whose answer was lost (a crash, a timeout): a swap's pending outputs
   * are restored (NUT-09), a melt's quote is asked. Commits the outcome like execute*() would,
   * or returns in_doubt when the mint cannot tell yet.
   */
  async resolve<T>(spend: { kind: 'swap' | 'melt'; spendId: string; mint: string; quote?: string | null }, hooks: SpendHooks<T>): Promise<SpendOutcome<T>> {
    const inputs = await this.d.db.all<ProofRow>(
      `SELECT p.secret, p.job_id, p.mint, p.keyset_id, p.amount, p.c, p.dleq, p.state, p.created_at, p.updated_at
       FROM wallet_reservations r JOIN wallet_proofs p ON p.secret = r.secret WHERE r.spend_id = ? AND p.state = 'reserved'`,
      [spend.spendId],
    );
    if (spend.kind === 'melt') return this.resolveMelt(spend, inputs, hooks);
    const jobs = [spend.spendId, payoutJobId(spend.spendId)];
    const outputsOf = () => this.d.db.all<OutputRow>(`SELECT ${OUTPUT_COLS} FROM wallet_outputs WHERE job_id IN (?, ?) ORDER BY created_at, b_`, jobs);
    const pending = (await outputsOf()).filter((o) => o.state === 'pending' && !this.d.inflight.has(o.b_));
    if (pending.length > 0) {
      await recoverPendingOutputs(pending, { db: this.d.db, holdings: this.d.holdings, log: this.d.log, mintFor: (url) => this.d.mint(url), onInvalid: (j, s) => this.d.onInvalid(j, s) });
    }
    const outputs = await outputsOf();
    if (outputs.some((o) => o.state === 'pending')) return { kind: 'in_doubt' };
    const p: PreparedSpend = { kind: 'swap', spendId: spend.spendId, mint: spend.mint, inputs, outputs: [], payoutCount: 0, keys: {} };
    // A swap is atomic at the mint: any output it signed (valid or not) means it happened.
    if (!outputs.some((o) => o.state === 'done' || o.state === 'invalid')) return this.refuse(p, hooks, 'the mint never executed the swap');
    return this.d.db.tx(async (sql) => {
      const payoutOutputs = outputs.filter((o) => o.job_id === payoutJobId(spend.spendId));
      const complete = payoutOutputs.length > 0 && payoutOutputs.every((o) => o.state === 'done');
      const payoutRows = await this.d.holdings.proofsOfJob(sql, payoutJobId(spend.spendId), 'held');
      let payout: WalletProof[] = [];
      if (complete) {
        payout = await this.take(sql, payoutRows);
      } else if (payoutRows.length > 0) {
        await sql.run(`UPDATE wallet_proofs SET job_id = ? WHERE job_id = ? AND state = 'held'`, [spend.spendId, payoutJobId(spend.spendId)]);
      }
      const kept = sumOf(outputs.filter((o) => o.state === 'done' && (o.job_id === spend.spendId || !complete)));
      await this.consume(sql, spend.spendId);
      return { kind: 'done' as const, value: await hooks.happened(sql, { spentSats: sumOf(inputs), keptSats: kept, payout, complete, preimage: null }) };
    });
  }

  private async resolveMelt<T>(spend: { spendId: string; mint: string; quote?: string | null }, inputs: ProofRow[], hooks: SpendHooks<T>): Promise<SpendOutcome<T>> {
    const blanks = await this.d.db.all<OutputRow>(`SELECT ${OUTPUT_COLS} FROM wallet_outputs WHERE job_id = ? AND state = 'blank' ORDER BY created_at, b_`, [spend.spendId]);
    const keysetId = blanks[0]?.keyset_id;
    let keys: Record<string, string> = {};
    try {
      if (keysetId) keys = (await this.d.mint(spend.mint).keysets.keysFor(keysetId)).keys;
    } catch (err) {
      this.d.log.warn?.({ spend: spend.spendId, err: errMsg(err) }, 'spend: the mint keys could not be loaded');
      return { kind: 'in_doubt' };
    }
    // Blank outputs are sent sorted by B_ (planMelt); the change signs the first ones in that order.
    blanks.sort((a, b) => (a.b_ < b.b_ ? -1 : a.b_ > b.b_ ? 1 : 0));
    const p: PreparedSpend = {
      kind: 'melt', spendId: spend.spendId, mint: spend.mint, inputs, payoutCount: 0, keys, quote: spend.quote ?? undefined,
      outputs: blanks.map((r) => ({ message: { amount: 1, id: r.keyset_id, B_: r.b_ }, row: r })),
    };
    if (!spend.quote) return this.refuse(p, hooks, 'the melt was never sent');
    let res: Record<string, unknown>;
    try {
      res = await this.d.mint(spend.mint).client.get<Record<string, unknown>>('melt_quote', `/v1/melt/quote/bolt11/${encodeURIComponent(spend.quote)}`);
    } catch (err) {
      this.d.log.warn?.({ spend: spend.spendId, err: errMsg(err) }, 'spend: the melt quote could not be checked');
      return { kind: 'in_doubt' };
    }
    return this.meltAnswered(p, res, hooks);
  }

  private async meltAnswered<T>(p: PreparedSpend, res: Record<string, unknown>, hooks: SpendHooks<T>): Promise<SpendOutcome<T>> {
    const state = typeof res.state === 'string' ? res.state : res.paid === true ? 'PAID' : undefined;
    if (state === 'UNPAID') return this.refuse(p, hooks, 'the mint could not pay the invoice');
    if (state !== 'PAID') return { kind: 'in_doubt' };
    const change = Array.isArray(res.change) ? (res.change as unknown[]) : [];
    let results: OutputResult[];
    try {
      results = p.outputs.map((o, i): OutputResult => {
        const sig = change[i] as { amount?: unknown } | undefined;
        if (i >= change.length || !sig) return { row: o.row, signed: null, proof: null };
        const amount = Number(sig.amount);
        if (!Number.isSafeInteger(amount) || amount <= 0) return { row: o.row, signed: 0, proof: null };
        return unblind(o.row, sig, amount, p.keys);
      });
    } catch (err) {
      this.d.log.error?.({ spend: p.spendId, err: errMsg(err) }, 'spend: could not unblind the melt change, left for resolve');
      return { kind: 'in_doubt' };
    }
    const preimage = typeof res.payment_preimage === 'string' && res.payment_preimage ? res.payment_preimage : null;
    return this.commit(p, results, preimage, hooks);
  }

  /** One transaction: outputs → done (+ proofs) / invalid / failed, inputs → sent, the caller's part. */
  private async commit<T>(p: PreparedSpend, results: readonly OutputResult[], preimage: string | null, hooks: SpendHooks<T>): Promise<SpendOutcome<T>> {
    const complete = p.kind === 'swap' && results.slice(0, p.payoutCount).every((r) => r.proof !== null);
    const from: OutputState = p.kind === 'melt' ? 'blank' : 'pending';
    const invalid = results.filter((r) => r.signed !== null && r.proof === null);
    let value: T;
    try {
      value = await this.d.db.tx(async (sql) => {
        const now = Date.now();
        const payout: WalletProof[] = [];
        let kept = 0;
        for (const [i, r] of results.entries()) {
          const moved = r.proof
            ? await sql.run(`UPDATE wallet_outputs SET state = 'done', amount = ?, updated_at = ? WHERE b_ = ? AND state = ?`, [r.proof.amount, now, r.row.b_, from])
            : await sql.run(`UPDATE wallet_outputs SET state = ?, amount = ?, updated_at = ? WHERE b_ = ? AND state = ?`,
                [r.signed === null ? 'failed' : 'invalid', r.signed ?? r.row.amount, now, r.row.b_, from]);
          if (moved !== 1) throw new Error('spend: an output is no longer ' + from + ' (resolved concurrently?)');
          if (!r.proof) continue;
          if (p.kind === 'swap' && i < p.payoutCount && complete) {
            await this.d.holdings.insertProof(sql, payoutJobId(p.spendId), p.mint, r.proof, 'sent', now);
            payout.push(r.proof);
          } else {
            await this.d.holdings.insertProof(sql, p.spendId, p.mint, r.proof, 'held', now);
            kept += r.proof.amount;
          }
        }
        await this.consume(sql, p.spendId, now);
        return hooks.happened(sql, { spentSats: sumOf(p.inputs), keptSats: kept, payout, complete, preimage });
      });
    } catch (err) {
      this.d.log.error?.({ spend: p.spendId, err: errMsg(err) }, 'spend: the outcome could not be stored, left for resolve');
      return { kind: 'in_doubt' };
    }
    for (const r of invalid) {
      this.d.log.error?.({ spend: p.spendId, amount: r.signed }, 'spend: THE MINT RETURNED AN INVALID SIGNATURE — its sats are missing');
      this.d.onInvalid(p.spendId, r.signed ?? 0);
    }
    return { kind: 'done', value };
  }

  /** One transaction: outputs → failed, inputs reserved → held, the caller's part. */
  private async refuse<T>(p: PreparedSpend, hooks: SpendHooks<T>, reason: string, mintCode?: number): Promise<SpendOutcome<T>> {
    const from: OutputState = p.kind === 'melt' ? 'blank' : 'pending';
    await this.d.db.tx(async (sql) => {
      for (const o of p.outputs) await this.d.holdings.moveOutput(sql, o.row.b_, [from], 'failed');
      await this.release(sql, p.spendId);
      await hooks.refused(sql, reason);
    });
    if (mintCode !== undefined && SPENT_OR_INVALID.has(mintCode)) {
      // Held proofs the mint calls spent or invalid: the books hold sats the wallet does not have.
      this.d.log.error?.({ spend: p.spendId, mintCode, inputs: p.inputs.length }, 'spend: THE MINT SAYS HELD PROOFS ARE SPENT OR INVALID — check the holdings');
    } else {
      this.d.log.info?.({ spend: p.spendId, reason }, 'spend: the mint refused; inputs back in the holdings');
    }
    return { kind: 'refused', reason };
  }

  private async reserve(sql: SqlExecutor, spendId: string, inputs: readonly ProofRow[], now: number): Promise<void> {
    await this.d.holdings.moveProofs(sql, inputs.map((r) => r.secret), 'held', 'reserved', now);
    for (const r of inputs) await sql.run(`INSERT INTO wallet_reservations (spend_id, secret, created_at) VALUES (?, ?, ?)`, [spendId, r.secret, now]);
  }

  /** reserved → held; the reservation is forgotten. */
  private async release(sql: SqlExecutor, spendId: string, now = Date.now()): Promise<void> {
    await sql.run(
      `UPDATE wallet_proofs SET state = 'held', updated_at = ? WHERE state = 'reserved' AND secret IN (SELECT secret FROM wallet_reservations WHERE spend_id = ?)`,
      [now, spendId],
    );
    await sql.run(`DELETE FROM wallet_reservations WHERE spend_id = ?`, [spendId]);
  }

  /** reserved → sent; the reservation stays as the record of what paid for the spend. */
  private async consume(sql: SqlExecutor, spendId: string, now = Date.now()): Promise<void> {
    await sql.run(
      `UPDATE wallet_proofs SET state = 'sent', updated_at = ? WHERE state = 'reserved' AND secret IN (SELECT secret FROM wallet_reservations WHERE spend_id = ?)`,
      [now, spendId],
    );
  }

  private async inflight<T>(p: PreparedSpend, fn: () => Promise<SpendOutcome<T>>): Promise<SpendOutcome<T>> {
    for (const o of p.outputs) this.d.inflight.add(o.row.b_);
    try {
      return await fn();
    } finally {
      for (const o of p.outputs) this.d.inflight.delete(o.row.b_);
    }
  }
}

/** A signature unblinded into a proof (null when it fails its checks). Unexpected errors throw. */
function unblind(row: NewOutput, sig: unknown, amount: number, keys: Record<string, string>): OutputResult {
  const K = keys[String(amount)];
  const ws = wellFormedSignature(sig, { amount, id: row.keyset_id, B_: row.b_ });
  if (!K || !ws) return { row, signed: amount, proof: null };
  try {
    const proof = unblindSignature({ keysetId: row.keyset_id, amount, secret: row.secret, r: row.r, B_: row.b_, C_: ws.C_, dleq: ws.dleq ?? null, K });
    return { row, signed: amount, proof };
  } catch (err) {
    if (err instanceof InvalidSignatureError) return { row, signed: amount, proof: null };
    throw err;
  }
}

function inputOf(p: ProofRow): SwapInputJson {
  return { amount: Number(p.amount), id: p.keyset_id, secret: p.secret, C: p.c };
}

function mintDetail(err: MintRequestError): string {
  return err.message.replace(/^[a-z_]+: /, '');
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
