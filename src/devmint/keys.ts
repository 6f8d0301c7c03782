// NUT-01/02 keysets of the development mint, derived from one master seed with the mint-side
// primitives of @cashu/cashu-ts. Contract: the same (seed, unit, input_fee_ppk, maxOrder) always
// gives the same keys and the same v2 (`01…`) keyset id, so a restart keeps every proof valid.
import { createHmac } from 'node:crypto';
import { createNewMintKeys, getPubKeyFromPrivKey } from '@cashu/cashu-ts';

export const UNIT = 'sat';
/** Amounts must stay exact JS numbers: 2^(maxOrder-1) ≤ 2^52. */
export const MAX_ORDER_LIMIT = 53;

export interface KeysetParams {
  unit: string;
  inputFeePpk: number;
  maxOrder: number;
}

export interface MintKeyset extends KeysetParams {
  readonly id: string;
  active: boolean;
  /** amount (as decimal string) → compressed public key hex, as served by GET /v1/keys */
  readonly pubkeys: Readonly<Record<string, string>>;
  /** amount → private key; never serialized, never logged */
  readonly privkeys: ReadonlyMap<number, Uint8Array>;
}

function hmac(seed: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', seed).update(label, 'utf8').digest());
}

export function seedFromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2}){16,64}$/.test(hex)) throw new Error('devmint: seed must be 16..64 bytes of hex');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function validateParams(p: KeysetParams): void {
  if (!Number.isInteger(p.inputFeePpk) || p.inputFeePpk < 0 || p.inputFeePpk > 1_000_000) {
    throw new Error(`devmint: inputFeePpk must be an integer in 0..1000000, got ${p.inputFeePpk}`);
  }
  if (!Number.isInteger(p.maxOrder) || p.maxOrder < 1 || p.maxOrder > MAX_ORDER_LIMIT) {
    throw new Error(`devmint: maxOrder must be an integer in 1..${MAX_ORDER_LIMIT}, got ${p.maxOrder}`);
  }
}

/**
 * Derives one keyset. Each distinct (unit, fee, maxOrder) gets its own keys: the BIP32 seed handed
 * to createNewMintKeys is HMAC-SHA256(master seed, parameters), so keysets never share a key.
 */
export function deriveKeyset(seed: Uint8Array, p: KeysetParams, active: boolean): MintKeyset {
  validateParams(p);
  const label = `owlrun-devmint/keyset/v1|unit:${p.unit}|input_fee_ppk:${p.inputFeePpk}|max_order:${p.maxOrder}`;
  const pair = createNewMintKeys(p.maxOrder as Parameters<typeof createNewMintKeys>[0], hmac(seed, label), {
    input_fee_ppk: p.inputFeePpk,
    unit: p.unit,
    versionByte: 1,
  });
  const pubkeys: Record<string, string> = {};
  const privkeys = new Map<number, Uint8Array>();
  for (const [amount, pub] of Object.entries(pair.pubKeys)) {
    pubkeys[amount] = Buffer.from(pub).toString('hex');
    const priv = pair.privKeys[amount];
    if (!priv) throw new Error(`devmint: no private key for amount ${amount}`);
    privkeys.set(Number(amount), priv);
  }
  return { ...p, id: pair.keysetId, active, pubkeys, privkeys };
}

/** The mint's NUT-06 identity public key, derived from the seed (compressed hex). */
export function mintPubkey(seed: Uint8Array): string {
  return Buffer.from(getPubKeyFromPrivKey(hmac(seed, 'owlrun-devmint/identity/v1'))).toString('hex');
}

/** Input fee of a set of inputs (NUT-02): ceil(sum of their keysets' input_fee_ppk / 1000). */
export function inputFee(feesPpk: readonly number[]): number {
  const sum = feesPpk.reduce((a, b) => a + b, 0);
  return Math.floor((sum + 999) / 1000);
}

/** Powers of two summing to amount, largest first, none above `largest` (a power of two). */
export function splitAmount(amount: number, largest = 2 ** 52): number[] {
  const out: number[] = [];
  let rest = amount;
  while (rest >= largest) {
    out.push(largest);
    rest -= largest;
  }
  for (let bit = largest / 2; bit >= 1; bit /= 2) {
    if (rest >= bit) {
      out.push(bit);
      rest -= bit;
    }
  }
  return out;
}
