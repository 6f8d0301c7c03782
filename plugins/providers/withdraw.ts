import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProofRow } from '../../src/cashu/holdings.js';
import type { KeysetKeys } from '../../src/cashu/keysets.js';
import { encodePayout, type PayoutFormat } from '../../src/cashu/token-format.js';
import { SpendError, selectCovering, selectExactProofs, selectExactWithFee, type SpendHooks, type SpendOutcome } from '../../src/cashu/spend.js';
import { GatewayError } from '../../src/errors.js';
import { GATEWAY_ACCOUNT as GATEWAY, UNSETTLED_JOB_IDS } from '../../src/ledger/jobs.js';
import { debit, InsufficientBalanceError, type WithdrawalRow, type WithdrawalsRepo } from '../../src/ledger/withdrawals.js';
import type { GatewayMetrics } from '../../src/metrics/registry.js';
import type { MoneyServices } from '../../src/money/services.js';
import type { Db, SqlExecutor } from '../../src/store/db.js';

/** Proofs of these jobs are never spent by a withdrawal (settlement pays change from them). */
export const LOCKED_JOBS = UNSETTLED_JOB_IDS;

export type WithdrawResult =
  | { status: 'paid'; withdrawal: WithdrawalRow }
  | { status: 'pending'; withdrawal: WithdrawalRow };

const amountOf = (r: ProofRow): number => Number(r.amount);

/**
 * Withdrawals of an account's balance, paid from the proofs the gateway holds (of any settled
 * job: one pool of the gateway's money):
 * - ecash: an exact subset of held proofs is handed over as it is, in one transaction that also
 *   debits the balance (no mint call, no fee); when none exists, ONE swap (NUT-03) of a covering
 *   subset into [amount + remainder], the mint's input fee paid by the withdrawing account;
 * - lightning: a melt quote (NUT-05), then the melt of a covering subset with blank outputs for
 *   the overpayment (NUT-08): the account is debited amount + the Lightning fee + input fees;
 *   the rest of the fee reserve comes back into the holdings.
 * The proofs of a swap or melt are reserved (and the sats held back from the balance) while the
 * mint works, so concurrent withdrawals never select the same proofs nor spend the same sats.
 */
export class Withdrawer {
  /** Withdrawals this process is executing: reconcile() leaves them alone. */
  private readonly running = new Set<string>();

  constructor(
    private readonly d: { db: Db; money: MoneyServices; repo: WithdrawalsRepo; log: Logger; metrics: GatewayMetrics },
  ) {}

  async ecash(account: string, req: { amount?: number; format: PayoutFormat }): Promise<WithdrawResult> {
    try {
      return await this.ecashOf(account, req);
    } catch (err) {
      throw apiErrorOf(err, 'withdrawal_failed');
    }
  }

  async lightning(account: string, invoice: string): Promise<WithdrawResult> {
    try {
      return await this.lightningOf(account, invoice);
    } catch (err) {
      throw apiErrorOf(err, 'withdrawal_failed');
    }
  }

  private async ecashOf(account: string, req: { amount?: number; format: PayoutFormat }): Promise<WithdrawResult> {
    const { money, repo, db } = this.d;
    const spender = money.wallet.spender;
    const before = await repo.available(db, account);
    if (before <= 0) throw insufficient(account, before, req.amount);
    // Keysets (fees, output keys) are needed for a swap only: an exact withdrawal works with the mint down.
    const { keysets, error } = await this.prepareMints();
    const id = newId();
    const plan = await db.tx(async (sql) => {
      const available = await repo.available(sql, account);
      const want = req.amount ?? available;
      if (want <= 0 || want > available) throw insufficient(account, available, want);
      const mints = await this.mintsBySpendable(sql);
      for (const mint of mints) {
        const exact = selectExactProofs(await spender.spendable(sql, mint, LOCKED_JOBS), want);
        if (!exact) continue;
        const token = encodePayout(req.format, mint, await spender.take(sql, exact));
        await repo.open(sql, { id, account, kind: 'ecash', state: 'done', mint, amount_sats: want, hold_sats: 0, debited_sats: want, token, format: req.format });
        await debit(sql, account, want).catch((err: unknown) => {
          throw err instanceof InsufficientBalanceError ? insufficient(account, err.available, want) : err;
        });
        return { kind: 'paid' as const };
      }
      for (const mint of mints.filter((m) => keysets.has(m))) {
        const rows = await spender.spendable(sql, mint, LOCKED_JOBS);
        const feeOf = (c: readonly ProofRow[]) => spender.inputFee(mint, c);
        // "All of it": inputs covering the balance, the payout is what is left after their fee.
        const cover = req.amount === undefined ? selectCovering(rows, want, amountOf, () => 0) : selectCovering(rows, want, amountOf, feeOf);
        if (!cover) continue;
        const fee = feeOf(cover);
        const payout = req.amount === undefined ? want - fee : want;
        if (payout <= 0 || payout + fee > available) throw insufficient(account, available, payout + fee, fee);
        const prepared = await spender.planSwap(sql, id, mint, keysets.get(mint)!, cover, payout);
        await repo.open(sql, { id, account, kind: 'ecash', state: 'swapping', mint, amount_sats: payout, hold_sats: payout + fee, format: req.format });
        return { kind: 'swap' as const, prepared };
      }
      if (error !== undefined && mints.some((m) => !keysets.has(m))) throw error; // the swap needs a mint that cannot be reached
      throw new GatewayError('balance_locked');
    });
    if (plan.kind === 'swap') {
      const out = await this.run(id, (hooks) => spender.executeSwap(plan.prepared, hooks), this.hooks(id));
      return this.result(id, out);
    }
    const w = (await repo.get(id))!;
    this.d.log.info({ withdrawal: id, account, kind: 'ecash', sats: w.amount_sats }, 'withdrawal paid from held proofs');
    this.count(w);
    return { status: 'paid', withdrawal: w };
  }

