import type { ServerResponse } from 'node:http';
import { ResponseBody } from '../http/response-body.js';
import type { Upstream } from '../proxy/transport.js';
import { StreamFrameError, type EventFramer, type EventParser, type StreamAction, type StreamEvent } from './event.js';

export type RelayOutcome = 'ok' | 'cut' | 'backend_failed' | 'client_gone';

export interface RelayEnd {
  outcome: RelayOutcome;
  /** The upstream's terminal marker ([DONE] / "done":true) went through. */
  terminalSeen: boolean;
  /** Some body bytes were written to the client. */
  delivered: boolean;
  error?: string;
}

export interface RelayHooks {
  /** Once, when the relay ends however it ends; resolves to the bytes to append (the change). */
  finish(end: RelayEnd): Promise<Buffer[]>;
  /** Called once, at the first write to the client (first-byte timing). */
  onFirstWrite?(): void;
}

/** How the upstream's bytes become what the client gets. */
export type RelayFraming =
  /** Some plugin reads events: each one goes through `onEvent`, which says what to write for it. */
  | { readonly parser: EventParser; onEvent(event: StreamEvent): StreamAction }
  /** No plugin reads events: whole events are written as they were framed, nothing else is made per event. */
  | { readonly framer: EventFramer };

const SSE_DONE = Buffer.from('data: [DONE]\n\n');

/**
 * The bytes one upstream read produces, in order, joined for ONE write. Pieces that follow each
 * other in the same memory (events of one chunk passed unchanged: views of it) join as a view,
 * without a copy; only a run of non-adjacent pieces is copied (Buffer.concat).
 */
class OutputRun {
  private first: Buffer;
  private rest?: Buffer[];

  constructor(first: Buffer) {
    this.first = first;
  }

  add(piece: Buffer): void {
    const last = this.rest ? this.rest[this.rest.length - 1]! : this.first;
    if (last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
      const joined = Buffer.from(last.buffer, last.byteOffset, last.length + piece.length);
      if (this.rest) this.rest[this.rest.length - 1] = joined;
      else this.first = joined;
    } else {
      (this.rest ??= [this.first]).push(piece);
    }
  }

  /** Everything added, as one Buffer. */
  bytes(): Buffer {
    return this.rest ? Buffer.concat(this.rest) : this.first;
  }
}

/**
 * Relays an upstream event stream to the client, whole events only, with backpressure.
 * MUST hold: the client's stream always ends cleanly once the upstream ends, breaks, or is cut
 * (an SSE stream that lost its [DONE] gets one), `finish` runs exactly once, and its trailer
 * is the last thing written. A client that goes away aborts the upstream at once. Both
 * framings write the same bytes for passed events, in one socket write per upstream read.
 * Not built on pipeline(): the client's response must outlive a dying upstream and receive a
 * trailer produced after an asynchronous settlement.
 */
export function relayStream(upstream: Upstream, res: ServerResponse, framing: RelayFraming, sse: boolean, hooks: RelayHooks): Promise<void> {
  const source = upstream.response;
  const events = 'parser' in framing ? framing : undefined;
  const framer = 'framer' in framing ? framing.framer : undefined;
  let ended = false;
  let terminalSeen = false;
  let delivered = false;
  const body = new ResponseBody(res);

  return new Promise<void>((resolve) => {
    const resume = () => source.resume();
    const write = (buf: Buffer) => {
      if (buf.length === 0 || res.destroyed) return;
      if (!delivered) {
        delivered = true;
        hooks.onFirstWrite?.();
      }
      if (!body.write(buf) && !ended) {
        source.pause();
        res.once('drain', resume);
      }
    };

    /**
     * Applies the plugins' actions to the events of one upstream read and writes what they
     * produce in ONE write (a write per event would cost a chunked-encoding frame each).
     * Returns false when the stream was cut.
     */
    const handle = (list: StreamEvent[]): boolean => {
      let out: Buffer | undefined;
      let run: OutputRun | undefined;
      let cut = false;
      for (const ev of list) {
        if (ev.terminal) terminalSeen = true;
        const action = events!.onEvent(ev);
        let piece: Buffer;
        if (action.kind === 'pass') piece = ev.raw;
        else if (action.kind === 'replace') piece = action.bytes;
        else if (action.kind === 'cut') {
          piece = action.bytes ?? ev.raw;
          cut = true;
        } else continue;
        if (piece.length > 0) {
          if (out === undefined) out = piece;
          else (run ??= new OutputRun(out)).add(piece);
        }
        if (cut) break;
      }
      if (out !== undefined) write(run ? run.bytes() : out);
      return !cut;
    };

    const finish = (outcome: RelayOutcome, error?: string) => {
      if (ended) return;
      ended = true;
      source.off('data', onData);
      if (framer?.terminalSeen) terminalSeen = true;
      if (outcome !== 'ok') upstream.abort();
      const closing = sse && !terminalSeen && outcome !== 'client_gone' ? [SSE_DONE] : [];
      hooks
        .finish({ outcome, terminalSeen, delivered, error })
        .catch(() => [] as Buffer[])
        .then((trailer) => {
          if (!res.destroyed && !res.writableEnded) {
            const tail = Buffer.concat([...closing, ...trailer]);
            if (tail.length > 0) delivered = true;
            body.end(tail);
          }
          resolve();
        });
    };

    const onData = framer
      ? (chunk: Buffer) => {
          if (ended) return;
          let out: Buffer | undefined;
          try {
            out = framer.push(chunk);
          } catch (err) {
            finish('backend_failed', err instanceof StreamFrameError ? err.message : String(err));
            return;
          }
          if (out !== undefined) write(out);
        }
      : (chunk: Buffer) => {
          if (ended) return;
          let list: StreamEvent[];
          try {
            list = events!.parser.push(chunk);
          } catch (err) {
            finish('backend_failed', err instanceof StreamFrameError ? err.message : String(err));
            return;
          }
          if (!handle(list)) finish('cut');
        };

    source.on('data', onData);
    source.once('end', () => {
      if (ended) return;
      if (framer) {
        const rest = framer.end();
        if (rest !== undefined) write(rest);
        if (framer.terminalSeen) terminalSeen = true;
      } else {
        let rest: StreamEvent[] = [];
        try {
          rest = events!.parser.end();
        } catch {
          /* a partial event at EOF is a broken stream; reported below */
        }
        if (!handle(rest)) return finish('cut');
      }
      finish(terminalSeen ? 'ok' : 'backend_failed', terminalSeen ? undefined : 'upstream ended before its terminal marker');
    });
    source.once('error', (err) => finish('backend_failed', err.message));
    source.once('aborted', () => finish('backend_failed', 'upstream aborted'));
    source.once('close', () => {
      if (!source.readableEnded) finish('backend_failed', 'upstream closed');
    });
    res.once('close', () => {
      if (!res.writableFinished) finish('client_gone');
    });
    // The client may have left while the backend was still working on its first byte: its
    // 'close' has already fired, so stop the upstream now (nothing is delivered, nothing billed).
    if (res.destroyed) finish('client_gone');
  });
}
