// BDHKE operations of the mint (NUT-00, NUT-12) on top of the cashu-ts primitives.
// Contract: every blind signature carries a DLEQ proof; hex in, hex out; invalid points throw.
import {
  createBlindSignature,
  createDLEQProof,
  hashToCurve,
  pointFromHex,
  verifyUnblindedSignature,
} from '@cashu/cashu-ts';

export type Point = ReturnType<typeof pointFromHex>;

export interface BlindSignatureJson {
  id: string;
  amount: number;
  C_: string;
  dleq: { e: string; s: string };
}

const HEX_POINT = /^0[23][0-9a-fA-F]{64}$/;

/** Parses a compressed SEC1 point; undefined when it is not a valid curve point. */
export function parsePoint(hex: unknown): Point | undefined {
  if (typeof hex !== 'string' || !HEX_POINT.test(hex)) return undefined;
  try {
    const p = pointFromHex(hex);
    p.assertValidity();
    return p;
  } catch {
    return undefined;
  }
}

/** NUT-00 hash_to_curve of raw bytes, as compressed hex. */
export function hashToCurveHex(message: Uint8Array): string {
  return hashToCurve(message).toHex(true);
}

/** Y = hash_to_curve(secret) as compressed hex: the key of the spent set and of NUT-07. */
export function secretToY(secret: string): string {
  return hashToCurveHex(new TextEncoder().encode(secret));
}

/** C_ = k·B_ plus a NUT-12 DLEQ proof (e, s) that the same k is behind the keyset's public key. */
export function signBlinded(B_: Point, k: Uint8Array, keysetId: string, amount: number): BlindSignatureJson {
  const sig = createBlindSignature(B_, k, keysetId);
  const dleq = createDLEQProof(B_, k);
  return {
    id: keysetId,
    amount,
    C_: sig.C_.toHex(true),
    dleq: { e: Buffer.from(dleq.e).toString('hex'), s: Buffer.from(dleq.s).toString('hex') },
  };
}

/** True when C == k·hash_to_curve(secret). */
export function verifyProofSignature(secret: string, C: Point, k: Uint8Array, keysetId: string): boolean {
  try {
    return verifyUnblindedSignature({ C, secret: new TextEncoder().encode(secret), id: keysetId }, k);
  } catch {
    return false;
  }
}
