import type { StreamEvent } from './event.js';

/** A whole non-streaming JSON body, presented to plugins as one terminal event; decoded and parsed only when read. */
export function jsonBodyEvent(body: Buffer): StreamEvent {
  let data: string | undefined;
  let parsed: unknown;
  let done = false;
  return {
    format: 'json',
    raw: body,
    get data() {
      return (data ??= body.toString('utf8'));
    },
    terminal: true,
    json() {
      if (!done) {
        done = true;
        try {
          parsed = JSON.parse(this.data!);
        } catch {
          parsed = undefined;
        }
      }
      return parsed;
    },
  };
}
