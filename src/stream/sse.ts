// Byte-level Server-Sent Events framing (WHATWG EventSource rules) that keeps every input byte.

import { StreamFrameError, type EventFramer, type EventParser, type StreamEvent } from './event.js';
import { CR, LF, LineEnds } from './line-ends.js';
import { PendingBytes } from './pending.js';

const COLON = 0x3a;
const SPACE = 0x20;
const BOM = [0xef, 0xbb, 0xbf] as const;
const CLOSE_BRACKET = 0x5d;

/**
 * The [start, end) offsets of an event's non-blank lines (terminators excluded): the first line
 * in two numbers, the others (rare) in an array, so an event of one line makes no array.
 */
interface EventLines {
  /** Start of the first non-blank line; -1: none. */
  readonly firstStart: number;
  readonly firstEnd: number;
  /** [start, end) pairs of the lines after the first; undefined: none. */
  readonly more: readonly number[] | undefined;
}

/**
 * One event: its raw bytes and the [start, end) offsets of its non-blank lines. `terminal` is
 * decided on the bytes (one data line whose value is exactly `[DONE]`); `data` is decoded only
 * when read, and `json()` parsed at most once.
 */
class SseEvent implements StreamEvent, EventLines {
  readonly format = 'sse' as const;
  readonly terminal: boolean;
  private decoded = false;
  private text: string | undefined = undefined;
  private parsed = false;
  private value: unknown = undefined;

  constructor(
    readonly raw: Buffer,
    readonly firstStart: number,
    readonly firstEnd: number,
    readonly more: readonly number[] | undefined,
  ) {
    this.terminal = firstStart !== -1 && isDone(raw, this);
  }

