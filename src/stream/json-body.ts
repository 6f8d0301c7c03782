import type { StreamEvent } from './event.js';

/** A whole non-streaming JSON body, presented to plugins as one terminal event. */
export function jsonBodyEvent(body: Buffer): StreamEvent {
  let parsed: unknown;
  let done = false;
  const data = body.toString('utf8');
  return {
    format: 'json',
    raw: body,
    data,
    terminal: true,
    json() {
      if (!done) {
        done = true;
        try {
          parsed = JSON.parse(data);
        } catch {
          parsed = undefined;
        }
      }
      return parsed;
    },
  };
}
