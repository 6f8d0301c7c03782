// Newline-delimited JSON framing (Ollama native streams) that keeps every input byte.

import { StreamFrameError, type EventFramer, type EventParser, type StreamEvent } from './event.js';
import { PendingBytes } from './pending.js';

const LF = 0x0a;
const CR = 0x0d;

class NdjsonEvent implements StreamEvent {
  readonly format = 'ndjson' as const;
  readonly data: string | undefined;
  readonly terminal: boolean;
  private readonly value: unknown;

  /** `end` is the offset of the line terminator (raw.length for a final line without one). */
  constructor(
    readonly raw: Buffer,
    end: number,
  ) {
    if (end > 0 && raw[end - 1] === CR) end--;
    if (end === 0) {
      this.data = undefined;
      this.terminal = false;
      return;
    }
    const data = raw.toString('utf8', 0, end);
    this.data = data;
    try {
      this.value = JSON.parse(data);
    } catch {
      this.value = undefined;
    }
    const v = this.value;
    this.terminal =
      typeof v === 'object' && v !== null && (v as { done?: unknown }).done === true;
  }

  /** Parsed once, when the line was framed (terminal detection needs it). */
  json(): unknown {
    return this.value;
  }
}

/**
 * Splits an NDJSON byte stream into one event per line. Contract:
 * - each event's `raw` is exactly the line's input bytes including its LF, so the raws of all
 *   events (push results, then end()) concatenate to the input byte for byte;
 * - lines end at LF only; a CR before the LF is kept in `raw` and stripped from `data`;
 * - every chunk byte is scanned once; a line inside one chunk is not copied (raw is a view of the
 *   chunk), one spanning chunks is copied O(1) times per byte;
 * - a line longer than maxEventBytes (pending or complete) throws StreamFrameError, after which
 *   the parser must not be used again.
 */
export class NdjsonParser implements EventParser {
  private readonly maxEventBytes: number;
  /** Bytes of the current line from earlier chunks. */
  private pending = new PendingBytes();

  constructor(opts: { maxEventBytes: number }) {
    this.maxEventBytes = opts.maxEventBytes;
  }

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    const n = chunk.length;
    let start = 0;
    let lf = chunk.indexOf(LF);
    while (lf !== -1) {
      const next = lf + 1;
      const raw =
        this.pending.length === 0
          ? start === 0 && next === n
            ? chunk
            : chunk.subarray(start, next)
          : this.pending.take(chunk.subarray(0, next));
      if (raw.length > this.maxEventBytes) this.tooLarge(raw.length);
      out.push(new NdjsonEvent(raw, raw.length - 1));
      start = next;
      lf = next < n ? chunk.indexOf(LF, next) : -1;
    }
    if (start < n) {
      this.pending.add(start === 0 ? chunk : chunk.subarray(start));
      if (this.pending.length > this.maxEventBytes) this.tooLarge(this.pending.length);
    }
    return out;
  }

  end(): StreamEvent[] {
    const raw = this.pending.take();
    return raw.length === 0 ? [] : [new NdjsonEvent(raw, raw.length)];
  }

  /** Whether `bytes`, whole lines (the last may lack its LF), hold a terminal line. */
  static holdsTerminal(bytes: Buffer): boolean {
    const parser = new NdjsonParser({ maxEventBytes: Infinity });
    for (const ev of parser.push(bytes)) if (ev.terminal) return true;
    for (const ev of parser.end()) if (ev.terminal) return true;
    return false;
  }

  private tooLarge(len: number): never {
    throw new StreamFrameError(
      `NDJSON line of at least ${len} bytes exceeds the limit of ${this.maxEventBytes} bytes`,
    );
  }
}

/** `true` cannot be written otherwise in JSON: a line without these bytes is not terminal. */
const TRUE = Buffer.from('true');
/** `"done":false}`: the end of an Ollama line that is not the last. */
const DONE_FALSE = Buffer.from('"done":false}');

/**
 * The bytes are one line (LF, CRLF or no terminator at the end only) ending in `,"done":false}`
 * or `{"done":false}`: not terminal. If the line is JSON, that `}` closes the top-level object,
 * `false` is its last member's value, and the quote before `done` (after `,` or `{`, so not
 * escaped) opens that member's key: done is false whatever came before (the last duplicate
 * key wins). If it is not JSON it is not terminal either. Saves a search for `true` per line.
 */
function isOneLineNotDone(bytes: Buffer): boolean {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === LF) end--;
  if (end > 0 && bytes[end - 1] === CR) end--;
  const start = end - DONE_FALSE.length;
  if (start < 1) return false;
  const before = bytes[start - 1];
  if (before !== 0x2c && before !== 0x7b) return false; // , {
  for (let k = 0; k < DONE_FALSE.length; k++) if (bytes[start + k] !== DONE_FALSE[k]) return false;
  const lf = bytes.indexOf(LF);
  return lf === -1 || lf >= end;
}

/**
 * NdjsonParser's framing without events, for a stream no plugin reads (EventFramer). Contract,
 * on top of NdjsonParser's (maxEventBytes per line and pending): the bytes push and end return
 * concatenate to exactly the raws the parser's events would, split the same way per chunk; a
 * chunk that completes only whole lines is returned itself; `terminalSeen` is what the
 * parser's events' `terminal` would say. Lines are parsed as JSON only when their bytes hold
 * `true` (the `"done":true` of the terminal line); a line that ends in `"done":false}` is not searched.
 */
export class NdjsonFramer implements EventFramer {
  private readonly maxEventBytes: number;
  private pending = new PendingBytes();
  private terminal = false;

  constructor(opts: { maxEventBytes: number }) {
    this.maxEventBytes = opts.maxEventBytes;
  }

  get terminalSeen(): boolean {
    return this.terminal;
  }

  push(chunk: Buffer): Buffer | undefined {
    const n = chunk.length;
    const last = chunk.lastIndexOf(LF);
    if (last !== -1 && this.pending.length + last + 1 > this.maxEventBytes) {
      // Some line may be over the bound: measure each (the first includes the pending bytes).
      let start = 0;
      let base = this.pending.length;
      for (let lf = chunk.indexOf(LF); lf !== -1; lf = lf + 1 < n ? chunk.indexOf(LF, lf + 1) : -1) {
        const len = base + lf + 1 - start;
        if (len > this.maxEventBytes) this.tooLarge(len);
        start = lf + 1;
        base = 0;
      }
    }
    const cut = last + 1;
    let out: Buffer | undefined;
    if (cut > 0) {
      const done = cut === n ? chunk : chunk.subarray(0, cut);
      out = this.pending.length === 0 ? done : this.pending.take(done);
    }
    if (cut < n) {
      this.pending.add(cut === 0 ? chunk : chunk.subarray(cut));
      if (this.pending.length > this.maxEventBytes) this.tooLarge(this.pending.length);
    }
    if (out !== undefined && !this.terminal) this.check(out);
    return out;
  }

  end(): Buffer | undefined {
    const raw = this.pending.take();
    if (raw.length === 0) return undefined;
    if (!this.terminal) this.check(raw);
    return raw;
  }

  private check(bytes: Buffer): void {
    if (isOneLineNotDone(bytes)) return;
    if (bytes.indexOf(TRUE) !== -1) this.terminal = NdjsonParser.holdsTerminal(bytes);
  }

  private tooLarge(len: number): never {
    throw new StreamFrameError(
      `NDJSON line of at least ${len} bytes exceeds the limit of ${this.maxEventBytes} bytes`,
    );
  }
}
