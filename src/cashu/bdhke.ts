// The wallet's side of BDHKE (NUT-00) and NUT-12 DLEQ verification, on @noble/curves directly
// (the curve library cashu-ts itself uses), with the mint's public keys decompressed once and
// given precomputed multiplication tables: the same key K of a keyset amount signs every output
// of that amount, forever, so a table (built once, ~10 ms) makes every later r·K and e·K cheap.
//
// MUST hold:
// - blinding factors r are secret (with the secret, they are the money): every multiplication by
//   r is noble's constant-time `multiply`. Everything multiplied with `multiplyUnsafe` /
//   `mulAddUnsafe` is public: the DLEQ scalars e, s come from the mint and go out in the change
//   token, and B_, C_, K were all sent over the wire. Timing can only reveal those.
// - unblindSignature() returns a proof only when the signature belongs to the output and, if the
//   mint sent a DLEQ proof, that proof verifies against K; otherwise it throws.
// - Results are byte-identical to cashu-ts OutputData.toProof (test/unit/cashu/bdhke.test.ts).

import { createHash, randomBytes } from 'node:crypto';
import { blindMessage } from '@cashu/cashu-ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { WalletProof } from './types.js';

type Point = ReturnType<typeof secp256k1.Point.fromHex>;
const Point = secp256k1.Point;
const Fn = Point.Fn;
const G = Point.BASE;

const HEX_POINT = /^0[23][0-9a-fA-F]{64}$/;
const HEX_SCALAR = /^[0-9a-fA-F]{64}$/;

/** A fresh blinded secret: 32 random bytes as hex (the NUT-00 secret), r and B_ = Y + r·G. */
export interface Blinding {
  readonly secret: string;
  /** blinding factor, 64 hex chars */
  readonly r: string;
  /** compressed hex */
  readonly B_: string;
}

/**
 * One fresh (secret, r, B_). Nothing in it depends on the mint, keyset or amount (those are only
 * labels of the blinded message), so blindings can be made ahead of time (see pool.ts).
 * ~2 ms of CPU: hash_to_curve and r·G.
 */
export function createBlinding(): Blinding {
  const secret = randomBytes(32).toString('hex');
  const { B_, r } = blindMessage(new TextEncoder().encode(secret)); // r random, r·G constant-time
  return { secret, r: r.toString(16).padStart(64, '0'), B_: B_.toHex(true) };
}

// ---- the mint's public keys --------------------------------------------------------------------

/**
 * Window of the per-key tables. Measured (slow CPU): w=4 builds in ~10 ms (520 points), then
 * constant-time r·K ~1.6 ms (vs ~8 ms without a table) and e·K ~0.7 ms; w=6 builds in ~25 ms and
 * is no faster for the constant-time multiply (it scans bigger windows).
 */
const KEY_WINDOW = 4;
/** Keys kept with their tables (a mint has ~32–64 amounts per keyset; few are ever used). */
const KEY_CACHE_MAX = 256;
const keyCache = new Map<string, Point>();

/** The decompressed point of a mint public key, cached with a precomputed table (LRU-bounded). */
export function keyPoint(hex: string): Point {
  const k = hex.toLowerCase();
  let p = keyCache.get(k);
  if (p) {
    keyCache.delete(k); // LRU: most recent last
    keyCache.set(k, p);
    return p;
  }
  if (!HEX_POINT.test(k)) throw new Error('wallet: malformed mint public key');
  p = Point.fromHex(k);
  p.precompute(KEY_WINDOW, true); // lazy: the table is built on the first multiplication
  keyCache.set(k, p);
  if (keyCache.size > KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  return p;
}

// ---- unblinding ---------------------------------------------------------------------------------

/** Everything needed to turn one signed output into a proof (all of it is in the store). */
export interface SignedOutput {
  readonly keysetId: string;
  readonly amount: number;
  readonly secret: string;
  /** blinding factor, hex */
  readonly r: string;
  /** our blinded message, compressed hex */
  readonly B_: string;
  /** the mint's blind signature, compressed hex */
  readonly C_: string;
  /** NUT-12 proof that C_ = k·B_ for the k behind K, as the mint sent it */
  readonly dleq?: { readonly e: string; readonly s: string } | null;
  /** the mint's public key for `amount` in keyset `keysetId`, compressed hex */
  readonly K: string;
}

export class InvalidSignatureError extends Error {
  constructor(message: string) {
    super(`wallet: ${message}`);
    this.name = 'InvalidSignatureError';
  }
}

function scalar(hex: string, what: string): bigint {
  if (!HEX_SCALAR.test(hex)) throw new InvalidSignatureError(`malformed DLEQ ${what}`);
  const n = BigInt('0x' + hex);
  if (!Fn.isValid(n)) throw new InvalidSignatureError(`DLEQ ${what} out of range`);
  return n;
}

function parsePoint(hex: string, what: string): Point {
  if (!HEX_POINT.test(hex)) throw new InvalidSignatureError(`malformed ${what}`);
  try {
    return Point.fromHex(hex.toLowerCase());
  } catch {
    throw new InvalidSignatureError(`${what} is not a curve point`);
  }
}

/**
 * NUT-12: with R1 = s·G − e·K and R2 = s·B_ − e·C_, e must equal
 * sha256(hex(R1) ‖ hex(R2) ‖ hex(K) ‖ hex(C_)) (uncompressed hex, as UTF-8).
 */
function dleqValid(K: Point, B_: Point, C_: Point, e: bigint, s: bigint, eHex: string): boolean {
  const R1 = G.multiplyUnsafe(s).subtract(K.multiplyUnsafe(e));
  const R2 = B_.mulAddUnsafe(s, C_, Fn.neg(e));
  if (R1.is0() || R2.is0()) return false;
  const h = createHash('sha256')
    .update(R1.toHex(false) + R2.toHex(false) + K.toHex(false) + C_.toHex(false), 'utf8')
    .digest('hex');
  return h === eHex;
}

/**
 * The proof of a signed output: C = C_ − r·K, after the DLEQ proof (when the mint sent one) is
 * verified. Throws InvalidSignatureError when the signature is malformed or does not verify.
 * CPU only (~4–7 ms here), no I/O.
 */
export function unblindSignature(o: SignedOutput): WalletProof {
  const K = keyPoint(o.K);
  const C_ = parsePoint(o.C_, 'signature C_');
  let dleq: WalletProof['dleq'];
  if (o.dleq) {
    const eHex = String(o.dleq.e).toLowerCase();
    const sHex = String(o.dleq.s).toLowerCase();
    const e = scalar(eHex, 'e');
    const s = scalar(sHex, 's');
    if (!dleqValid(K, parsePoint(o.B_, 'B_'), C_, e, s, eHex)) throw new InvalidSignatureError('DLEQ verification failed on a mint signature');
    dleq = { e: eHex, s: sHex, r: o.r.toLowerCase().padStart(64, '0') };
  }
  const r = BigInt('0x' + o.r);
  if (!Fn.isValid(r) || r === 0n) throw new Error('wallet: stored blinding factor out of range');
  const C = C_.subtract(K.multiply(r)); // r is secret: constant-time multiply
  if (C.is0()) throw new InvalidSignatureError('signature unblinds to the point at infinity');
  return { id: o.keysetId, amount: o.amount, secret: o.secret, C: C.toHex(true), ...(dleq && { dleq }) };
}
