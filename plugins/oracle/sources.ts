// Price sources: one HTTP GET per source and poll, the price read at a dot path in the JSON
// answer, checked (a number > 0), then screened against the others (> 10× from the median is
// absurd). Nothing here touches money: the result is a BTC/USD rate, a plain number.

export interface SourceConfig {
  name: string;
  url: string;
  /** Dot path into the JSON answer, e.g. "result.XXBTZUSD.c.0"; numeric segments index arrays; "" = the whole answer. */
  path: string;
  headers: Record<string, string>;
}

/** Why a source's answer was not used; each one is counted (metrics: errors by source and reason). */
export type SourceErrorReason =
  | 'timeout' // no complete answer within oracle.timeoutMs
  | 'network' // connection refused, reset, DNS…
  | 'http_status' // an answer other than 2xx
  | 'too_large' // an answer larger than MAX_BODY_BYTES
  | 'bad_json' // not JSON
  | 'missing' // nothing at the path
  | 'non_numeric' // not a number nor a decimal string
  | 'non_positive' // zero or negative
  | 'absurd'; // more than ABSURD_FACTOR from the median, or outside [MIN_RATE, MAX_RATE]

export const SOURCE_ERROR_REASONS: readonly SourceErrorReason[] = ['timeout', 'network', 'http_status', 'too_large', 'bad_json', 'missing', 'non_numeric', 'non_positive', 'absurd'];

export type SourceResult = { ok: true; value: number } | { ok: false; reason: SourceErrorReason; message: string };

/** A ticker answer is a few hundred bytes; anything past this is not a ticker. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** A price further than this factor from the median of the round is ignored. */
export const ABSURD_FACTOR = 10;
/** Bounds that keep the rate in exact integer cents (price.ts): one cent … 10^10 USD per BTC. */
export const MIN_RATE = 0.01;
export const MAX_RATE = 1e10;

const DECIMAL = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** The value at a dot path ("a.b.0.c"); undefined when any step is missing. */
export function atPath(root: unknown, path: string): unknown {
  if (path.trim() === '') return root;
  let cur: unknown = root;
  for (const seg of path.split('.')) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return undefined;
      cur = cur[Number(seg)];
    } else if (cur !== null && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, seg)) {
      cur = (cur as Record<string, unknown>)[seg];
    } else {
      return undefined;
    }
  }
  return cur;
}

/** A price as exchanges send it: a JSON number or a decimal string ("65000.10000"). */
export function parsePrice(v: unknown): SourceResult {
  if (v === undefined || v === null) return { ok: false, reason: 'missing', message: 'no value at the path' };
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && DECIMAL.test(v)) n = Number(v);
  else return { ok: false, reason: 'non_numeric', message: `not a number: ${preview(v)}` };
  if (!Number.isFinite(n)) return { ok: false, reason: 'non_numeric', message: `not a finite number: ${preview(v)}` };
  if (n <= 0) return { ok: false, reason: 'non_positive', message: `not positive: ${n}` };
  if (n < MIN_RATE || n > MAX_RATE) return { ok: false, reason: 'absurd', message: `outside ${MIN_RATE}…${MAX_RATE}: ${n}` };
  return { ok: true, value: n };
}

function preview(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

export type Fetcher = typeof fetch;

/** One poll of one source: GET, bounded in time (timeoutMs, body included) and size. Never throws. */
export async function fetchSource(src: SourceConfig, timeoutMs: number, fetcher: Fetcher = fetch): Promise<SourceResult> {
  let text: string;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetcher(src.url, { headers: { accept: 'application/json', 'user-agent': 'owlrun-gateway', ...src.headers }, signal, redirect: 'follow' });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, reason: 'http_status', message: `HTTP ${res.status}` };
    }
    const body = await readBounded(res, MAX_BODY_BYTES);
    if (body === undefined) return { ok: false, reason: 'too_large', message: `answer larger than ${MAX_BODY_BYTES} bytes` };
    text = body;
  } catch (err) {
    if (signal.aborted) return { ok: false, reason: 'timeout', message: `no answer within ${timeoutMs} ms` };
    return { ok: false, reason: 'network', message: describeError(err) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'bad_json', message: `not JSON: ${preview(text)}` };
  }
  return parsePrice(atPath(json, src.path));
}

async function readBounded(res: Response, limit: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message ?? 'fetch failed'} (${cause})` : (e?.message ?? String(err));
}

/** The median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const far = (a: number, b: number): boolean => a > b * ABSURD_FACTOR || b > a * ABSURD_FACTOR;

/**
 * Which of a round's prices are absurd: further than 10× from the median of the round. When
 * fewer than three sources answered, the previous sample (`anchor`, if recent) votes too. With
 * only two voters that disagree by more than 10×, nobody can tell which is right: the sources'
 * prices are both rejected (the anchor, when it is one of the two, wins).
 * Returns the indexes of `values` that are absurd.
 */
export function absurdIndexes(values: readonly number[], anchor?: number): Set<number> {
  const out = new Set<number>();
  if (values.length === 0) return out;
  const voters = values.length < 3 && anchor !== undefined ? [...values, anchor] : [...values];
  if (voters.length === 1) return out;
  if (voters.length === 2) {
    if (far(voters[0]!, voters[1]!)) {
      values.forEach((_, i) => out.add(i));
    }
    return out;
  }
  const ref = median(voters);
  values.forEach((v, i) => {
    if (far(v, ref)) out.add(i);
  });
  return out;
}
