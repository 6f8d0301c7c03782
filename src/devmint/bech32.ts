// BIP-173 bech32 (not bech32m), without the 90-character limit, as BOLT-11 uses it.

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/** Encodes 5-bit words under a lowercase hrp, appending the checksum. */
export function bech32Encode(hrp: string, words: readonly number[]): string {
  const mod = polymod([...hrpExpand(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

/** Decodes and verifies the checksum; undefined when the string is not valid bech32. */
export function bech32Decode(str: string): { hrp: string; words: number[] } | undefined {
  if (str !== str.toLowerCase() && str !== str.toUpperCase()) return undefined;
  const s = str.toLowerCase();
  const pos = s.lastIndexOf('1');
  if (pos < 1 || pos + 7 > s.length) return undefined;
  const hrp = s.slice(0, pos);
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i);
    if (c < 33 || c > 126) return undefined;
  }
  const data: number[] = [];
  for (const ch of s.slice(pos + 1)) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) return undefined;
    data.push(v);
  }
  if (polymod([...hrpExpand(hrp), ...data]) !== 1) return undefined;
  return { hrp, words: data.slice(0, -6) };
}

/** Regroups bits (8→5 with padding, or 5→8 dropping the incomplete tail). */
export function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i]!;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & maxv);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad && bits > 0) out.push((acc << (to - bits)) & maxv);
  return out;
}

export const wordsFromBytes = (b: Uint8Array): number[] => convertBits(b, 8, 5, true);
export const bytesFromWords = (w: readonly number[]): Uint8Array => new Uint8Array(convertBits(w, 5, 8, false));

/** Big-endian 5-bit words of a non-negative integer, minimal length (at least one word). */
export function intToWords(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    out.unshift(v % 32);
    v = Math.floor(v / 32);
  } while (v > 0);
  return out;
}

export function wordsToInt(words: readonly number[]): number {
  return words.reduce((acc, w) => acc * 32 + w, 0);
}