  private async lightningOf(account: string, invoice: string): Promise<WithdrawResult> {
    const { money, repo, db } = this.d;
    const spender = money.wallet.spender;
    const before = await repo.available(db, account);
    if (before <= 0) throw insufficient(account, before);
    // The quote is the mint's: ask the mint that holds the most spendable sats.
    const mint = (await db.tx((sql) => this.mintsBySpendable(sql)))[0] ?? money.wallet.mints[0];
    if (!mint) throw new GatewayError('balance_locked', 'the gateway holds no proofs at a trusted mint');
    const keyset = await this.prepareMint(mint);
    let quote;
    try {
      quote = await spender.meltQuote(mint, invoice);
    } catch (err) {
      throw apiErrorOf(err, 'invoice_invalid');
    }
    const id = newId();
    const prepared = await db.tx(async (sql) => {
      const available = await repo.available(sql, account);
      const base = quote.amount + quote.feeReserve;
      if (base > available) throw insufficient(account, available, base);
      const rows = await spender.spendable(sql, mint, LOCKED_JOBS);
      const feeOf = (c: readonly ProofRow[]) => spender.inputFee(mint, c);
      const cover = selectExactWithFee(rows, base, feeOf) ?? selectCovering(rows, base, amountOf, feeOf);
      if (!cover) throw new GatewayError('balance_locked');
      const hold = base + feeOf(cover);
      if (hold > available) throw insufficient(account, available, hold, hold - quote.amount);
      const p = await spender.planMelt(sql, id, mint, keyset, cover, quote);
      await repo.open(sql, { id, account, kind: 'lightning', state: 'melting', mint, amount_sats: quote.amount, hold_sats: hold, quote: quote.quote, invoice });
      return p;
    });
    const out = await this.run(id, (hooks) => spender.executeMelt(prepared, hooks), this.hooks(id));
    return this.result(id, out);
  }

  /**
   * Settles withdrawals whose mint answer was lost (a crash, a timeout) and that no request of
   * this process is executing, opened at least minAgeMs ago: a swap by restoring its outputs
   * (NUT-09), a melt by its quote's state. Returns how many were settled.
   */
  async reconcile(minAgeMs: number, now = Date.now()): Promise<number> {
    let settled = 0;
    for (const w of await this.d.repo.inFlight(now - minAgeMs)) {
      if (this.running.has(w.id)) continue;
      try {
        const out = await this.run(w.id, (hooks) =>
          this.d.money.wallet.spender.resolve({ kind: w.kind === 'ecash' ? 'swap' : 'melt', spendId: w.id, mint: w.mint, quote: w.quote }, hooks), this.hooks(w.id));
        if (out.kind === 'in_doubt') continue;
        settled++;
        const after = await this.d.repo.get(w.id);
        this.d.log.warn({ withdrawal: w.id, account: w.account, state: after?.state, debited: after?.debited_sats }, 'settled a withdrawal whose mint answer was lost');
        if (after) this.count(after);
      } catch (err) {
        this.d.log.error({ withdrawal: w.id, err: err instanceof Error ? err.message : String(err) }, 'withdrawal could not be settled now; retried later');
      }
    }
    return settled;
  }

