// Fake Lightning backend of the development mint: real, signed BOLT-11 invoices (regtest prefix
// `lnbcrt`) from a fake node, and a "payer" that settles any invoice at once with zero routing fee.
// Contract: createFakeInvoice(n) encodes n sats in the human-readable part, as cashu-ts reads it
// (`bolt11AmountMsat`), and decodeInvoice reads the amount of any bolt11 (checksum verified).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { getPubKeyFromPrivKey, pointFromHex } from '@cashu/cashu-ts';
import { bech32Decode, bech32Encode, bytesFromWords, convertBits, intToWords, wordsFromBytes } from './bech32.js';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const G = pointFromHex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
/** The fake node's key: fixed, so invoices of every run come from the same (fake) payee. */
const NODE_KEY = createHash('sha256').update('owlrun devmint fake lightning node v1').digest();
export const FAKE_NODE_PUBKEY = Buffer.from(getPubKeyFromPrivKey(new Uint8Array(NODE_KEY))).toString('hex');
const HRP_PREFIX = 'lnbcrt';
export const INVOICE_DESCRIPTION = 'Owlrun development mint - NOT REAL MONEY';
const TAG = { p: 1, s: 16, d: 13, x: 6, c: 24, n: 19, f9: 5 } as const;

const mod = (a: bigint, m = N): bigint => ((a % m) + m) % m;
const big = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const hex32 = (n: bigint): string => n.toString(16).padStart(64, '0');
function inv(a: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a), N, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return mod(s0);
}

/** HRP amount: the largest BOLT-11 multiplier that represents the msat amount exactly. */
function hrpAmount(msat: bigint): string {
  const units: Array<[string, bigint]> = [['', 100_000_000_000n], ['m', 100_000_000n], ['u', 100_000n], ['n', 100n]];
  for (const [m, per] of units) if (msat % per === 0n) return `${msat / per}${m}`;
  return `${msat * 10n}p`;
}

/** What BOLT-11 signs: sha256(hrp as UTF-8 ‖ data words zero-padded to a byte boundary). */
function sigHash(hrp: string, words: readonly number[]): Buffer {
  return createHash('sha256').update(Buffer.from(hrp, 'utf8')).update(new Uint8Array(convertBits(words, 5, 8, true))).digest();
}

function tagged(type: number, words: readonly number[]): number[] {
  return [type, words.length >> 5, words.length & 31, ...words];
}

/** Recoverable ECDSA over secp256k1 with a deterministic nonce (HMAC of key and digest), low-s. */
function signRecoverable(digest: Buffer, key: Buffer): Uint8Array {
  const d = big(key);
  const z = big(digest);
  for (let ctr = 0; ; ctr++) {
    const k = mod(big(createHmac('sha256', key).update(digest).update(String(ctr)).digest()));
    if (k === 0n) continue;
    const R = G.multiply(k);
    const r = mod(R.x);
    let s = mod(inv(k) * (z + r * d));
    if (r === 0n || s === 0n) continue;
    let recid = Number(R.y & 1n) | (R.x >= N ? 2 : 0);
    if (s > N / 2n) {
      s = N - s;
      recid ^= 1;
    }
    return new Uint8Array([...Buffer.from(hex32(r) + hex32(s), 'hex'), recid]);
  }
}

/** The public key that made a recoverable signature, or undefined. */
function recoverPubkey(digest: Buffer, sig: Uint8Array): string | undefined {
  try {
    const r = big(sig.slice(0, 32));
    const s = big(sig.slice(32, 64));
    const recid = sig[64] ?? 0;
    if (r === 0n || s === 0n || r >= N || s >= N || recid > 1) return undefined;
    const R = pointFromHex(`${recid & 1 ? '03' : '02'}${hex32(r)}`);
    const rInv = inv(r);
    const u1 = mod(-big(digest) * rInv);
    const u2 = mod(s * rInv);
    const Q = u1 === 0n ? R.multiply(u2) : G.multiply(u1).add(R.multiply(u2)); // Q = r⁻¹(sR − zG)
    return Q.toHex(true);
  } catch {
    return undefined;
  }
}

export interface FakeInvoice {
  invoice: string;
  paymentHash: string;
}

