import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import type { BackendNode } from './node.js';
import type { Upstream } from './transport.js';

export type { Upstream } from './transport.js';
import { pinnedAgent } from './node-http.js';

// The only module that knows http-proxy. It sends one buffered request to one node and hands
// back the upstream response as soon as its headers arrive; the caller owns the response body.

/** Request headers that never reach a backend: hop-by-hop, the payment, the client's key. */
const STRIPPED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade',
  'transfer-encoding', 'content-length', 'expect', 'host',
  'x-cashu', 'authorization',
  // Bodies must arrive uncompressed: the gateway reads every event to meter it.
  'accept-encoding',
]);

/**
 * The only client headers an untrusted node (every provider's node) receives: what inference
 * needs. Never the buyer's cookies, keys, ecash, or anything that identifies the client
 * (Forwarded, X-Forwarded-*, X-Real-IP, Referer, Origin, User-Agent…).
 */
const FOR_UNTRUSTED = new Set(['content-type', 'accept']);

/** The connection to a node failed before any response byte arrived. */
export class ConnectError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
    this.name = 'ConnectError';
  }
}

interface Pending {
  resolve(u: Upstream): void;
  reject(e: Error): void;
  proxyReq?: ClientRequest;
  settled: boolean;
}

export class Forwarder {
  private readonly proxy = httpProxy.createProxyServer({});
  private readonly pending = new WeakMap<IncomingMessage, Pending>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
  /** Retries go out on a connection of their own, never on another pooled socket that may be stale too. */
  private readonly freshHttpAgent = new http.Agent({ keepAlive: false });
  private readonly freshHttpsAgent = new https.Agent({ keepAlive: false });

  constructor() {
    this.proxy.on('proxyReq', (proxyReq, req) => {
      const p = this.pending.get(req);
      if (p) p.proxyReq = proxyReq;
      proxyReq.setNoDelay?.(true);
    });
    this.proxy.on('proxyRes', (proxyRes, req) => {
      const p = this.pending.get(req);
      if (!p || p.settled) return;
      p.settled = true;
      const proxyReq = p.proxyReq;
      p.resolve({
        response: proxyRes,
        abort: () => {
          proxyRes.destroy();
          proxyReq?.destroy();
        },
      });
    });
  }

  /** Outgoing headers: the client's minus STRIPPED (an untrusted node: only FOR_UNTRUSTED), plus the node's own key. */
  static outgoingHeaders(clientHeaders: IncomingHttpHeaders, node: BackendNode, bodyLength: number): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = {};
    const keep = node.trustUsage ? (k: string) => !STRIPPED.has(k) : (k: string) => FOR_UNTRUSTED.has(k);
    for (const [k, v] of Object.entries(clientHeaders)) if (keep(k) && v !== undefined) out[k] = v;
    out['content-length'] = String(bodyLength);
    if (node.apiKey) out.authorization = `Bearer ${node.apiKey}`;
    return out;
  }

  /**
   * Sends body to node. Resolves when the upstream response headers arrive; rejects with
   * ConnectError when the connection fails before any response byte (the caller may try another
   * node). Any such failure is first retried once on a fresh connection of its own (the body is
   * buffered; nothing reached the client): a pooled socket the backend closed while idle (a race
   * every keep-alive client meets, often on several pooled sockets at once after a burst) or a
   * connection reset under a burst does not fail the node.
   */
  async send(node: BackendNode, req: IncomingMessage, res: ServerResponse, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> {
    try {
      return await this.sendOnce(node, req, res, headers, body, false);
    } catch (err) {
      if (!(err instanceof ConnectError) || res.destroyed) throw err;
      return this.sendOnce(node, req, res, headers, body, true);
    }
  }

  private sendOnce(node: BackendNode, req: IncomingMessage, res: ServerResponse, headers: IncomingHttpHeaders, body: Buffer, fresh: boolean): Promise<Upstream> {
    return new Promise<Upstream>((resolve, reject) => {
      const p: Pending = { resolve, reject, settled: false };
      this.pending.set(req, p);
      // http-proxy builds the outgoing request from req.headers; the caller keeps the originals.
      req.headers = headers;
      const target = node.url;
      this.proxy.web(
        req,
        res,
        {
          target,
          changeOrigin: true,
          selfHandleResponse: true,
          buffer: Readable.from([body]),
          agent: pinnedAgent(node, !fresh) ?? (target.startsWith('https:') ? (fresh ? this.freshHttpsAgent : this.httpsAgent) : fresh ? this.freshHttpAgent : this.httpAgent),
        },
        (err: Error) => {
          if (p.settled) return; // after the response began, the relay sees the failure on the response
          p.settled = true;
          p.proxyReq?.destroy();
          reject(new ConnectError(err));
        },
      );
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.freshHttpAgent.destroy();
    this.freshHttpsAgent.destroy();
    this.proxy.close();
  }
}
