// The gateway's wallet: check a client's token, claim it in ONE swap, pay change from what the
// claim produced, recover swaps whose answer was lost.
//
// Money contract (ARCHITECTURE "Money rules"):
// - inspect() never talks to the mint except to load keysets: nothing is claimed.
// - claim() makes exactly one POST /v1/swap. Its blinded outputs are committed ('pending')
//   BEFORE the request; the unblinded proofs ('held', job_id) and outputs → 'done' commit in
//   one transaction AFTER. If the mint may have executed a swap whose answer we lost, the
//   outputs stay pending and ClaimInDoubtError is thrown; recoverPending() settles them.
// - takeProofs() runs inside the caller's transaction: exact amount, held → sent.
// - Nothing here logs a token, proof, secret, C, blinding factor or receipt.

import { GatewayError } from '../errors.js';
import type { Db, SqlExecutor } from '../store/db.js';
import { Holdings, rowToProof } from './holdings.js';
import { MintKeysets } from './keysets.js';
import { MintClient, MintRequestError } from './mint-client.js';
import { ClaimInDoubtError, gatewayErrorOf } from './mint-errors.js';
import { normalizeMintUrl, tryNormalizeMintUrl } from './mint-url.js';
import { createOutputs, unblind, type BlindSignatureJson } from './outputs.js';
import { recoverPendingOutputs } from './recovery.js';
import { claimDenominations, selectExactItems } from './split.js';
import { checkProofs, decodeTokenProofs, encodeToken, readTokenHeader } from './token-format.js';
import type { ClaimResult, InspectedToken, MintRequestHook, PreparedClaim, SwapInputJson, TokenFormat, WalletLogger, WalletProof } from './types.js';

export interface GatewayWalletOptions {
  db: Db;
  /** Trusted mint URLs (normalized: scheme/host case, trailing slash). */
  mints: readonly string[];
  log?: WalletLogger;
  onMintRequest?: MintRequestHook;
  /** Called once per job whose sats recoverPending() restored. */
  onRecovered?: (jobId: string, sats: number) => void;
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

export class GatewayWallet {
  readonly holdings: Holdings;
  private readonly db: Db;
  private readonly log: WalletLogger;
  private readonly opts: GatewayWalletOptions;
  private readonly trusted = new Map<string, MintHandle>();
  private readonly others = new Map<string, MintHandle>();
  /** B_ of outputs whose claim is running in this process: recovery leaves them alone. */
  private readonly inflight = new Set<string>();

  constructor(opts: GatewayWalletOptions) {
    this.opts = opts;
    this.db = opts.db;
    this.log = opts.log ?? {};
    this.holdings = new Holdings(opts.db);
    for (const url of opts.mints) {
      const n = normalizeMintUrl(url);
      this.trusted.set(n, this.handle(n));
    }
  }