/** A signed regtest invoice for amountSats from the fake node; its preimage is derivable by the mint. */
export function createFakeInvoiceDetailed(amountSats: number, description = INVOICE_DESCRIPTION, expirySeconds = 3600): FakeInvoice {
  if (!Number.isSafeInteger(amountSats) || amountSats < 1) throw new Error('createFakeInvoice: amount must be a positive integer of sats');
  const paymentSecret = randomBytes(32);
  const preimage = fakePreimage(paymentSecret);
  const paymentHash = createHash('sha256').update(preimage).digest();
  const hrp = `${HRP_PREFIX}${hrpAmount(BigInt(amountSats) * 1000n)}`;
  const ts = intToWords(Math.floor(Date.now() / 1000));
  const words = [
    ...Array<number>(7 - ts.length).fill(0), ...ts,
    ...tagged(TAG.p, wordsFromBytes(paymentHash)),
    ...tagged(TAG.s, wordsFromBytes(paymentSecret)),
    ...tagged(TAG.d, wordsFromBytes(Buffer.from(description, 'utf8'))),
    ...tagged(TAG.x, intToWords(expirySeconds)),
    ...tagged(TAG.c, intToWords(18)),
    ...tagged(TAG.f9, [16, 8, 0]), // features: var_onion_optin (8) + payment_secret (14), required
  ];
  const digest = sigHash(hrp, words);
  const sig = signRecoverable(digest, NODE_KEY);
  return { invoice: bech32Encode(hrp, [...words, ...wordsFromBytes(sig)]), paymentHash: paymentHash.toString('hex') };
}

/** A bolt11 string for amountSats that the development mint accepts for melting. */
export function createFakeInvoice(amountSats: number): string {
  return createFakeInvoiceDetailed(amountSats).invoice;
}

function fakePreimage(paymentSecret: Uint8Array): Buffer {
  return createHmac('sha256', NODE_KEY).update('preimage').update(paymentSecret).digest();
}

export interface DecodedInvoice {
  /** null for an amountless invoice */
  amountMsat: bigint | null;
  paymentHash: string | undefined;
  payee: string | undefined;
  /** set when the invoice is one of the fake node's own: the preimage that settles it */
  preimage: string | undefined;
}

/** Decodes a BOLT-11 invoice; undefined when it is not one (bad bech32, prefix, amount or layout). */
export function decodeInvoice(invoice: string): DecodedInvoice | undefined {
  const dec = bech32Decode(invoice.startsWith('lightning:') ? invoice.slice(10) : invoice);
  if (!dec || dec.words.length < 7 + 104) return undefined;
  const m = /^ln[a-z]+?(\d*)([munp]?)$/.exec(dec.hrp);
  if (!m) return undefined;
  const [, num = '', mult = ''] = m;
  let amountMsat: bigint | null = null;
  if (num !== '') {
    if (num.startsWith('0')) return undefined;
    const per: Record<string, bigint> = { '': 100_000_000_000n, m: 100_000_000n, u: 100_000n, n: 100n };
    if (mult === 'p') {
      if (BigInt(num) % 10n !== 0n) return undefined;
      amountMsat = BigInt(num) / 10n;
    } else amountMsat = BigInt(num) * (per[mult] ?? 0n);
  }
  const data = dec.words.slice(0, -104);
  const sig = bytesFromWords(dec.words.slice(-104));
  const fields = new Map<number, number[]>();
  for (let i = 7; i < data.length;) {
    const type = data[i]!;
    const len = (data[i + 1]! << 5) | data[i + 2]!;
    if (i + 3 + len > data.length) return undefined;
    if (!fields.has(type)) fields.set(type, data.slice(i + 3, i + 3 + len));
    i += 3 + len;
  }
  const p = fields.get(TAG.p);
  const s = fields.get(TAG.s);
  const digest = sigHash(dec.hrp, data);
  const payee = fields.has(TAG.n) ? Buffer.from(bytesFromWords(fields.get(TAG.n)!)).toString('hex') : recoverPubkey(digest, sig);
  const paymentHash = p && p.length === 52 ? Buffer.from(bytesFromWords(p)).toString('hex') : undefined;
  let preimage: string | undefined;
  if (payee === FAKE_NODE_PUBKEY && s && s.length === 52 && paymentHash) {
    const candidate = fakePreimage(bytesFromWords(s));
    if (createHash('sha256').update(candidate).digest('hex') === paymentHash) preimage = candidate.toString('hex');
  }
  return { amountMsat, paymentHash, payee, preimage };
}

