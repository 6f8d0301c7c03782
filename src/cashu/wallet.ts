// The gateway's wallet: check a client's token, claim it in ONE swap, pay change from what the
// claim produced, recover swaps whose answer was lost.
//
// Money contract (ARCHITECTURE "Money rules"):
// - inspect() never talks to the mint except to load keysets: nothing is claimed.
// - claim() makes exactly one POST /v1/swap. Its blinded outputs are committed ('pending')
//   BEFORE the request; the mint's blind signatures (outputs → 'signed') commit in one
//   transaction AFTER. That is the claim: everything a proof is made of is then durable, and its
//   sats count as held. If the mint may have executed a swap whose answer we lost, the outputs
//   stay pending and ClaimInDoubtError is thrown; recoverPending() settles them.
//   A caller with its own record of the claim (the job journal) writes it in the same two
//   transactions: planClaim() + storePending() inside its transaction before the swap,
//   executeClaim(prepared, whenClaimed) inside the one after.
// - Unblinding (C = C_ − r·K, ~5 ms of curve arithmetic per output, DLEQ check included) is
//   kept off the request path and out of store transactions: a background queue after the
//   claim, prepareTake() right before the settle transaction, and for signatures a stopped
//   process left, recoverPending(); takeProofs() does in its transaction only what is still
//   left (rare: outputs this process never queued, a retried transaction). A signature
//   that fails its DLEQ check is never stored as a proof (so never paid out): its output is
//   marked 'invalid', logged loudly and reported to onInvalidSignatures.
// - The blinded outputs' secrets, r and B_ are made ahead of time (pool.ts), in memory only,
//   each used once.
// - takeProofs() runs inside the caller's transaction: exact amount, held → sent.
// - Nothing here logs a token, proof, secret, C, blinding factor or receipt.

import { GatewayError } from '../errors.js';
import type { Db, SqlExecutor } from '../store/db.js';
import { Holdings, rowToProof } from './holdings.js';
import { MintKeysets } from './keysets.js';
import { MintClient, MintRequestError } from './mint-client.js';
import { ClaimInDoubtError, gatewayErrorOf } from './mint-errors.js';
import { normalizeMintUrl, tryNormalizeMintUrl } from './mint-url.js';
import { BackgroundRunner } from './background.js';
import { createOutputs, wellFormedSignature, type BlindSignatureJson, type PreparedOutput } from './outputs.js';
import { BlindingPool } from './pool.js';
import { recoverPendingOutputs } from './recovery.js';
import { Spender } from './spend.js';
import { Unblinder, type UnblindItem } from './unblinder.js';
import { claimDenominations, selectExactItems } from './split.js';
import { checkProofs, decodeTokenProofs, encodeToken, readTokenHeader } from './token-format.js';
import type { ClaimPlan, ClaimResult, InspectedToken, MintRequestHook, PreparedClaim, SwapInputJson, TokenFormat, WalletLogger, WalletProof } from './types.js';

export interface GatewayWalletOptions {
  db: Db;
  /** Trusted mint URLs (normalized: scheme/host case, trailing slash). */
  mints: readonly string[];
  log?: WalletLogger;
  onMintRequest?: MintRequestHook;
  /** Called once per job whose sats recoverPending() restored. */
  onRecovered?: (jobId: string, sats: number) => void;
  /**
   * Sats of a job lost to mint signatures that failed verification (DLEQ) or did not match the
   * output: an error metric. The outputs are kept as 'invalid' for audit. May count twice when
   * it happens inside a settle transaction that is then retried.
   */
  onInvalidSignatures?: (jobId: string, sats: number) => void;
  /** Blindings kept ready for claims (pool.ts); default 64, 0 = make them during the claim. */
  blindingPoolSize?: number;
  /**
   * Unblind claimed outputs in the background right after the claim (default true). When false,
   * they stay 'signed' (held) until takeProofs() or recoverPending() needs them.
   */
  backgroundUnblinding?: boolean;
  /** Time between a claim and the background work it creates (BACKGROUND_DELAY_MS by default). */
  backgroundDelayMs?: number;
  /** Per mint request; default 10 s. */
  timeoutMs?: number;
  /** Least time between two keyset reloads triggered by unknown keyset ids; default 5 s. */
  keysetRefreshMs?: number;
  /** Age after which cached keysets are reloaded on next use (rotation); default 15 min. */
  keysetTtlMs?: number;
}