  /** The ledger's part of a spend, in the spend's transactions. */
  private hooks(id: string): SpendHooks<WithdrawalRow> {
    const { repo, money } = this.d;
    return {
      happened: async (sql: SqlExecutor, h) => {
        const w = await repo.get(id, sql);
        if (!w) throw new Error(`withdrawal ${id} is not in the journal`);
        const debited = h.spentSats - h.keptSats;
        if (w.kind === 'ecash' && !h.complete) return repo.fail(sql, id, 'the mint did not sign the whole payout; only the fee was debited', debited);
        const token = h.payout.length > 0 ? encodePayout((w.format as PayoutFormat | null) ?? 'B', w.mint, h.payout) : null;
        return repo.complete(sql, id, { debited, fee: debited - Number(w.amount_sats), token, preimage: h.preimage });
      },
      refused: async (sql: SqlExecutor, reason: string) => {
        await repo.fail(sql, id, reason.slice(0, 300));
      },
    };
  }

  private async run(id: string, fn: (hooks: SpendHooks<WithdrawalRow>) => Promise<SpendOutcome<WithdrawalRow>>, hooks: SpendHooks<WithdrawalRow>): Promise<SpendOutcome<WithdrawalRow>> {
    this.running.add(id);
    try {
      return await fn(hooks);
    } finally {
      this.running.delete(id);
    }
  }

  private async result(id: string, out: SpendOutcome<WithdrawalRow>): Promise<WithdrawResult> {
    const w = (await this.d.repo.get(id))!;
    const log = { withdrawal: id, account: w.account, kind: w.kind, sats: w.amount_sats, fee: w.fee_sats };
    if (out.kind === 'in_doubt') {
      this.d.log.warn(log, 'withdrawal in doubt: the mint did not answer; it is settled when the mint can tell');
      return { status: 'pending', withdrawal: w };
    }
    this.count(w);
    if (out.kind === 'refused' || w.state !== 'done') {
      this.d.log.info({ ...log, state: w.state }, 'withdrawal refused by the mint');
      throw new GatewayError('withdrawal_failed', `the mint refused the withdrawal (${w.error ?? 'refused'}); ${w.debited_sats > 0 ? `${w.debited_sats} sats of fees were debited` : 'the balance is whole'}`);
    }
    this.d.log.info(log, 'withdrawal paid');
    return { status: 'paid', withdrawal: w };
  }

  private count(w: WithdrawalRow): void {
    if (w.state === 'done') this.d.metrics.sats.inc({ kind: w.kind === 'ecash' ? 'withdrawn_ecash' : 'withdrawn_lightning' }, Number(w.amount_sats));
    if (Number(w.fee_sats) > 0) this.d.metrics.sats.inc({ kind: 'withdrawal_fee' }, Number(w.fee_sats));
  }

  /** Keysets (fees, output keys) of every mint the gateway may hold proofs of; unreachable ones are left out (error: the first failure). */
  private async prepareMints(): Promise<{ keysets: Map<string, KeysetKeys>; error?: Error }> {
    const mints = new Set<string>(this.d.money.wallet.mints);
    for (const mint of await this.d.money.wallet.holdings.heldMints()) mints.add(mint);
    const keysets = new Map<string, KeysetKeys>();
    let error: Error | undefined;
    for (const mint of mints) {
      try {
        keysets.set(mint, await this.prepareMint(mint));
      } catch (err) {
        error ??= err as Error;
      }
    }
    return { keysets, error };
  }

  private async prepareMint(mint: string): Promise<KeysetKeys> {
    try {
      return await this.d.money.wallet.spender.prepareMint(mint);
    } catch (err) {
      throw apiErrorOf(err, 'withdrawal_failed');
    }
  }

  /** Mints by spendable sats, most first. */
  private async mintsBySpendable(sql: SqlExecutor): Promise<string[]> {
    const sums = await this.d.money.wallet.spender.spendableByMint(sql, LOCKED_JOBS);
    return [...sums].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).map(([m]) => m);
  }
}

function newId(): string {
  return `wd:${randomBytes(12).toString('base64url')}`;
}

function insufficient(account: string, available: number, wanted?: number, fee = 0): GatewayError {
  const who = account === GATEWAY ? 'the gateway' : account.replace(/^provider:/, '');
  const fees = fee > 0 ? ` (${fee} sats of it mint fees)` : '';
  const needs = wanted === undefined ? '' : `; this withdrawal needs ${wanted}${fees}`;
  return new GatewayError('insufficient_balance', `${who} has ${Math.max(0, available)} sats available${needs}`);
}

function apiErrorOf(err: unknown, refused: 'invoice_invalid' | 'withdrawal_failed'): Error {
  if (err instanceof GatewayError || err instanceof InsufficientBalanceError) return err;
  if (err instanceof SpendError) {
    if (err.reason === 'unreachable') return new GatewayError('cashu_mint_unreachable');
    return new GatewayError(refused, `${refused === 'invoice_invalid' ? 'the mint will not pay this invoice' : 'the withdrawal cannot be made'}: ${err.message}`);
  }
  if (err instanceof GatewayError && err.code === 'cashu_mint_unreachable') return new GatewayError('cashu_mint_unreachable');
  return err instanceof Error ? err : new GatewayError('internal_error');
}
