// Splits a paid stream into events as bytes arrive, passes every event through byte for byte,
// except the gateway's change event ({"type":"cashu_change",…}, the last one), which it keeps:
// SDK parsers expect only the backend's events. Also notes the backend's own end ([DONE] for
// SSE, "done":true for NDJSON), after which only the change can follow.

export interface ChangeEvent {
  type: 'cashu_change';
  token: string;
  change_sats: number;
  cost_sats?: number;
}

export function isChangeEvent(v: unknown): v is ChangeEvent {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'cashu_change' && typeof (v as { token?: unknown }).token === 'string';
}

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class ChangeFilter {
  private buf: Uint8Array = new Uint8Array(0);
  /** Where the search for the next boundary resumes. */
  private scanned = 0;
  change: ChangeEvent | undefined;
  /** The backend's final event went by. */
  ended = false;

  constructor(private readonly format: 'sse' | 'ndjson') {}

  /** Feeds bytes; returns the complete events to pass on (possibly none). */
  push(chunk: Uint8Array): Uint8Array[] {
    this.buf = concat(this.buf, chunk);
    const out: Uint8Array[] = [];
    let start = 0;
    for (let i = Math.max(this.scanned, 0); i < this.buf.length; i++) {
      const end = this.boundaryEnd(i);
      if (end === 0) continue;
      if (end < 0) break; // a boundary may be completed by the next chunk
      const event = this.buf.subarray(start, end);
      if (!this.take(event)) out.push(event);
      start = end;
      i = end - 1;
    }
    this.buf = this.buf.slice(start);
    this.scanned = Math.max(0, this.buf.length - 3);
    return out;
  }

  /** The stream ended: whatever is buffered is a last, unterminated event. */
  flush(): Uint8Array[] {
    const rest = this.buf;
    this.buf = new Uint8Array(0);
    this.scanned = 0;
    if (rest.length === 0 || this.take(rest)) return [];
    return [rest];
  }

  /** The end index (exclusive) of an event boundary starting at i; 0 none; -1 undecidable yet. */
  private boundaryEnd(i: number): number {
    const b = this.buf;
    if (this.format === 'ndjson') return b[i] === LF ? i + 1 : 0;
    if (b[i] !== LF && b[i] !== CR) return 0;
    // SSE: an event ends at an empty line — \n\n, \r\n\r\n, \r\r (or mixed).
    const lineEnd = (j: number): number => (b[j] === CR ? (j + 1 >= b.length ? -1 : b[j + 1] === LF ? j + 2 : j + 1) : b[j] === LF ? j + 1 : 0);
    const first = lineEnd(i);
    if (first <= 0) return first;
    if (first >= b.length) return -1;
    const second = lineEnd(first);
    return second;
  }

  /** Records the change event or the end marker; true when the event is the change (kept back). */
  private take(event: Uint8Array): boolean {
    const text = decoder.decode(event);
    let payload: string;
    if (this.format === 'ndjson') {
      payload = text.trim();
    } else {
      const data = text
        .split(/\r\n|\r|\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l[5] === ' ' ? 6 : 5));
      if (data.length === 0) return false;
      payload = data.join('\n');
      if (payload.trim() === '[DONE]') {
        this.ended = true;
        return false;
      }
    }
    if (!payload.includes('cashu_change') && !(this.format === 'ndjson' && payload.includes('"done"'))) return false;
    const v = parseJson(payload);
    if (isChangeEvent(v)) {
      this.change = v;
      this.ended = true;
      return true;
    }
    if (this.format === 'ndjson' && typeof v === 'object' && v !== null && (v as { done?: unknown }).done === true) this.ended = true;
    return false;
  }
}