interface MintHandle {
  readonly client: MintClient;
  readonly keysets: MintKeysets;
}

const noop = (): void => undefined;

/**
 * Background work a claim creates (unblinding its outputs, refilling the blinding pool) starts
 * this long after it: the job's own first token goes out first. Settlement finishes on demand
 * whatever is left by then.
 */
const BACKGROUND_DELAY_MS = 250;

export class GatewayWallet {
  readonly holdings: Holdings;
  /** Spends the gateway's own proofs (withdrawals): spend.ts. */
  readonly spender: Spender;
  private readonly db: Db;
  private readonly log: WalletLogger;
  private readonly opts: GatewayWalletOptions;
  private readonly trusted = new Map<string, MintHandle>();
  private readonly others = new Map<string, MintHandle>();
  /** B_ of outputs whose claim is running in this process: recovery leaves them alone. */
  private readonly inflight = new Set<string>();
  /** The outputs made for each plan (makeOutputs), so a retried transaction stores the same ones. */
  private readonly made = new WeakMap<ClaimPlan, PreparedClaim>();
  /** Plans whose outputs a transaction wrote (maybe rolled back): their blindings never return to the pool. */
  private readonly written = new WeakSet<ClaimPlan>();
  private readonly pool: BlindingPool;
  private readonly unblinder: Unblinder;
  private readonly background: BackgroundRunner;

  constructor(opts: GatewayWalletOptions) {
    this.opts = opts;
    this.db = opts.db;
    this.log = opts.log ?? {};
    this.holdings = new Holdings(opts.db);
    for (const url of opts.mints) {
      const n = normalizeMintUrl(url);
      this.trusted.set(n, this.handle(n));
    }
    this.pool = new BlindingPool(Math.max(0, opts.blindingPoolSize ?? 64));
    this.unblinder = new Unblinder(opts.db, this.holdings, this.log, (jobId, sats) => (opts.onInvalidSignatures ?? noop)(jobId, sats));
    const tasks = [() => this.pool.refillOne(), ...(opts.backgroundUnblinding === false ? [] : [() => this.unblinder.step()])];
    this.background = new BackgroundRunner(tasks, (err) => this.log.error?.({ err: errMsg(err) }, 'wallet: background work failed'));
    this.spender = new Spender({
      db: opts.db,
      holdings: this.holdings,
      log: this.log,
      mint: (url) => this.trusted.get(url) ?? this.handleFor(url),
      blindings: (n) => {
        const b = this.pool.take(n);
        this.background.kick();
        return b;
      },
      inflight: this.inflight,
      onInvalid: (jobId, sats) => (opts.onInvalidSignatures ?? noop)(jobId, sats),
    });
  }

  /** Creates the wallet tables and starts filling the blinding pool. Keysets load lazily on first use. */
  async init(): Promise<void> {
    await this.holdings.init();
    this.background.kick();
  }

  /** Stops the background work, forgets pooled blindings, closes idle mint connections. Signed outputs stay in the store. */
  async close(): Promise<void> {
    this.background.stop();
    this.pool.clear();
    this.unblinder.clear();
    for (const h of [...this.trusted.values(), ...this.others.values()]) h.client.close();
  }

  /** Resolves when the background has nothing left to do (pool full, nothing to unblind). */
  whenIdle(): Promise<void> {
    return this.background.idle();
  }

  /** The trusted mints, normalized. */
  get mints(): string[] {
    return [...this.trusted.keys()];
  }

