import type { StreamEvent } from './event.js';

/**
 * A whole non-streaming JSON body, presented to plugins as one terminal event; decoded and parsed
 * only when read. A class, not an object literal with a getter: see src/job/request-job.ts (a
 * per-request literal with an accessor keeps what it references alive until a full GC).
 */
class JsonBodyEvent implements StreamEvent {
  readonly format = 'json' as const;
  readonly terminal = true;
  private text: string | undefined;
  private parsed = false;
  private value: unknown;

  constructor(readonly raw: Buffer) {}

  get data(): string {
    return (this.text ??= this.raw.toString('utf8'));
  }

  json(): unknown {
    if (!this.parsed) {
      this.parsed = true;
      try {
        this.value = JSON.parse(this.data);
      } catch {
        this.value = undefined;
      }
    }
    return this.value;
  }
}

export function jsonBodyEvent(body: Buffer): StreamEvent {
  return new JsonBodyEvent(body);
}
