// Byte-level Server-Sent Events framing (WHATWG EventSource rules) that keeps every input byte.

import { StreamFrameError, type EventParser, type StreamEvent } from './event.js';
import { PendingBytes } from './pending.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = [0xef, 0xbb, 0xbf] as const;



const DONE = Buffer.from('[DONE]');

/**
 * One event: its raw bytes and the [start, end) offsets of its non-blank lines. `terminal` is
 * decided on the bytes (one data line whose value is exactly `[DONE]`); `data` is decoded only
 * when read, and `json()` parsed at most once.
 */
class SseEvent implements StreamEvent {
  readonly format = 'sse' as const;
  readonly terminal: boolean;
  private decoded = false;
  private text: string | undefined;
  private parsed = false;
  private value: unknown;

  constructor(
    readonly raw: Buffer,
    private readonly lines: readonly number[],
  ) {
    this.terminal = isDone(raw, lines);
  }

  get data(): string | undefined {
    if (!this.decoded) {
      this.decoded = true;
      this.text = eventData(this.raw, this.lines);
    }
    return this.text;
  }

  json(): unknown {
    if (!this.parsed) {
      this.parsed = true;
      const data = this.data;
      if (data !== undefined && !this.terminal) {
        try {
          this.value = JSON.parse(data);
        } catch {
          this.value = undefined;
        }
      }
    }
    return this.value;
  }
}

/**
 * Where the value of a `data` line starts (one leading space dropped), or -1 when the line at
 * [s, e) is another field or a comment. Lines are `field:value`, `field` (empty value) or `:comment`.
 */
function dataValueStart(raw: Buffer, s: number, e: number): number {
  if (
    e - s < 4 ||
    raw[s] !== 0x64 || // d
    raw[s + 1] !== 0x61 || // a
    raw[s + 2] !== 0x74 || // t
    raw[s + 3] !== 0x61 // a
  ) {
    return -1;
  }
  let v = s + 4;
  if (v < e) {
    if (raw[v] !== COLON) return -1; // a longer field name such as `database:`
    v++;
    if (v < e && raw[v] === SPACE) v++;
  }
  return v;
}

/**
 * The `data` of one event from its raw bytes and the [start, end) offsets of its non-blank lines
 * (terminators excluded): only the `data` field counts, several values join with "\n".
 */
