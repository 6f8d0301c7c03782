// Reading and writing Cashu tokens (NUT-00 V3 `cashuA`, V4 `cashuB`). No mint access here.
//
// Field policy (decided here, MUST hold everywhere):
// - Incoming proofs keep `witness` (needed to spend NUT-10 locked proofs) and drop `dleq` and
//   `p2pk_e` (the mint verifies the proofs itself; the gateway never forwards them elsewhere).
// - Outgoing change/refund proofs keep `dleq` WITH its blinding factor `r` (so the receiving
//   wallet can check the mint's signature offline, NUT-12) and never carry `witness`: they are
//   fresh, unlocked proofs. A dleq without `r` is dropped (useless to the receiver).

import { Amount, AmountError, getDecodedToken, getEncodedToken, getTokenMetadata, type Proof } from '@cashu/cashu-ts';
import { GatewayError } from '../errors.js';
import { shortHash } from './redact.js';
import type { DleqJson, TokenFormat, WalletProof } from './types.js';

/** Longest header value accepted (the server rejects longer headers with 431 anyway). */
export const MAX_TOKEN_CHARS = 64 * 1024;
/** Largest token amount accepted: 2^40 sats. Keeps every sum an exact JS number. */
export const MAX_TOKEN_AMOUNT = 2 ** 40;

const HEX = /^[0-9a-fA-F]+$/;
const POINT = /^0[23][0-9a-fA-F]{64}$/;

/** What the header says before the mint's keysets are known. */
export interface TokenHeader {
  readonly format: TokenFormat;
  readonly raw: string;
  readonly hash: string;
  /** The mint URL exactly as written in the token. */
  readonly mint: string;
  readonly unit: string;
}

/** Trim, size, prefix, then cashu-ts metadata. Throws cashu_token_invalid / cashu_amount_invalid. */
export function readTokenHeader(value: string | undefined | null): TokenHeader {
  if (typeof value !== 'string') throw new GatewayError('cashu_token_invalid');
  // Check size before trimming: trimming a huge string is work an attacker should not buy.
  if (value.length > MAX_TOKEN_CHARS + 256) throw new GatewayError('cashu_token_invalid', 'X-Cashu token is longer than 64 KiB');
  const raw = value.trim();
  if (raw.length > MAX_TOKEN_CHARS) throw new GatewayError('cashu_token_invalid', 'X-Cashu token is longer than 64 KiB');
  const format: TokenFormat | null = raw.startsWith('cashuA') ? 'A' : raw.startsWith('cashuB') ? 'B' : null;
  if (!format) throw new GatewayError('cashu_token_invalid', 'X-Cashu must start with cashuA or cashuB');
  let meta;
  try {
    meta = getTokenMetadata(raw);
  } catch (err) {
    throw decodeError(err);
  }
  if (typeof meta.mint !== 'string' || meta.mint.length === 0) throw new GatewayError('cashu_token_invalid', 'the token names no mint');
  return { format, raw, hash: shortHash(raw), mint: meta.mint, unit: typeof meta.unit === 'string' ? meta.unit : 'sat' };
}

/**
 * The token's proofs, with short (V4) keyset ids mapped to the mint's full ids.
 * Throws cashu_keyset_unknown when an id maps to none of `keysetIds`, cashu_token_invalid on junk.
 */
export function decodeTokenProofs(raw: string, keysetIds: readonly string[]): Proof[] {
  try {
    return getDecodedToken(raw, keysetIds).proofs;
  } catch (err) {
    const msg = err instanceof Error ? err.message : '';
    if (/keyset id/i.test(msg) && /(map|ambiguous)/i.test(msg)) throw new GatewayError('cashu_keyset_unknown');
    throw decodeError(err);
  }
}

function decodeError(err: unknown): GatewayError {
  if (err instanceof AmountError) return new GatewayError('cashu_amount_invalid');
  return new GatewayError('cashu_token_invalid');
}