  /**
   * Decodes and checks an X-Cashu value, in this order: format → trusted mint → unit → keysets
   * (unknown id → one reload, then cashu_keyset_unknown) → amounts. Claims nothing.
   */
  async inspect(headerValue: string | undefined | null): Promise<InspectedToken> {
    const head = readTokenHeader(headerValue);
    const mintUrl = tryNormalizeMintUrl(head.mint);
    const mint = mintUrl === null ? undefined : this.trusted.get(mintUrl);
    if (mintUrl === null || !mint) throw new GatewayError('cashu_mint_untrusted');
    if (head.unit !== 'sat') throw new GatewayError('cashu_unit_unsupported');

    await mint.keysets.ensure();
    let decoded = decodeKnown(head.raw, mint.keysets);
    if (!decoded && (await mint.keysets.refresh())) decoded = decodeKnown(head.raw, mint.keysets);
    if (!decoded) throw new GatewayError('cashu_keyset_unknown');
    for (const p of decoded) {
      if (mint.keysets.get(p.id)?.unit !== 'sat') throw new GatewayError('cashu_unit_unsupported');
    }

    const { proofs, amount } = checkProofs(decoded);
    let ppk = 0;
    for (const p of proofs) {
      const ks = mint.keysets.get(p.id)!;
      if (ks.keys && ks.keys[String(p.amount)] === undefined) throw new GatewayError('cashu_amount_invalid', 'a proof amount has no key in its keyset');
      ppk += ks.inputFeePpk;
    }
    const inputFee = Math.floor((ppk + 999) / 1000);
    return { format: head.format, mint: mintUrl, unit: 'sat', amount, proofs, inputFee, raw: head.raw, hash: head.hash };
  }

  /** Claims an inspected token for `jobId`: exactly one swap. See the file header for the contract. */
  async claim(jobId: string, inspected: InspectedToken): Promise<ClaimResult> {
    return this.executeClaim(await this.prepareClaim(jobId, inspected));
  }

  /**
   * First half of claim(): planClaim(), then the outputs committed 'pending' in their own
   * transaction. The caller MUST then call executeClaim() (public for crash-recovery tests and tools).
   */
  async prepareClaim(jobId: string, inspected: InspectedToken): Promise<PreparedClaim> {
    const plan = await this.planClaim(jobId, inspected);
    try {
      this.makeOutputs(plan);
      return await this.db.tx((sql) => this.storePending(sql, plan));
    } catch (err) {
      this.dropPlan(plan);
      throw err;
    }
  }

  /**
   * Checks that the token can be claimed at its mint (fee, an active keyset for the amounts)
   * and fixes the claim's denominations. Makes no blinding, stores and sends nothing.
   */
  async planClaim(jobId: string, inspected: InspectedToken): Promise<ClaimPlan> {
    if (typeof jobId !== 'string' || jobId.length === 0) throw new TypeError('claim: jobId is required');
    const mint = this.trusted.get(inspected.mint);
    if (!mint) throw new GatewayError('cashu_mint_untrusted');
    const net = inspected.amount - inspected.inputFee;
    if (net <= 0) throw new GatewayError('cashu_amount_too_low', "the token does not cover the mint's input fee");
    const amounts = claimDenominations(net);
    const keyset = await mint.keysets.outputKeyset([...new Set(amounts)]);
    if (!keyset) throw new GatewayError('internal_error', 'the mint has no active sat keyset that can sign the claim');
    const inputs = inspected.proofs.map((p): SwapInputJson => ({
      amount: p.amount, id: p.id, secret: p.secret, C: p.C, ...(p.witness !== undefined && { witness: p.witness }),
    }));
    return { jobId, mint: inspected.mint, amount: net, fee: inspected.inputFee, keyset: { id: keyset.id, keys: keyset.keys }, amounts, inputs };
  }

