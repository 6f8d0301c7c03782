const MAX_PARTS = 16;

/**
 * The bytes of one incomplete event or line, gathered across chunks (shared by the SSE and NDJSON parsers).
 * Holds the chunks themselves while there are few (zero-copy); past MAX_PARTS it copies into one
 * growing buffer, so tiny chunks cannot pile up Buffer objects and each byte is copied O(1) times.
 */
export class PendingBytes {
  private len = 0;
  private parts: Buffer[] = [];
  private acc: Buffer | undefined;

  get length(): number {
    return this.len;
  }

  add(piece: Buffer): void {
    const need = this.len + piece.length;
    if (this.acc === undefined) {
      if (this.parts.length < MAX_PARTS) {
        this.parts.push(piece);
        this.len = need;
        return;
      }
      this.acc = Buffer.concat(this.parts, Math.max(2 * need, 4096));
      this.parts = [];
    } else if (need > this.acc.length) {
      const grown = Buffer.allocUnsafe(2 * need);
      this.acc.copy(grown, 0, 0, this.len);
      this.acc = grown;
    }
    piece.copy(this.acc, this.len);
    this.len = need;
  }

  /** All held bytes followed by `tail`, as one Buffer; leaves this empty. */
  take(tail?: Buffer): Buffer {
    let out: Buffer;
    if (this.acc !== undefined) {
      if (tail !== undefined) this.add(tail);
      out = this.acc!.subarray(0, this.len);
    } else {
      if (tail !== undefined) this.parts.push(tail);
      const total = this.len + (tail?.length ?? 0);
      out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, total);
    }
    this.parts = [];
    this.acc = undefined;
    this.len = 0;
    return out;
  }
}