/**
 * cashu-ts proofs → WalletProof[], checking shape (cashu_token_malformed_proofs), amounts
 * (cashu_amount_invalid: positive safe integers, total ≤ 2^40) and duplicate secrets
 * (cashu_token_duplicate_proofs). Returns the proofs and their total.
 */
export function checkProofs(proofs: readonly Proof[]): { proofs: WalletProof[]; amount: number } {
  if (proofs.length === 0) throw new GatewayError('cashu_amount_invalid', 'the token holds no proofs');
  const out: WalletProof[] = [];
  const secrets = new Set<string>();
  let total = 0n;
  for (const p of proofs) {
    if (typeof p.id !== 'string' || p.id.length === 0 || typeof p.secret !== 'string' || p.secret.length === 0 ||
        typeof p.C !== 'string' || !POINT.test(p.C)) {
      throw new GatewayError('cashu_token_malformed_proofs');
    }
    const amount = toSats(p.amount);
    if (amount === null || amount <= 0) throw new GatewayError('cashu_amount_invalid');
    total += BigInt(amount);
    if (total > BigInt(MAX_TOKEN_AMOUNT)) throw new GatewayError('cashu_amount_invalid', 'the token is worth more than 2^40 sats');
    if (secrets.has(p.secret)) throw new GatewayError('cashu_token_duplicate_proofs');
    secrets.add(p.secret);
    const witness = p.witness === undefined || p.witness === null ? undefined
      : typeof p.witness === 'string' ? p.witness : JSON.stringify(p.witness);
    out.push({ id: p.id, amount, secret: p.secret, C: p.C, ...(witness !== undefined && { witness }) });
  }
  return { proofs: out, amount: Number(total) };
}

/** An amount as a safe integer number of sats, or null. */
function toSats(a: unknown): number | null {
  try {
    const v = Amount.from(a as never).toBigInt();
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
  } catch {
    return null;
  }
}

/** Outgoing dleq: only with its blinding factor, only hex. */
function outgoingDleq(d: DleqJson | undefined): DleqJson | undefined {
  if (!d || !d.r || !HEX.test(d.s) || !HEX.test(d.e) || !HEX.test(d.r)) return undefined;
  return { e: d.e, s: d.s, r: d.r };
}

/**
 * A token of `proofs` at `mint` in the client's format. '' for no proofs (change 0).
 * V4 via cashu-ts; V3 written here (cashu-ts 4 only encodes V4): `cashuA` + base64url (no
 * padding) of {"token":[{"mint","proofs"}],"unit"}. V4 cannot carry legacy (non-hex) keyset
 * ids: such proofs go out as V3, which every wallet reads.
 */
export function encodeToken(format: TokenFormat, mint: string, proofs: readonly WalletProof[], unit = 'sat'): string {
  if (proofs.length === 0) return '';
  const clean = proofs.map((p) => {
    const dleq = outgoingDleq(p.dleq);
    return { id: p.id, amount: p.amount, secret: p.secret, C: p.C, ...(dleq && { dleq }) };
  });
  if (format === 'B' && clean.every((p) => HEX.test(p.id))) {
    return getEncodedToken({ mint, unit, proofs: clean.map((p) => ({ ...p, amount: Amount.from(p.amount) })) });
  }
  const json = JSON.stringify({ token: [{ mint, proofs: clean }], unit });
  return 'cashuA' + Buffer.from(json, 'utf8').toString('base64url');
}

/** How a withdrawal is paid out: a token format, or a V3 token whose base64 is padded with `=`. */
export type PayoutFormat = TokenFormat | 'A-padded';

/**
 * A payout token. 'A-padded' is cashuA with its base64 padded to a multiple of 4 with `=`: the
 * Owlrun node agent (Go's base64.URLEncoding) reads nothing else; other wallets read it too.
 */
export function encodePayout(format: PayoutFormat, mint: string, proofs: readonly WalletProof[]): string {
  if (format !== 'A-padded') return encodeToken(format, mint, proofs);
  const token = encodeToken('A', mint, proofs);
  if (!token) return token;
  const body = token.slice('cashuA'.length);
  return `cashuA${body}${'='.repeat((4 - (body.length % 4)) % 4)}`;
}