  /**
   * The plan's blinded outputs, made once from pooled blindings (any missing ones are made now:
   * curve arithmetic). Call it BEFORE the transaction of storePending() so that no transaction
   * waits on it; storePending() calls it if not done.
   */
  makeOutputs(plan: ClaimPlan): PreparedClaim {
    let prepared = this.made.get(plan);
    if (!prepared) {
      const outputs = createOutputs(plan.amounts, plan.keyset.id, plan.jobId, plan.mint, this.pool.take(plan.amounts.length));
      this.background.kickAfter(this.opts.backgroundDelayMs ?? BACKGROUND_DELAY_MS);
      for (const o of outputs) this.inflight.add(o.row.b_);
      prepared = { jobId: plan.jobId, mint: plan.mint, amount: plan.amount, fee: plan.fee, keyset: plan.keyset, outputs,
        request: { inputs: plan.inputs, outputs: outputs.map((o) => o.message) } };
      this.made.set(plan, prepared);
    }
    return prepared;
  }

  /**
   * Inside the caller's transaction, which MUST commit before executeClaim() sends the swap:
   * the plan's blinded outputs written 'pending' (makeOutputs(); the same ones if the
   * transaction runs again after a rollback: they were never stored nor sent). A plan whose
   * transaction failed, or that will not be sent, MUST be given to dropPlan().
   */
  async storePending(sql: SqlExecutor, plan: ClaimPlan): Promise<PreparedClaim> {
    const prepared = this.makeOutputs(plan);
    // From here on its blindings leave the pool for good, even if this claim is never sent.
    this.written.add(plan);
    await this.holdings.insertOutputs(sql, prepared.outputs.map((o) => o.row));
    return prepared;
  }

  /**
   * A plan that will not be sent: recovery may settle its outputs if a transaction stored them.
   * Outputs no transaction ever wrote (e.g. the token had already paid) return their blindings
   * to the pool: they went nowhere.
   */
  dropPlan(plan: ClaimPlan): void {
    const outputs = this.made.get(plan)?.outputs ?? [];
    for (const o of outputs) this.inflight.delete(o.row.b_);
    if (!this.written.has(plan)) this.pool.putBack(outputs.map((o) => ({ secret: o.row.secret, r: o.row.r, B_: o.row.b_ })));
    this.made.delete(plan);
  }