  get data(): string | undefined {
    if (!this.decoded) {
      this.decoded = true;
      this.text = this.firstStart === -1 ? undefined : eventData(this.raw, this);
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

/** The value of one data line, appended to the data so far ("\n" between values). */
function joinValue(raw: Buffer, s: number, e: number, data: string | undefined): string | undefined {
  const v = dataValueStart(raw, s, e);
  if (v === -1) return data;
  const value = raw.toString('utf8', v, e);
  return data === undefined ? value : `${data}\n${value}`;
}

/** The `data` of one event: only the `data` field counts, several values join with "\n". */
function eventData(raw: Buffer, lines: EventLines): string | undefined {
  let data = joinValue(raw, lines.firstStart, lines.firstEnd, undefined);
  const more = lines.more;
  if (more !== undefined) for (let k = 0; k < more.length; k += 2) data = joinValue(raw, more[k]!, more[k + 1]!, data);
  return data;
}

/** 0: the line at [s, e) is no data line; 1: a data line whose value is exactly `[DONE]`; 2: another data line. */
function doneLine(raw: Buffer, s: number, e: number): 0 | 1 | 2 {
  const v = dataValueStart(raw, s, e);
  if (v === -1) return 0;
  return e - v === 6 &&
    raw[v] === 0x5b && // [
    raw[v + 1] === 0x44 && // D
    raw[v + 2] === 0x4f && // O
    raw[v + 3] === 0x4e && // N
    raw[v + 4] === 0x45 && // E
    raw[v + 5] === CLOSE_BRACKET
    ? 1
    : 2;
}

/** The event's data is exactly `[DONE]` (what eventData would give), decided without decoding. */
function isDone(raw: Buffer, lines: EventLines): boolean {
  let found = doneLine(raw, lines.firstStart, lines.firstEnd);
  if (found === 2) return false;
  const more = lines.more;
  if (more !== undefined) {
    for (let k = 0; k < more.length; k += 2) {
      const line = doneLine(raw, more[k]!, more[k + 1]!);
      if (line === 2 || (line === 1 && found === 1)) return false;
      if (line === 1) found = 1;
    }
  }
  return found === 1;
}

/**
 * The chunk is exactly one event of one line: a non-empty line without CR or LF, then LF LF.
 * At an event boundary the parsers take such a chunk whole, without their line loop: the usual
 * chunk of a streaming backend. Nothing held (blank lines and begun lines are held) and no BOM
 * decision pending means a boundary; a CR that ended the last chunk must still meet its LF.
 */
function isOneLineEvent(chunk: Buffer): boolean {
  const n = chunk.length;
  return n >= 3 && chunk[n - 1] === LF && chunk.indexOf(LF) === n - 2 && chunk.indexOf(CR) === -1;
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
  /** The current event's non-blank lines: the first one's [start, end) (start -1: none yet), then pairs of the others. */
  private firstStart = -1;
  private firstEnd = 0;
  private more: number[] | undefined = undefined;
  private readonly lineEnds = new LineEnds();
  /** Still deciding whether the stream opens with a BOM. */
  private atStart = true;

  constructor(opts: { maxEventBytes: number }) {
    this.maxEventBytes = opts.maxEventBytes;
  }

  push(chunk: Buffer): StreamEvent[] {
    const n = chunk.length;
    if (this.pending.length === 0 && !this.lineEnds.pendingLF && !this.atStart && n <= this.maxEventBytes && isOneLineEvent(chunk)) {
      return [new SseEvent(chunk, 0, n - 2, undefined)];
    }
    const out: StreamEvent[] = [];
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

    const lineEnds = this.lineEnds;
    const start = lineEnds.begin(chunk, i);
    if (start !== i) {
      i = start;
      this.lineStart = base + i - cs;
    }

    while (i < n && lineEnds.find(chunk, i)) {
      const end = lineEnds.end;
      const next = lineEnds.next;

      const ls = this.lineStart;
      const le = base + end - cs;
      if (le !== ls) {
        if (this.firstStart === -1) {
          this.firstStart = ls;
          this.firstEnd = le;
        } else {
          (this.more ??= []).push(ls, le);
        }
        this.lineStart = base + next - cs;
      } else if (this.firstStart === -1) {
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
    const ls = this.lineStart;
    let { firstStart, firstEnd, more } = this;
    if (ls < len) {
      if (firstStart === -1) {
        firstStart = ls;
        firstEnd = len;
      } else {
        (more ??= []).push(ls, len);
      }
    }
    this.reset();
    this.lineEnds.reset();
    this.atStart = false;
    if (len === 0) return [];
    return [new SseEvent(raw, firstStart, firstEnd, more)];
  }

  /** The event ending at chunk[next - 1]; its bytes start in `pending` or at chunk[cs]. */
  private dispatch(chunk: Buffer, cs: number, next: number): SseEvent {
    const raw =
      this.pending.length === 0
        ? cs === 0 && next === chunk.length
          ? chunk
          : chunk.subarray(cs, next)
        : this.pending.take(chunk.subarray(0, next));
    if (raw.length > this.maxEventBytes) this.tooLarge(raw.length);
    const event = new SseEvent(raw, this.firstStart, this.firstEnd, this.more);
    this.reset();
    return event;
  }

  private hold(chunk: Buffer, from: number): void {
    this.pending.add(from === 0 ? chunk : chunk.subarray(from));
  }

  /**
   * Whether `bytes`, whole events as this parser frames them, hold a terminal event. `atStart`:
   * they open the stream (a BOM there is not parsed).
   */
  static holdsTerminal(bytes: Buffer, atStart: boolean): boolean {
    const parser = new SseParser({ maxEventBytes: Infinity });
    parser.atStart = atStart;
    for (const ev of parser.push(bytes)) if (ev.terminal) return true;
    for (const ev of parser.end()) if (ev.terminal) return true;
    return false;
  }

  /** Forget the current event's lines; its bytes must already be taken from `pending`. */
  private reset(): void {
    this.lineStart = 0;
    this.firstStart = -1;
    this.more = undefined;
  }

  private tooLarge(len: number): never {
    throw new StreamFrameError(
      `SSE event of at least ${len} bytes exceeds the limit of ${this.maxEventBytes} bytes`,
    );
  }
}

/**
 * SseParser's framing without events, for a stream no plugin reads (EventFramer). Contract, on
 * top of SseParser's (same line ends across chunks, BOM, blank lines carried, maxEventBytes
 * per event and pending): the bytes push and end return concatenate to exactly the raws the
 * parser's events would, split the same way per chunk; a chunk that completes only whole
 * events is returned itself (no view, no copy); `terminalSeen` is what the parser's events'
 * `terminal` would say. Per chunk no object is made: lines are not recorded, and only a line
 * ending in `]` makes its event (and those after it in the chunk) be parsed again to decide `terminal`.
 */
export class SseFramer implements EventFramer {
  private readonly maxEventBytes: number;
  /** Bytes of the current event from earlier chunks. */
  private pending = new PendingBytes();
  /** The last byte held in `pending` (the end of a line that goes on in the next chunk). */
  private lastHeld = 0;
  /** Offset (within the current event) where the current line starts. */
  private lineStart = 0;
  /** The current event has a non-blank line: the next blank line ends it. */
  private open = false;
  /** A line of the current event ends with `]`: it may be `data: [DONE]`. */
  private suspect = false;
  private readonly lineEnds = new LineEnds();
  /** Still deciding whether the stream opens with a BOM. */
  private atStart = true;
  /** Nothing returned yet: the next bytes returned open the stream. */
  private first = true;
  private terminal = false;

  constructor(opts: { maxEventBytes: number }) {
    this.maxEventBytes = opts.maxEventBytes;
  }

  get terminalSeen(): boolean {
    return this.terminal;
  }

  push(chunk: Buffer): Buffer | undefined {
    const n = chunk.length;
    if (n === 0) return undefined;
    if (this.pending.length === 0 && !this.lineEnds.pendingLF && !this.atStart && n <= this.maxEventBytes && isOneLineEvent(chunk)) {
      if (chunk[n - 3] === CLOSE_BRACKET && !this.terminal) this.terminal = SseParser.holdsTerminal(chunk, this.first);
      this.first = false;
      return chunk;
    }
    let i = 0;

    if (this.atStart) {
      let k = this.pending.length;
      while (k < 3 && i < n && chunk[i] === BOM[k]) {
        k++;
        i++;
      }
      if (k === 3) {
        this.atStart = false;
        this.lineStart = 3;
      } else if (i === n) {
        this.hold(chunk, 0);
        return undefined;
      } else {
        this.atStart = false;
        i = 0;
      }
    }

    // Offsets within the current event: base + (index in chunk - cs).
    let cs = 0;
    const held = this.pending.length;
    let base = held;
    /** Where, in the bytes returned, the first completed event with a line ending in `]` starts (-1: none). */
    let suspectAt = -1;

    const lineEnds = this.lineEnds;
    const start = lineEnds.begin(chunk, i);
    if (start !== i) {
      i = start;
      this.lineStart = base + i - cs;
    }

    while (i < n && lineEnds.find(chunk, i)) {
      const end = lineEnds.end;
      const next = lineEnds.next;

      const le = base + end - cs;
      if (le !== this.lineStart) {
        this.open = true;
        if ((end > 0 ? chunk[end - 1] : this.lastHeld) === CLOSE_BRACKET) this.suspect = true;
        this.lineStart = base + next - cs;
      } else if (!this.open) {
        this.lineStart = base + next - cs;
      } else {
        const len = base + next - cs;
        if (len > this.maxEventBytes) this.tooLarge(len);
        if (this.suspect && suspectAt === -1) suspectAt = cs === 0 ? 0 : held + cs;
        this.open = false;
        this.suspect = false;
        this.lineStart = 0;
        cs = next;
        base = 0;
      }
      i = next;
    }

    let out: Buffer | undefined;
    if (cs > 0) {
      const done = cs === n ? chunk : chunk.subarray(0, cs);
      out = this.pending.length === 0 ? done : this.pending.take(done);
    }
    if (cs < n) {
      this.hold(chunk, cs);
      if (this.pending.length > this.maxEventBytes) this.tooLarge(this.pending.length);
    }
    if (out !== undefined) {
      if (suspectAt !== -1 && !this.terminal) {
        this.terminal = SseParser.holdsTerminal(suspectAt === 0 ? out : out.subarray(suspectAt), this.first && suspectAt === 0);
      }
      this.first = false;
    }
    return out;
  }

  end(): Buffer | undefined {
    const raw = this.pending.take();
    const len = raw.length;
    const suspect = this.suspect || (this.lineStart < len && raw[len - 1] === CLOSE_BRACKET);
    this.lineStart = 0;
    this.open = false;
    this.suspect = false;
    this.lineEnds.reset();
    this.atStart = false;
    if (len === 0) return undefined;
    if (suspect && !this.terminal) this.terminal = SseParser.holdsTerminal(raw, this.first);
    this.first = false;
    return raw;
  }

  private hold(chunk: Buffer, from: number): void {
    this.pending.add(from === 0 ? chunk : chunk.subarray(from));
    this.lastHeld = chunk[chunk.length - 1]!;
  }

  private tooLarge(len: number): never {
    throw new StreamFrameError(
      `SSE event of at least ${len} bytes exceeds the limit of ${this.maxEventBytes} bytes`,
    );
  }
}
