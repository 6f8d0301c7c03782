// One event of an upstream response stream, as the parsers produce it and plugins see it.

/** sse and ndjson are streams; json is a whole non-streaming body, seen as one terminal event. */
export type StreamFormat = 'sse' | 'ndjson' | 'json';

export interface StreamEvent {
  readonly format: StreamFormat;
  /** The exact upstream bytes of this event, terminator included. Written out unchanged on `pass`. */
  readonly raw: Buffer;
  /**
   * SSE: the event's data field (several `data:` lines joined with "\n"), or undefined for an
   * event with no data line (comments/pings like `:\n\n`, bare `event:` lines).
   * NDJSON: the line without its line terminator (undefined for a blank line).
   */
  readonly data: string | undefined;
  /** True for the stream's terminal marker: SSE `data: [DONE]`; NDJSON a JSON object with `"done":true`. */
  readonly terminal: boolean;
  /** `data` parsed as JSON, parsed at most once and cached; undefined when absent or not JSON. */
  json(): unknown;
}

/** What a plugin wants done with one event. */
export type StreamAction =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'replace'; readonly bytes: Buffer }
  /** Forward `bytes` (or the event when absent), then end the upstream: the payment is used up. */
  | { readonly kind: 'cut'; readonly bytes?: Buffer };

export const PASS: StreamAction = Object.freeze({ kind: 'pass' });
export const DROP: StreamAction = Object.freeze({ kind: 'drop' });

/** A framing parser: bytes in (any split), whole events out. */
export interface EventParser {
  /** Feed one chunk; returns the events it completed. Throws StreamFrameError past maxEventBytes. */
  push(chunk: Buffer): StreamEvent[];
  /** End of input: returns a last unterminated event if its bytes form one (else []). */
  end(): StreamEvent[];
}

/**
 * Framing without events, for a stream no plugin reads: the same framing rules, limits and
 * terminal detection as the format's EventParser, but each push returns only the bytes of the
 * whole events it completed, joined (what the parser's events' raws would concatenate to).
 */
export interface EventFramer {
  /** Feed one chunk; the bytes of the events it completed (undefined: none). Throws StreamFrameError past maxEventBytes. */
  push(chunk: Buffer): Buffer | undefined;
  /** End of input: the bytes the parser's end() would give as a last event (undefined: none). */
  end(): Buffer | undefined;
  /** Some event framed so far (returned by push or end) is the stream's terminal marker. */
  readonly terminalSeen: boolean;
}

export class StreamFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamFrameError';
  }
}
