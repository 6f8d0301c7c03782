// Shape checks of NUT request bodies. Contract: amounts are safe, non-negative integers (never
// strings or floats); hex fields are well-formed; anything else is a 400 with a NUT-00 code.
import { Code, MintError, failIf } from './errors.js';

export interface ProofIn {
  id: string;
  amount: number;
  secret: string;
  C: string;
}
export interface OutputIn {
  id: string;
  amount: number;
  B_: string;
}

export const MAX_INPUTS = 1000;
export const MAX_OUTPUTS = 1000;
export const MAX_SECRET_LENGTH = 512;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function body(v: unknown): Record<string, unknown> {
  if (!isRecord(v)) throw new MintError(Code.NOT_ALLOWED, 'request body must be a JSON object');
  return v;
}

/** A safe integer ≥ 0 (or ≥ 1 when positive). Rejects floats, strings, negatives, > 2^53. */
export function amount(v: unknown, field: string, positive = true): number {
  const ok = typeof v === 'number' && Number.isSafeInteger(v) && v >= (positive ? 1 : 0);
  if (!ok) throw new MintError(Code.TRANSACTION, `${field} must be a ${positive ? 'positive' : 'non-negative'} integer amount`);
  return v;
}

export function str(v: unknown, field: string, max = 10_000): string {
  failIf(typeof v !== 'string' || v.length === 0 || v.length > max, Code.NOT_ALLOWED, `${field} must be a non-empty string`);
  return v as string;
}

export function unit(v: unknown): string {
  const u = v === undefined ? 'sat' : v;
  failIf(u !== 'sat', Code.UNIT_UNSUPPORTED, 'unit not supported: the development mint only knows "sat"');
  return 'sat';
}

// 00… (v1), 01… (v2) and the 8-byte short form of a v2 id (as V4 tokens carry it).
const KEYSET_ID = /^(?:0[01][0-9a-f]{14}|01[0-9a-f]{64})$/;
const HEX_POINT = /^0[23][0-9a-fA-F]{64}$/;

function keysetId(v: unknown, field: string): string {
  // An id that cannot be ours is "unknown keyset", as a real mint answers it.
  failIf(typeof v !== 'string' || !KEYSET_ID.test(v), Code.KEYSET_UNKNOWN, `${field}: keyset is not known`);
  return v as string;
}

export function proofs(v: unknown, field = 'inputs'): ProofIn[] {
  failIf(!Array.isArray(v) || v.length === 0, Code.NOT_ALLOWED, `${field} must be a non-empty array`);
  const arr = v as unknown[];
  failIf(arr.length > MAX_INPUTS, Code.MAX_INPUTS, `too many ${field} (max ${MAX_INPUTS})`);
  const out = arr.map((p, i) => {
    failIf(!isRecord(p), Code.NOT_ALLOWED, `${field}[${i}] must be an object`);
    const r = p as Record<string, unknown>;
    const secret = r.secret;
    failIf(typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_SECRET_LENGTH,
      Code.PROOF_INVALID, `${field}[${i}].secret must be a string of at most ${MAX_SECRET_LENGTH} characters`);
    failIf(typeof r.C !== 'string' || !HEX_POINT.test(r.C), Code.PROOF_INVALID, `${field}[${i}].C is not a compressed point`);
    return { id: keysetId(r.id, `${field}[${i}].id`), amount: amount(r.amount, `${field}[${i}].amount`), secret: secret as string, C: r.C as string };
  });
  failIf(new Set(out.map((p) => p.secret)).size !== out.length, Code.DUPLICATE_INPUTS, 'duplicate inputs provided');
  return out;
}

export function outputs(v: unknown, field = 'outputs', opts: { allowEmpty?: boolean; max?: number; amounts?: boolean } = {}): OutputIn[] {
  const max = opts.max ?? MAX_OUTPUTS;
  failIf(!Array.isArray(v), Code.NOT_ALLOWED, `${field} must be an array`);
  const arr = v as unknown[];
  failIf(arr.length === 0 && !opts.allowEmpty, Code.NOT_ALLOWED, `${field} must not be empty`);
  failIf(arr.length > max, Code.MAX_OUTPUTS, `too many ${field} (max ${max})`);
  const out = arr.map((o, i) => {
    failIf(!isRecord(o), Code.NOT_ALLOWED, `${field}[${i}] must be an object`);
    const r = o as Record<string, unknown>;
    failIf(typeof r.B_ !== 'string' || !HEX_POINT.test(r.B_), Code.NOT_ALLOWED, `${field}[${i}].B_ is not a compressed point`);
    // NUT-08 blank outputs carry a placeholder amount (any non-negative integer): the mint sets it.
    const a = amount(r.amount, `${field}[${i}].amount`, opts.amounts !== false);
    return { id: keysetId(r.id, `${field}[${i}].id`), amount: a, B_: (r.B_ as string).toLowerCase() };
  });
  failIf(new Set(out.map((o) => o.B_)).size !== out.length, Code.DUPLICATE_OUTPUTS, 'duplicate outputs provided');
  return out;
}

/** Sum that stays exact; rejects totals beyond 2^53. */
export function sum(values: readonly number[]): number {
  const s = values.reduce((a, b) => a + b, 0);
  failIf(!Number.isSafeInteger(s), Code.AMOUNT_LIMIT, 'amount total is too large');
  return s;
}
