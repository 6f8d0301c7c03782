// Where the lines of an SSE byte stream end, shared by SseParser and SseFramer so that both
// frame a stream identically.

export const LF = 0x0a;
export const CR = 0x0d;

/**
 * Finds line ends — LF, CR or CRLF, also a CRLF split across two chunks — left to right within
 * one chunk, searching each byte at most once per terminator kind. Contract: begin() once per
 * chunk, then find() from the start of each line; after a true find(), `end` is the offset of
 * the terminator and `next` where the following line starts.
 */
export class LineEnds {
  /** The previous chunk ended with a CR line end: an LF opening the next chunk belongs to it. */
  private skipLF = false;
  /** Next LF / CR at or after the last search (-1: none left in this chunk, -2: not searched). */
  private lf = -2;
  private cr = -2;
  end = 0;
  next = 0;

  /** A CR ended the last chunk: the next chunk's first byte may still belong to that line end. */
  get pendingLF(): boolean {
    return this.skipLF;
  }

  /** Starts a chunk whose lines begin at `i`; returns where its first line really starts (past the LF of a CRLF split across chunks). */
  begin(chunk: Buffer, i: number): number {
    this.lf = -2;
    this.cr = -2;
    if (!this.skipLF) return i;
    this.skipLF = false;
    return chunk[i] === LF ? i + 1 : i;
  }

  /** The end of the line starting at `i`; false when the chunk holds none (the line goes on in the next chunk). */
  find(chunk: Buffer, i: number): boolean {
    if (this.lf !== -1 && this.lf < i) this.lf = chunk[i] === LF ? i : chunk.indexOf(LF, i); // a blank line's LF: no search
    if (this.cr !== -1 && this.cr < i) this.cr = chunk.indexOf(CR, i);
    const { lf, cr } = this;
    if (cr === -1 || (lf !== -1 && lf < cr)) {
      if (lf === -1) return false;
      this.end = lf;
      this.next = lf + 1;
    } else {
      this.end = cr;
      this.next = cr + 1;
      if (this.next === chunk.length) this.skipLF = true;
      else if (chunk[this.next] === LF) this.next++;
    }
    return true;
  }

  /** End of the stream: nothing is pending. */
  reset(): void {
    this.skipLF = false;
  }
}