  /** Creates the wallet tables. Keysets load lazily on first use. */
  async init(): Promise<void> {
    await this.holdings.init();
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
   * First half of claim(): builds the outputs and commits them 'pending'. The caller MUST then
   * call executeClaim() (public for crash-recovery tests and tools).
   */
  async prepareClaim(jobId: string, inspected: InspectedToken): Promise<PreparedClaim> {
    if (typeof jobId !== 'string' || jobId.length === 0) throw new TypeError('claim: jobId is required');
    const mint = this.trusted.get(inspected.mint);
    if (!mint) throw new GatewayError('cashu_mint_untrusted');
    const net = inspected.amount - inspected.inputFee;
    if (net <= 0) throw new GatewayError('cashu_amount_too_low', "the token does not cover the mint's input fee");
    const amounts = claimDenominations(net);
    const keyset = await mint.keysets.outputKeyset([...new Set(amounts)]);
    if (!keyset) throw new GatewayError('internal_error', 'the mint has no active sat keyset that can sign the claim');
    const outputs = createOutputs(amounts, keyset, jobId, inspected.mint);
    for (const o of outputs) this.inflight.add(o.row.b_);
    try {
      await this.db.tx((sql) => this.holdings.insertOutputs(sql, outputs.map((o) => o.row)));
    } catch (err) {
      for (const o of outputs) this.inflight.delete(o.row.b_);
      throw err;
    }
    const inputs = inspected.proofs.map((p): SwapInputJson => ({
      amount: p.amount, id: p.id, secret: p.secret, C: p.C, ...(p.witness !== undefined && { witness: p.witness }),
    }));
    return { jobId, mint: inspected.mint, amount: net, fee: inspected.inputFee, keyset: { id: keyset.id, keys: keyset.keys },
      outputs, request: { inputs, outputs: outputs.map((o) => o.message) } };
  }

  /** Second half of claim(): the one POST /v1/swap, then the proofs committed 'held'. */
  async executeClaim(prepared: PreparedClaim): Promise<ClaimResult> {
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

      const sigs = Array.isArray(res.signatures) ? (res.signatures as BlindSignatureJson[]) : null;
      if (!sigs || sigs.length !== outputs.length) {
        this.log.error?.({ jobId, mint: prepared.mint }, 'wallet: swap answer malformed, outputs left pending for restore');
        throw new ClaimInDoubtError(jobId, 'internal_error', 'the mint answered the claim with malformed signatures');
      }
      const proofs = outputs.map((o, i): WalletProof | null => {
        try {
          return unblind(o.data, sigs[i]!, prepared.keyset);
        } catch {
          return null;
        }
      });
      const bad = proofs.filter((p) => p === null).length;
      try {
        await this.db.tx(async (sql) => {
          for (const [i, o] of outputs.entries()) {
            const p = proofs[i];
            if (!p) {
              await this.holdings.moveOutput(sql, o.row.b_, ['pending', 'failed'], 'invalid');
            } else if (await this.holdings.moveOutput(sql, o.row.b_, ['pending', 'failed'], 'done')) {
              await this.holdings.insertProof(sql, jobId, prepared.mint, p);
            }
          }
        });
      } catch (err) {
        this.log.error?.({ jobId, err: errMsg(err) }, 'wallet: claimed proofs could not be stored, left pending for restore');
        throw new ClaimInDoubtError(jobId, 'internal_error', 'the claimed proofs could not be stored');
      }
      if (bad > 0) {
        this.log.error?.({ jobId, bad }, 'wallet: the mint returned signatures that failed verification');
        throw new GatewayError('internal_error', 'the mint returned invalid signatures for the claim');
      }
      this.log.debug?.({ jobId, amount: prepared.amount, fee: prepared.fee, ms: Date.now() - started }, 'wallet: claimed');
      return { amount: prepared.amount, fee: prepared.fee };
    } finally {
      for (const o of outputs) this.inflight.delete(o.row.b_);
    }
  }

  /**
   * Inside the caller's settle transaction: held proofs of `jobId` summing to exactly `amount`,
   * marked sent. amount 0 → []. Throws when impossible (never, for a job's first takeProofs
   * with amount ≤ what its claim holds: claimDenominations guarantees it).
   */
  async takeProofs(sql: SqlExecutor, jobId: string, amount: number): Promise<WalletProof[]> {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`takeProofs: bad amount ${amount}`);
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
   * NUT-09 restore of outputs still pending (older than minAgeMs, not claimed right now by this
   * process): signed → held proofs of the same job; never signed → 'failed' (the client's token
   * was not spent by that swap). Mints that cannot be reached are left for the next run.
   * Returns the sats recovered. Run it at start-up and periodically (then with minAgeMs ≥ 2×
   * the mint timeout so other replicas' claims in flight are not marked failed).
   */
  async recoverPending(opts: { minAgeMs?: number } = {}): Promise<number> {
    const rows = (await this.holdings.pendingOutputs(Date.now() - (opts.minAgeMs ?? 0))).filter((r) => !this.inflight.has(r.b_));
    const byJob = await recoverPendingOutputs(rows, {
      db: this.db,
      holdings: this.holdings,
      log: this.log,
      mintFor: (url) => this.trusted.get(url) ?? this.handleFor(url),
    });
    let total = 0;
    for (const [jobId, sats] of byJob) {
      total += sats;
      (this.opts.onRecovered ?? noop)(jobId, sats);
    }
    return total;
  }

  /** Σ of proofs held (all jobs). */
  heldBalance(): Promise<number> {
    return this.holdings.sum('held');
  }

  heldByJob(jobId: string): Promise<number> {
    return this.holdings.sum('held', jobId);
  }

  /** Outputs whose swap outcome is not known yet. */
  pendingOutputCount(): Promise<number> {
    return this.holdings.countOutputs('pending');
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
