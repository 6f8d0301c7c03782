// The response side of one request: writes with backpressure, abort-aware pauses, abrupt death.
import type http from 'node:http';
import type { Reply } from './types.js';

export class Wire {
  /** The response closed (finished, client gone, or killed). */
  closed = false;
  /** The simulator destroyed the socket itself. */
  died = false;
  private unflushed = 0;
  private pendingHead: { status: number; headers: string[] } | undefined;
  private readonly wakers = new Set<() => void>();
  private readonly flushWaiters: Array<() => void> = [];

  constructor(readonly res: http.ServerResponse) {
    res.once('close', () => {
      this.closed = true;
      for (const wake of [...this.wakers]) wake();
      this.unflushed = 0;
      for (const f of this.flushWaiters.splice(0)) f();
    });
  }

  /**
   * Set status and headers. With `flush` they go out now; otherwise they are held back and go out
   * with the first write (so a failure before that can still become a plain HTTP error reply).
   */
  head(status: number, headers: ReadonlyArray<readonly [string, string]>, flush = false): void {
    if (this.closed || this.res.headersSent) return;
    if (!flush) {
      this.pendingHead = { status, headers: headers.flat() };
      return;
    }
    this.res.writeHead(status, headers.flat());
    this.res.flushHeaders();
  }

  /**
   * Write one chunk as it is produced. Returns undefined when the socket took it (the caller may
   * continue synchronously), or a promise that resolves on 'drain' or close.
   */
  write(chunk: string): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.pendingHead) {
      this.res.writeHead(this.pendingHead.status, this.pendingHead.headers);
      this.pendingHead = undefined;
    }
    this.unflushed++;
    const ok = this.res.write(chunk, () => this.onFlushed());
    if (ok) return undefined;
    return this.until((wake) => {
      this.res.once('drain', wake);
      return () => this.res.off('drain', wake);
    });
  }

  /** End the body (writes nothing more). */
  end(): void {
    if (this.closed) return;
    if (this.pendingHead) {
      this.res.writeHead(this.pendingHead.status, this.pendingHead.headers);
      this.pendingHead = undefined;
    }
    this.res.end();
  }

  /** Send a whole reply (Content-Length added unless the kind placed it itself). */
  send(reply: Reply): void {
    if (this.closed || this.res.headersSent) return;
    this.pendingHead = undefined;
    const headers: Array<readonly [string, string]> = [...reply.headers];
    if (!headers.some(([k]) => k.toLowerCase() === 'content-length')) {
      headers.push(['Content-Length', String(Buffer.byteLength(reply.body))]);
    }
    this.res.writeHead(reply.status, headers.flat());
    this.res.end(reply.body);
  }

  /** Pause ms milliseconds; resolves early when the response closes. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return this.until((wake) => {
      const t = setTimeout(wake, ms);
      return () => clearTimeout(t);
    });
  }

  /** Let every written byte reach the kernel, then destroy the socket (no terminal marker). */
  async die(): Promise<void> {
    if (this.closed) return;
    if (this.unflushed > 0) await new Promise<void>((r) => this.flushWaiters.push(r));
    this.died = true;
    this.res.socket?.destroy();
    if (!this.res.socket) this.res.destroy();
  }

  private onFlushed(): void {
    if (this.unflushed > 0) this.unflushed--;
    if (this.unflushed === 0) for (const f of this.flushWaiters.splice(0)) f();
  }

  private until(arm: (wake: () => void) => () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      let disarm: () => void = () => undefined;
      const wake = (): void => {
        this.wakers.delete(wake);
        disarm();
        resolve();
      };
      this.wakers.add(wake);
      disarm = arm(wake);
    });
  }
}