  /**
   * Second half of claim(): the one POST /v1/swap, then the signatures committed 'signed'
   * (held) in one transaction. `whenClaimed(sql)` runs inside that same transaction when every
   * signature is usable (the caller's own record of the claim commits with the proofs, or not at all).
   */
  async executeClaim(prepared: PreparedClaim, whenClaimed?: (sql: SqlExecutor) => Promise<void>): Promise<ClaimResult> {
    const { jobId, outputs } = prepared;
    const mint = this.trusted.get(prepared.mint) ?? this.handleFor(prepared.mint);
    const started = Date.now();
    try {
      let res: { signatures?: unknown };
      try {
        res = await mint.client.post<{ signatures?: unknown }>('swap', '/v1/swap', prepared.request);
      } catch (err) {
        const mayHaveArrived = !(err instanceof MintRequestError) || err.mayHaveArrived;
        if (mayHaveArrived) {
          this.log.warn?.({ jobId, mint: prepared.mint, err: errMsg(err) }, 'wallet: claim in doubt, outputs left pending for restore');
          throw new ClaimInDoubtError(jobId);
        }
        const gerr = gatewayErrorOf(err);
        await this.db.tx(async (sql) => {
          for (const o of outputs) await this.holdings.moveOutput(sql, o.row.b_, ['pending'], 'failed');
        });
        if (gerr.code === 'cashu_keyset_unknown') mint.keysets.invalidate();
        this.log.info?.({ jobId, code: gerr.code, err: errMsg(err) }, 'wallet: mint refused the claim');
        throw gerr;
      }

      const sigs = Array.isArray(res.signatures) ? (res.signatures as unknown[]) : null;
      if (!sigs || sigs.length !== outputs.length) {
        this.log.error?.({ jobId, mint: prepared.mint }, 'wallet: swap answer malformed, outputs left pending for restore');
        throw new ClaimInDoubtError(jobId, 'internal_error', 'the mint answered the claim with malformed signatures');
      }
      // Only the cheap checks here; the curve arithmetic (DLEQ, unblinding) comes after the claim.
      const checked = outputs.map((o, i): { sig: BlindSignatureJson; K: string } | null => {
        const sig = wellFormedSignature(sigs[i], o.message);
        const K = prepared.keyset.keys[String(o.message.amount)];
        return sig && K ? { sig, K } : null;
      });
      const complete = checked.every((c) => c !== null);
      let signed: UnblindItem[];
      try {
        signed = await this.db.tx(async (sql) => {
          const usable: Array<{ o: PreparedOutput; sig: BlindSignatureJson; K: string }> = [];
          for (const [i, o] of outputs.entries()) {
            const c = checked[i];
            if (c) usable.push({ o, ...c });
            else await this.holdings.moveOutput(sql, o.row.b_, ['pending', 'failed'], 'invalid');
          }
          const moved = await this.holdings.signOutputs(sql, usable.map(({ o, sig, K }) => ({ b_: o.row.b_, c_: sig.C_, dleq: sig.dleq ? JSON.stringify(sig.dleq) : null, k: K })));
          const out = usable.filter(({ o }) => moved.has(o.row.b_)).map(({ o, sig, K }): UnblindItem => ({
            keysetId: o.row.keyset_id, amount: o.row.amount, secret: o.row.secret, r: o.row.r, B_: o.row.b_,
            C_: sig.C_, dleq: sig.dleq ?? null, K, jobId, mint: prepared.mint }));
          if (complete && whenClaimed) await whenClaimed(sql);
          return out;
        });
      } catch (err) {
        this.log.error?.({ jobId, err: errMsg(err) }, 'wallet: claimed signatures could not be stored, left pending for restore');
        throw new ClaimInDoubtError(jobId, 'internal_error', 'the claimed proofs could not be stored');
      }
      if (this.opts.backgroundUnblinding !== false) {
        this.unblinder.enqueue(signed);
        this.background.kickAfter(this.opts.backgroundDelayMs ?? BACKGROUND_DELAY_MS);
      }
      const bad = outputs.filter((_, i) => !checked[i]);
      if (bad.length > 0) {
        const sats = bad.reduce((n, o) => n + o.row.amount, 0);
        this.log.error?.({ jobId, bad: bad.length, sats }, 'wallet: THE MINT RETURNED SIGNATURES THAT DO NOT MATCH THE CLAIM — outputs marked invalid');
        (this.opts.onInvalidSignatures ?? noop)(jobId, sats);
        throw new GatewayError('internal_error', 'the mint returned invalid signatures for the claim');
      }
      this.log.debug?.({ jobId, amount: prepared.amount, fee: prepared.fee, ms: Date.now() - started }, 'wallet: claimed');
      return { amount: prepared.amount, fee: prepared.fee };
    } finally {
      for (const o of outputs) this.inflight.delete(o.row.b_);
    }
  }

  /**
   * Before the job's settle transaction, outside it: the CPU of unblinding its outputs (DLEQ
   * check, C = C_ − r·K) done now, so that takeProofs() in the transaction only writes rows and
   * the store is not held during curve arithmetic. Writes nothing (a crash after it loses
   * nothing); optional: takeProofs() finishes whatever is left.
   */
  prepareTake(jobId: string): Promise<void> {
    return this.unblinder.prepareJob(jobId);
  }

