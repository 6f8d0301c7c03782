// Incremental Server-Sent Events framing: feed it text as it arrives, get each event's data.
// Pure (no DOM): unit-tested in test/unit/web.

export class SseParser {
  private buf = '';
  private data: string[] = [];

  /** Feeds a chunk of the stream; returns the data of every event it completed. */
  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    for (;;) {
      const nl = this.buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (this.buf[nl] === '\r' && nl === this.buf.length - 1) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + (this.buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) out.push(this.data.join('\n'));
        this.data = [];
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(line[5] === ' ' ? 6 : 5));
      }
      // comments (":…"), event:, id:, retry: — not used by the gateway's streams
    }
    return out;
  }

  /** The stream ended: an event missing only its blank line still counts. */
  end(): string[] {
    const out = this.push('\n\n');
    this.buf = '';
    return out;
  }
}

export interface ChangeEvent {
  type: 'cashu_change';
  token: string;
  change_sats: number;
  cost_sats?: number;
}

export function isChangeEvent(v: unknown): v is ChangeEvent {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'cashu_change' && typeof (v as { token?: unknown }).token === 'string';
}

/** The text an OpenAI chat stream chunk adds (delta.content of the first choice). */
export function deltaText(v: unknown): string {
  if (typeof v !== 'object' || v === null) return '';
  const choices = (v as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return '';
  const c = choices[0] as { delta?: { content?: unknown }; text?: unknown };
  if (typeof c.delta?.content === 'string') return c.delta.content;
  return typeof c.text === 'string' ? c.text : '';
}