function eventData(raw: Buffer, lines: readonly number[]): string | undefined {
  let data: string | undefined;
  for (let k = 0; k < lines.length; k += 2) {
    const e = lines[k + 1]!;
    const v = dataValueStart(raw, lines[k]!, e);
    if (v === -1) continue;
    const value = raw.toString('utf8', v, e);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

/** The event's data is exactly `[DONE]` (what eventData would give), decided without decoding. */
function isDone(raw: Buffer, lines: readonly number[]): boolean {
  let found = false;
  for (let k = 0; k < lines.length; k += 2) {
    const e = lines[k + 1]!;
    const v = dataValueStart(raw, lines[k]!, e);
    if (v === -1) continue;
    if (found || e - v !== DONE.length || raw.compare(DONE, 0, DONE.length, v, e) !== 0) return false;
    found = true;
  }
  return found;
}

/**
 * Splits an SSE byte stream into events. Contract:
 * - each event's `raw` is exactly its input bytes through its terminating blank line, so the raws
 *   of all events (push results, then end()) concatenate to the input byte for byte;
 * - lines end at LF, CR or CRLF (also when CR and LF arrive in different chunks); a UTF-8 BOM at
 *   stream start is kept in `raw` but not parsed;
 * - blank lines that would form an empty event are carried as leading bytes of the next event;
 * - every chunk byte is scanned once; an event inside one chunk is not copied (raw is a view of
 *   the chunk), one spanning chunks is copied O(1) times per byte;
 * - an event longer than maxEventBytes (pending or complete) throws StreamFrameError, after which
 *   the parser must not be used again.
 */
export class SseParser implements EventParser {
  private readonly maxEventBytes: number;
  /** Bytes of the current event from earlier chunks. */
  private pending = new PendingBytes();
  /** Offset (within the current event) where the current line starts. */
  private lineStart = 0;
  /** [start, end) offset pairs of the current event's non-blank lines. */
  private lines: number[] = [];
  /** The previous chunk ended with a CR line end: an LF opening the next chunk belongs to it. */
  private skipLF = false;
  /** Still deciding whether the stream opens with a BOM. */
  private atStart = true;

  constructor(opts: { maxEventBytes: number }) {
    this.maxEventBytes = opts.maxEventBytes;
  }

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    const n = chunk.length;
    if (n === 0) return out;
    let i = 0;

    if (this.atStart) {
      let k = this.pending.length; // bytes held so far all match the BOM
      while (k < 3 && i < n && chunk[i] === BOM[k]) {
        k++;
        i++;
      }
      if (k === 3) {
        this.atStart = false;
        this.lineStart = 3;
      } else if (i === n) {
        this.hold(chunk, 0);
        return out;
      } else {
        this.atStart = false;
        i = 0; // held bytes and this chunk start an ordinary line
      }
    }

    // Offsets within the current event: base + (index in chunk - cs).
    let cs = 0;
    let base = this.pending.length;

    if (this.skipLF) {
      this.skipLF = false;
      if (chunk[i] === LF) {
        i++;
        this.lineStart = base + i - cs;
      }
    }

    let lf = -2; // next LF / CR at or after i; -1 = none left in this chunk
    let cr = -2;
    while (i < n) {
      if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i);
      let end: number;
      let next: number;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        if (lf === -1) break;
        end = lf;
        next = lf + 1;
      } else {
        end = cr;
        next = cr + 1;
        if (next === n) this.skipLF = true;
        else if (chunk[next] === LF) next++;
      }

      const ls = this.lineStart;
      const le = base + end - cs;
      if (le !== ls) {
        this.lines.push(ls, le);
        this.lineStart = base + next - cs;
      } else if (this.lines.length === 0) {
        this.lineStart = base + next - cs; // nothing to dispatch: keep as leading bytes
      } else {
        out.push(this.dispatch(chunk, cs, next));
        cs = next;
        base = 0;
      }
      i = next;
    }

    if (cs < n) this.hold(chunk, cs);
    if (this.pending.length > this.maxEventBytes) this.tooLarge(this.pending.length);
    return out;
  }

  end(): StreamEvent[] {
    const raw = this.pending.take();
    const len = raw.length;
    // EOF ends the last line.
    if (this.lineStart < len) this.lines.push(this.lineStart, len);
    const lines = this.lines;
    this.reset();
    this.skipLF = false;
    this.atStart = false;
    if (len === 0) return [];
    return [new SseEvent(raw, lines)];
  }

  /** The event ending at chunk[next - 1]; its bytes start in `pending` or at chunk[cs]. */
  private dispatch(chunk: Buffer, cs: number, next: number): SseEvent {
    const raw =
      this.pending.length === 0
        ? chunk.subarray(cs, next)
        : this.pending.take(chunk.subarray(0, next));
    if (raw.length > this.maxEventBytes) this.tooLarge(raw.length);
    const event = new SseEvent(raw, this.lines);
    this.reset();
    return event;
  }

  private hold(chunk: Buffer, from: number): void {
    this.pending.add(from === 0 ? chunk : chunk.subarray(from));
  }

  /** Forget the current event's lines; its bytes must already be taken from `pending`. */
  private reset(): void {
    this.lineStart = 0;
    this.lines = [];
  }

  private tooLarge(len: number): never {
    throw new StreamFrameError(
      `SSE event of at least ${len} bytes exceeds the limit of ${this.maxEventBytes} bytes`,
    );
  }
}
