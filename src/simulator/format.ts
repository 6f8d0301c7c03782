// Serialization details the real servers differ in: SSE framing, Go's JSON escaping and time
// format, id shapes, clock values.
import { randomBytes, randomInt } from 'node:crypto';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One SSE event: `data: <json>` LF LF. */
export function sse(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

/** Go encoding/json output: HTML-safe escapes for <, >, & and U+2028/U+2029. */
export function goJson(obj: unknown): string {
  return JSON.stringify(obj).replace(/[<>&\u2028\u2029]/g, (c) => {
    return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

const BASE_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Go time.Time in RFC 3339 UTC with nanoseconds, trailing zeros trimmed (monotonic). */
export function goTime(): string {
  const ns = BASE_NS + process.hrtime.bigint();
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const frac = String(ns % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return iso.slice(0, 19) + (frac ? '.' + frac : '') + 'Z';
}

/** Go time.Time in RFC 3339 with nanoseconds and a local-zone offset (as /api/tags modified_at). */
export function goLocalTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 19);
  if (off === 0) return `${local}.123456789Z`;
  const sign = off >= 0 ? '+' : '-';
  const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, '0');
  const mm = String(Math.abs(off) % 60).padStart(2, '0');
  return `${local}.123456789${sign}${hh}:${mm}`;
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** n random bytes as lower-case hex. */
export function hexId(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** n random alphanumerics (llama.cpp gen_chatcmplid). */
export function alnumId(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)] ?? 'a';
  return s;
}

/** Ollama's /v1 ids: rand.Intn(999), so they collide across requests. */
export function ollamaSmallId(): number {
  return randomInt(999);
}

/** The start of a Go-decoder-like message for a body that is not a JSON object. */
export function goDecodeError(raw: unknown, goType: string): string {
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
  const t = text.trimStart();
  const c = t[0] ?? '';
  if (c === '[') return 'json: cannot unmarshal array into Go value of type ' + goType;
  if (c === '{') return `invalid character '${t.slice(1).trimStart()[0] ?? '}'}' looking for beginning of object key string`;
  if (c === '"' || /[\d-]/.test(c)) return `json: cannot unmarshal ${c === '"' ? 'string' : 'number'} into Go value of type ${goType}`;
  return `invalid character '${c}' looking for beginning of value`;
}
