// How the Owlrun agent (Go) turns bytes into JSON, reproduced exactly: Go's encoding/json writes
// a string as valid UTF-8 by replacing EACH byte that does not start a valid sequence with
// U+FFFD (so a multi-byte character cut by a 4096-byte read becomes one U+FFFD per byte of it
// on each side of the cut), and escapes <, >, & and U+2028/U+2029.

const REPLACEMENT = '\uFFFD';

/** Length of the valid UTF-8 sequence at buf[i], or 0 when it is not one (Go's utf8.DecodeRune rules). */
function sequenceLength(buf: Uint8Array, i: number): number {
  const b0 = buf[i]!;
  if (b0 < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > buf.length) return 0;
  const b1 = buf[i + 1]!;
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k < n; k++) if (buf[i + k]! < 0x80 || buf[i + k]! > 0xbf) return 0;
  return n;
}

/** The string Go's json.Marshal encodes for `string(bytes)`: invalid bytes as U+FFFD, one per byte. */
export function goString(buf: Uint8Array): string {
  let out = '';
  let start = 0;
  const decoder = new TextDecoder();
  let i = 0;
  while (i < buf.length) {
    const n = sequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += decoder.decode(buf.subarray(start, i)) + REPLACEMENT;
    i += 1;
    start = i;
  }
  return out + decoder.decode(buf.subarray(start));
}

/** JSON.stringify with Go's HTML-safe escapes (the bytes the agent puts on the wire). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's base64.URLEncoding / StdEncoding DecodeString: padded input only (newlines ignored); undefined on error. */
export function goBase64Decode(text: string, urlSafe: boolean): Buffer | undefined {
  const s = text.replace(/[\r\n]/g, '');
  const alphabet = urlSafe ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  if (s.length % 4 !== 0 || !alphabet.test(s)) return undefined;
  return Buffer.from(s, urlSafe ? 'base64url' : 'base64');
}

export interface GoProof {
  amount: number;
  id: string;
  secret: string;
  C: string;
}

/**
 * The agent's cashu.Deserialize: "cashuA" + padded base64 (URL-safe, then standard) of a V3
 * token; then it keeps token[0]'s mint and proofs. Anything else (cashuB, unpadded base64)
 * is an error: the agent keeps the string but cannot read it.
 */
export function goDeserializeToken(token: string): { mint: string; proofs: GoProof[] } | undefined {
  const s = token.trim();
  if (!s.startsWith('cashuA')) return undefined;
  const raw = s.slice('cashuA'.length);
  const bytes = goBase64Decode(raw, true) ?? goBase64Decode(raw, false);
  if (!bytes) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const entries = (parsed as { token?: unknown }).token;
  if (!Array.isArray(entries) || entries.length === 0) return undefined;
  const first = entries[0] as { mint?: unknown; proofs?: unknown };
  if (typeof first.mint !== 'string' || !Array.isArray(first.proofs)) return undefined;
  // Go matches JSON keys to struct fields case-insensitively.
  const field = (o: Record<string, unknown>, name: string) => o[Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name];
  const proofs: GoProof[] = [];
  for (const p of first.proofs as Record<string, unknown>[]) {
    const amount = field(p, 'amount');
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0) return undefined;
    proofs.push({ amount, id: String(field(p, 'id') ?? ''), secret: String(field(p, 'secret') ?? ''), C: String(field(p, 'C') ?? '') });
  }
  return { mint: first.mint, proofs };
}
