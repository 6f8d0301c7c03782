import type { Upstream } from '../proxy/transport.js';
import { SseParser } from './sse.js';
import { StreamFrameError, type EventParser, type StreamAction, type StreamEvent } from './event.js';
import type { RelayOutcome } from './relay.js';

export interface CollectHooks {
  /** Per event, synchronous: the plugins' action (metering counts and may cut). */
  onEvent(event: StreamEvent): StreamAction;
  /** An event (or a plugin's replacement) to keep for the answer. */
  keep(event: StreamEvent): void;
}

export interface CollectEnd {
  outcome: RelayOutcome;
  error?: string;
}

/**
 * Reads a whole upstream event stream for a client that wants ONE answer: every event goes
 * through the same plugin actions as a relayed stream (metering, budget cut), what they let
 * through is kept, nothing is written. MUST hold: resolves exactly once; the upstream is
 * aborted unless it ended normally; a client that goes away stops it at once; at most
 * `limit` bytes are read.
 */
export function collectStream(upstream: Upstream, parser: EventParser, signal: AbortSignal, limit: number, hooks: CollectHooks): Promise<CollectEnd> {
  const source = upstream.response;
  let terminalSeen = false;
  let size = 0;
  return new Promise<CollectEnd>((resolve) => {
    let ended = false;
    const finish = (outcome: RelayOutcome, error?: string) => {
      if (ended) return;
      ended = true;
      source.off('data', onData);
      signal.removeEventListener('abort', onAbort);
      if (outcome !== 'ok') upstream.abort();
      resolve({ outcome, error });
    };
    /** Applies the plugins' actions; false once the stream was cut. */
    const handle = (events: StreamEvent[]): boolean => {
      for (const ev of events) {
        if (ev.terminal) terminalSeen = true;
        const action = hooks.onEvent(ev);
        if (action.kind === 'pass') hooks.keep(ev);
        else if (action.kind === 'replace') for (const r of new SseParser({ maxEventBytes: limit }).push(action.bytes)) hooks.keep(r);
        else if (action.kind === 'cut') {
          if (action.bytes) for (const r of new SseParser({ maxEventBytes: limit }).push(action.bytes)) hooks.keep(r);
          return false;
        }
      }
      return true;
    };
    const onData = (chunk: Buffer) => {
      if (ended) return;
      size += chunk.length;
      if (size > limit) return finish('backend_failed', `response over ${limit} bytes`);
      try {
        if (!handle(parser.push(chunk))) finish('cut');
      } catch (err) {
        finish('backend_failed', err instanceof StreamFrameError ? err.message : String(err));
      }
    };
    const onAbort = () => finish('client_gone');
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    source.on('data', onData);
    source.once('end', () => {
      if (ended) return;
      let rest: StreamEvent[] = [];
      try {
        rest = parser.end();
      } catch {
        /* a partial event at EOF: the stream is broken, reported below */
      }
      if (!handle(rest)) return finish('cut');
      finish(terminalSeen ? 'ok' : 'backend_failed', terminalSeen ? undefined : 'upstream ended before its terminal marker');
    });
    source.once('error', (err) => finish('backend_failed', err.message));
    source.once('close', () => {
      if (!source.readableEnded) finish('backend_failed', 'upstream closed');
    });
  });
}
