import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Takes over an HTTP upgrade (e.g. a WebSocket); owns the socket from then on. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * The gateway's HTTP upgrade routes (plugins mount theirs, as they mount HTTP routes), and the
 * long-lived connections' part of a graceful shutdown. A request's URL may carry a secret (a
 * node's key in its query): it is never logged here.
 */
export class UpgradeRoutes {
  private readonly routes = new Map<string, UpgradeHandler>();
  private readonly drains: (() => Promise<void> | void)[] = [];

  /** Mounts a handler at an exact path (the query string is the handler's). */
  on(path: string, handler: UpgradeHandler): void {
    if (this.routes.has(path)) throw new Error(`upgrade route ${path} is mounted twice`);
    this.routes.set(path, handler);
  }

  /**
   * Runs at shutdown once no new job is taken and the running ones ended (or their grace ran
   * out), before connections are cut: tell long-lived peers to go elsewhere.
   */
  onDrain(fn: () => Promise<void> | void): void {
    this.drains.push(fn);
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const q = (req.url ?? '').indexOf('?');
    const path = q < 0 ? (req.url ?? '') : (req.url ?? '').slice(0, q);
    const handler = this.routes.get(path);
    if (!handler) return refuseUpgrade(socket, 404, 'Not Found');
    handler(req, socket, head);
  }

  async drain(): Promise<void> {
    await Promise.allSettled(this.drains.map(async (fn) => fn()));
  }
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}
