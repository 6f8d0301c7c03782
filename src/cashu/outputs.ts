// Blinded outputs (NUT-00): the messages of a swap, the row persisted before it, the check of
// the mint's answer that can be made on the request path, and the row's data for unblinding.
// The blinding factor r and the secret are bearer money: they never leave the store or process.

import type { Blinding, SignedOutput } from './bdhke.js';
import type { NewOutput, SignedOutputRow } from './holdings.js';

/** Wire shape of a blinded message (NUT-00 BlindedMessage) with a number amount. */
export interface BlindedMessageJson {
  amount: number;
  id: string;
  B_: string;
}

/** Wire shape of a blind signature as mints send it. */
export interface BlindSignatureJson {
  amount: number;
  id: string;
  C_: string;
  dleq?: { e: string; s: string };
}

export interface PreparedOutput {
  readonly message: BlindedMessageJson;
  readonly row: NewOutput;
}

const HEX_POINT = /^0[23][0-9a-fA-F]{64}$/;

/** One output per amount, in the given order, from fresh blindings (one each, never reused). */
export function createOutputs(amounts: readonly number[], keysetId: string, jobId: string, mint: string, blindings: readonly Blinding[]): PreparedOutput[] {
  if (blindings.length !== amounts.length) throw new Error('createOutputs: one blinding per amount');
  return amounts.map((amount, i) => {
    const b = blindings[i]!;
    const message: BlindedMessageJson = { amount, id: keysetId, B_: b.B_ };
    const row: NewOutput = { b_: b.B_, job_id: jobId, mint, keyset_id: keysetId, amount, secret: b.secret, r: b.r };
    return { message, row };
  });
}

export function blindedMessageOfRow(row: { b_: string; keyset_id: string; amount: number }): BlindedMessageJson {
  return { amount: Number(row.amount), id: row.keyset_id, B_: row.b_ };
}

/**
 * The cheap checks of a signature, fit for the request path (no curve arithmetic): it is for
 * this output (amount, keyset) and well-formed. Returns the normalized signature, or null.
 * Whether it is a valid signature is only known after unblindSignature() (DLEQ).
 */
export function wellFormedSignature(sig: unknown, expected: BlindedMessageJson): BlindSignatureJson | null {
  if (!sig || typeof sig !== 'object') return null;
  const s = sig as Record<string, unknown>;
  if (typeof s.C_ !== 'string' || !HEX_POINT.test(s.C_)) return null;
  if (Number(s.amount) !== expected.amount || s.id !== expected.id) return null;
  const out: BlindSignatureJson = { amount: expected.amount, id: expected.id, C_: s.C_.toLowerCase() };
  if (s.dleq !== undefined && s.dleq !== null) {
    const d = s.dleq as Record<string, unknown>;
    if (typeof d !== 'object' || typeof d.e !== 'string' || typeof d.s !== 'string') return null;
    out.dleq = { e: d.e, s: d.s };
  }
  return out;
}

/** The unblinding input of a stored signed output. */
export function signedOutputOfRow(row: SignedOutputRow): SignedOutput {
  return {
    keysetId: row.keyset_id, amount: Number(row.amount), secret: row.secret, r: row.r, B_: row.b_, C_: row.c_, K: row.k,
    dleq: row.dleq ? (JSON.parse(row.dleq) as { e: string; s: string }) : null,
  };
}