  /**
   * Inside the caller's settle transaction: held proofs of `jobId` summing to exactly `amount`,
   * marked sent. amount 0 → []. Throws when impossible (never, for a job's first takeProofs
   * with amount ≤ what its claim holds: claimDenominations guarantees it — unless the mint
   * returned invalid signatures, whose sats are missing).
   * First, every output of the job still 'signed' becomes a proof here, so after a settle the
   * job has only proofs: with the results of prepareTake() (or of the background) only rows are
   * written; outputs not unblinded yet are unblinded here (CPU, in this transaction).
   */
  async takeProofs(sql: SqlExecutor, jobId: string, amount: number): Promise<WalletProof[]> {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`takeProofs: bad amount ${amount}`);
    await this.unblinder.finishJob(sql, jobId);
    if (amount === 0) return [];
    const rows = await this.holdings.proofsOfJob(sql, jobId, 'held');
    const chosen = selectExactItems(rows, amount, (r) => Number(r.amount));
    if (!chosen) throw new Error(`wallet: job holds no exact ${amount} sats (held ${rows.reduce((s, r) => s + Number(r.amount), 0)})`);
    await this.holdings.moveProofs(sql, chosen.map((r) => r.secret), 'held', 'sent');
    return chosen.map(rowToProof);
  }

  /** A token of `proofs` in the client's format ('' for none). See token-format.ts for fields. */
  encodeFor(format: TokenFormat, mint: string, proofs: readonly WalletProof[]): string {
    return encodeToken(format, mint, proofs);
  }

  /**
   * 1. Unblinds outputs left 'signed' (claimed; signed more than minAgeMs ago and not queued
   *    in this process): their sats were held all along, so they are not counted as recovered.
   * 2. NUT-09 restore of outputs still pending (older than minAgeMs, not claimed right now by
   *    this process): signed → held proofs of the same job; never signed → 'failed' (the
   *    client's token was not spent by that swap). Mints that cannot be reached are left for
   *    the next run.
   * Returns the sats restored in 2. Run it at start-up and periodically (then with minAgeMs ≥
   * 2× the mint timeout so other replicas' claims in flight are not marked failed).
   */
  async recoverPending(opts: { minAgeMs?: number } = {}): Promise<number> {
    const cutoff = Date.now() - (opts.minAgeMs ?? 0);
    const signed = (await this.holdings.signedOutputs(this.db, { signedBefore: cutoff })).filter((r) => !this.unblinder.has(r.b_));
    if (signed.length > 0) {
      await this.unblinder.finishStored(signed);
      this.log.info?.({ outputs: signed.length }, 'wallet: unblinded signed outputs left by an earlier run');
    }
    const rows = (await this.holdings.pendingOutputs(cutoff)).filter((r) => !this.inflight.has(r.b_));
    const byJob = await recoverPendingOutputs(rows, {
      db: this.db,
      holdings: this.holdings,
      log: this.log,
      mintFor: (url) => this.trusted.get(url) ?? this.handleFor(url),
      onInvalid: (jobId, sats) => (this.opts.onInvalidSignatures ?? noop)(jobId, sats),
    });
    let total = 0;
    for (const [jobId, sats] of byJob) {
      total += sats;
      (this.opts.onRecovered ?? noop)(jobId, sats);
    }
    return total;
  }

  /** Σ sats held (all jobs): proofs held plus claimed outputs not unblinded yet. */
  heldBalance(): Promise<number> {
    return this.holdings.heldSum();
  }

  /** Σ sats held for one job (as heldBalance). */
  heldByJob(jobId: string): Promise<number> {
    return this.holdings.heldSum(jobId);
  }

  /** Outputs whose swap outcome is not known yet. */
  pendingOutputCount(): Promise<number> {
    return this.holdings.countOutputs('pending');
  }

  /** Claimed outputs not unblinded yet (their sats are held). */
  signedOutputCount(): Promise<number> {
    return this.holdings.countOutputs('signed');
  }

  private handle(url: string): MintHandle {
    const client = new MintClient(url, { timeoutMs: this.opts.timeoutMs, onMintRequest: this.opts.onMintRequest });
    return { client, keysets: new MintKeysets(client, this.opts.keysetRefreshMs, this.opts.keysetTtlMs) };
  }

  /** A mint no longer trusted may still owe us pending outputs: talk to it for restore only. */
  private handleFor(url: string): MintHandle {
    let h = this.others.get(url);
    if (!h) this.others.set(url, (h = this.handle(url)));
    return h;
  }
}

/** Proofs of the token when every keyset id is known to the mint, else null. */
function decodeKnown(raw: string, keysets: MintKeysets) {
  try {
    const proofs = decodeTokenProofs(raw, keysets.ids());
    return proofs.every((p) => keysets.get(p.id) !== undefined) ? proofs : null;
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'cashu_keyset_unknown') return null;
    throw err;
  }
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
